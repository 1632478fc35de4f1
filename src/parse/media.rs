//! The pictures and files attached to an entry: the one image that best stands for it, and
//! its enclosures (podcast audio, video, documents).

use std::collections::HashSet;

use feed_rs::model::{Entry, MediaContent};

use crate::model::Enclosure;

/// The entry's image, in order of preference: the Media RSS rendition marked `isDefault`
/// (collected in `defaults`, which `feed-rs` does not keep), the largest image rendition or
/// image enclosure, a thumbnail (Media RSS or `itunes:image`). Unresolved.
pub fn best_image(entry: &Entry, defaults: &HashSet<String>) -> Option<String> {
    let media: Vec<&MediaContent> = entry.media.iter().flat_map(|m| &m.content).collect();
    let url = |m: &&MediaContent| m.url.as_ref().map(|u| u.to_string());
    let images = || media.iter().filter(|m| is_image(m));
    let default = images().filter_map(url).find(|u| defaults.contains(u));
    // By area, and by width where heights are missing (renditions that give only a width).
    let largest = || {
        images()
            .rev()
            .max_by_key(|m| {
                let (w, h) = (
                    u64::from(m.width.unwrap_or(0)),
                    u64::from(m.height.unwrap_or(0)),
                );
                (w * h, w)
            })
            .and_then(url)
    };
    let thumbnail = || {
        entry
            .media
            .iter()
            .flat_map(|m| &m.thumbnails)
            .map(|t| t.image.uri.clone())
            .next()
    };
    default.or_else(largest).or_else(thumbnail)
}

/// An image rendition: typed as one, or sized like one when the type is missing.
fn is_image(media: &&MediaContent) -> bool {
    match &media.content_type {
        Some(mime) => mime.ty() == "image",
        None => media.width.is_some(),
    }
}

/// Attached files: RSS `<enclosure>`s and Media RSS content that is not an image rendition
/// (`feed-rs` reads both into one media model), and Atom `rel="enclosure"` links. Unresolved.
pub fn enclosures(entry: &Entry) -> Vec<Enclosure> {
    let from_media = entry
        .media
        .iter()
        .flat_map(|m| &m.content)
        .filter(|m| !is_image(m) || m.size.is_some())
        .filter_map(|m| {
            Some(Enclosure {
                url: m.url.as_ref()?.to_string(),
                mime_type: m.content_type.as_ref().map(ToString::to_string),
                length: m.size,
            })
        });
    let from_links = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .map(|l| Enclosure {
            url: l.href.clone(),
            mime_type: l.media_type.clone(),
            length: l.length,
        });
    from_media.chain(from_links).collect()
}

/// The `src` of the first `<img>` in sanitized HTML (which ammonia writes with double quotes
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
