//! The pictures and files attached to an entry: the one image that best stands for it, and
//! its enclosures (podcast audio, video, documents).

use quick_xml::events::BytesStart;
use quick_xml::XmlVersion;
use url::Url;

use crate::model::Enclosure;

/// A Media RSS `<media:content>` or an RSS `<enclosure>`: a file, perhaps an image rendition.
pub struct Media {
    url: String,
    mime: Option<String>,
    medium: Option<String>,
    is_default: bool,
    width: Option<u64>,
    height: Option<u64>,
    length: Option<u64>,
}

impl Media {
    /// Reads the file `e` describes, its address in the attribute `url_attribute`, resolved against
    /// the `xml:base` in scope.
    pub fn of(e: &BytesStart<'_>, url_attribute: &str, base: Option<&Url>) -> Option<Self> {
        let mut url = None;
        let mut media = Self {
            url: String::new(),
            mime: None,
            medium: None,
            is_default: false,
            width: None,
            height: None,
            length: None,
        };
        // One pass over the attributes: a rendition has half a dozen.
        for attribute in e.attributes().with_checks(false).flatten() {
            let Ok(value) = attribute.normalized_value(XmlVersion::Implicit1_0) else {
                continue;
            };
            let value = value.trim();
            let number = || value.parse().ok();
            let name = attribute.key.local_name().into_inner().to_ascii_lowercase();
            match name.as_str() {
                name if name == url_attribute => url = Some(value.to_owned()),
                "type" if !value.is_empty() => media.mime = Some(value.to_owned()),
                "medium" => media.medium = Some(value.to_owned()),
                "isdefault" => media.is_default = value == "true",
                "width" => media.width = number(),
                "height" => media.height = number(),
                "filesize" => media.length = number().or(media.length),
                "length" => media.length = media.length.or_else(number),
                _ => {}
            }
        }
        let url = url?;
        media.url = match base.and_then(|b| b.join(&url).ok()) {
            Some(resolved) => resolved.into(),
            None => url,
        };
        Some(media)
    }

    /// Tells whether this is an image rendition: typed or marked as one, or sized like one when the
    /// type is missing.
    fn is_image(&self) -> bool {
        match (&self.mime, &self.medium) {
            (Some(mime), _) => mime.trim().starts_with("image/"),
            (None, Some(medium)) => medium.trim() == "image",
            (None, None) => self.width.is_some(),
        }
    }
}

/// Picks the entry's image, in order of preference: the Media RSS rendition marked `isDefault`, the
/// largest image rendition or image enclosure, the first `media:thumbnail`. Unresolved.
pub fn best_image(media: &[Media], thumbnails: &[String]) -> Option<String> {
    let images = || media.iter().filter(|m| m.is_image());
    let default = images().find(|m| m.is_default);
    // By area, and by width where heights are missing (renditions that give only a width).
    let largest = || {
        images().rev().max_by_key(|m| {
            let (w, h) = (m.width.unwrap_or(0), m.height.unwrap_or(0));
            (w.saturating_mul(h), w)
        })
    };
    default
        .or_else(largest)
        .map(|m| m.url.clone())
        .or_else(|| thumbnails.first().cloned())
}

/// Picks the attached files: RSS `<enclosure>`s and Media RSS content that is not an image
/// rendition (an image with a size in bytes is a file too). Unresolved.
pub fn enclosures(media: &[Media]) -> Vec<Enclosure> {
    media
        .iter()
        .filter(|m| !m.is_image() || m.length.is_some())
        .map(|m| Enclosure {
            url: m.url.clone(),
            mime_type: m.mime.clone(),
            length: m.length,
        })
        .collect()
}

/// Finds the `src` of the first `<img>` in sanitized HTML (which ammonia writes with double quotes
/// and absolute URLs), for entries whose only picture is in their text.
pub fn first_img(html: Option<&str>) -> Option<String> {
    let html = html?;
    let tag_start = html.find("<img ")?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let src_start = tag.find(" src=\"")? + 6;
    let src = &tag[src_start..src_start + tag[src_start..].find('"')?];
    let src = html_escape::decode_html_entities(src);
    (src.starts_with("http://") || src.starts_with("https://")).then(|| src.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_image_of_the_text_is_found() {
        let html = r#"<p>Look <img alt="x" src="https://i.example/a.jpg?w=1&amp;h=2"> and <img src="https://i.example/b.jpg"></p>"#;
        assert_eq!(
            first_img(Some(html)).as_deref(),
            Some("https://i.example/a.jpg?w=1&h=2")
        );
        assert_eq!(first_img(Some("<p>no picture</p>")), None);
        assert_eq!(first_img(None), None);
    }
}
