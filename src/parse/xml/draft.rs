//! One entry as the reader gathers it, element by element, and the [`Entry`] it becomes: which
//! element stands in for which when the usual one is missing (`dc:title` for a title, an Atom
//! id that is a URL for a link, `dcterms:issued` for a date).

use base64::Engine;
use chrono::{DateTime, Utc};
use quick_xml::events::BytesStart;
use quick_xml::XmlVersion;
use url::Url;

use super::names::Family::{self, *};
use crate::model::Enclosure;
use crate::parse::media;
use crate::parse::{dates, Body, Entry};

/// What a captured element's text is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Title,
    DcTitle,
    MediaTitle,
    Link,
    Guid,
    AtomId,
    Summary,
    Content,
    PubDate,
    DcDate,
    Published,
    Issued,
    Updated,
    Author,
    Creator,
    ItunesAuthor,
    Category,
    PersonName,
    PersonEmail,
    SiteLink,
    Ttl,
}

/// How a captured element's content reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Plain text.
    Text,
    /// HTML, escaped in the XML (RSS, Atom `type="html"`).
    Html,
    /// Markup written as XML (Atom `type="xhtml"`): child elements are kept as tags.
    Markup,
    /// Base64 (Atom 0.3 `mode="base64"`, or a type that is neither text nor XML).
    Base64,
}

impl Kind {
    /// Reads an Atom text construct's kind from its `type` and (Atom 0.3) `mode`.
    fn of_atom(e: &BytesStart<'_>) -> Kind {
        match attribute(e, "mode").as_deref() {
            Some("base64") => return Kind::Base64,
            Some("escaped") => return Kind::Html,
            _ => {}
        }
        let kind = attribute(e, "type").map(|t| t.to_ascii_lowercase());
        match kind.as_deref().map(str::trim) {
            None | Some("" | "text" | "text/plain") => Kind::Text,
            Some("html" | "text/html") => Kind::Html,
            Some("xhtml") => Kind::Markup,
            Some(t) if t.ends_with("+xml") || t.ends_with("/xml") => Kind::Markup,
            Some(t) if t.starts_with("text/") => Kind::Text,
            Some(_) => Kind::Base64,
        }
    }

    /// Returns the text as it reads: decoded when it is Base64 (kept as it is when it is not).
    pub fn finish(self, text: String) -> String {
        if self != Kind::Base64 {
            return text;
        }
        let compact: String = text.split_whitespace().collect();
        match base64::engine::general_purpose::STANDARD.decode(compact) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => text,
        }
    }

    fn is_html(self) -> bool {
        self != Kind::Text
    }
}

/// An Atom `<author>`: a name, else an address.
#[derive(Default)]
pub struct Person {
    name: Option<String>,
    email: Option<String>,
}

impl Person {
    pub fn take(&mut self, field: Field, text: String) {
        let text = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        match field {
            Field::PersonName => self.name = self.name.take().or(text),
            _ => self.email = self.email.take().or(text),
        }
    }

    pub fn into_name(self) -> Option<String> {
        self.name.or(self.email)
    }
}

#[derive(Default)]
pub struct Draft {
    title: Option<Body>,
    dc_title: Option<String>,
    media_title: Option<Body>,
    link: Option<String>,
    alternate: Option<String>,
    cdf_href: Option<String>,
    rdf_about: Option<String>,
    guid: Option<String>,
    /// The GUID may serve as the link (RSS `isPermaLink` is not `false`).
    permalink: bool,
    atom_id: Option<String>,
    /// The Atom id resolved against the `xml:base` in scope: the link when there is no other.
    id_link: Option<String>,
    summary: Option<Body>,
    content: Option<Body>,
    summary_base: Option<Url>,
    content_base: Option<Url>,
    pub_date: Option<DateTime<Utc>>,
    dc_date: Option<DateTime<Utc>>,
    published: Option<DateTime<Utc>>,
    issued: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    itunes_author: Option<String>,
    categories: Vec<String>,
    media: Vec<media::Media>,
    thumbnails: Vec<String>,
    itunes_image: Option<String>,
    enclosures: Vec<Enclosure>,
}

impl Draft {
    /// Takes what the entry's own element says in its attributes: CDF's `HREF` and `LASTMOD`, RSS
    /// 1.0's `rdf:about`.
    pub fn open_entry(&mut self, e: &BytesStart<'_>, base: Option<&Url>) {
        self.cdf_href = attribute(e, "href").map(|href| resolve(&href, base));
        self.rdf_about = attribute(e, "about");
        self.updated = attribute(e, "lastmod").and_then(|d| dates::parse_date(&d));
    }

    /// Opens an element directly in the entry (or in its `media:group`), telling what its text is
    /// wanted for, if anything; what it says in attributes is taken here.
    pub fn open(
        &mut self,
        family: Family,
        name: &str,
        e: &BytesStart<'_>,
        base: Option<Url>,
    ) -> Option<(Field, Kind)> {
        let text = |field| Some((field, Kind::Text));
        let html = |field| Some((field, Kind::Html));
        match (family, name) {
            (Rss, "title") => html(Field::Title),
            (Atom, "title") => Some((Field::Title, Kind::of_atom(e))),
            (Dc, "title") => html(Field::DcTitle),
            (Media, "title") => match attribute(e, "type").as_deref() {
                Some("html") => html(Field::MediaTitle),
                _ => text(Field::MediaTitle),
            },
            (Rss | Atom, "link") if attribute(e, "href").is_some() => {
                self.link_element(e, base.as_ref());
                None
            }
            (Rss, "link") => text(Field::Link),
            (Rss, "guid") => {
                self.permalink = attribute(e, "ispermalink")
                    .is_none_or(|p| !p.trim().eq_ignore_ascii_case("false"));
                text(Field::Guid)
            }
            (Atom, "id") => text(Field::AtomId),
            (Rss, "description" | "abstract") => html(Field::Summary),
            (Atom, "summary") => Some((Field::Summary, Kind::of_atom(e))),
            (Content, "encoded") => html(Field::Content),
            (Atom, "content") if attribute(e, "src").is_none() => {
                Some((Field::Content, Kind::of_atom(e)))
            }
            (Rss, "pubdate") => text(Field::PubDate),
            (Dc, "date") => text(Field::DcDate),
            // Atom 1.0's names, which RSS feeds borrow unprefixed too.
            (Atom | Rss, "published") => text(Field::Published),
            (Atom | Rss, "updated") | (Atom, "modified") | (DcTerms, "modified") => {
                text(Field::Updated)
            }
            (Atom, "issued" | "created") | (DcTerms, "issued" | "created") => text(Field::Issued),
            (Rss, "author") => text(Field::Author),
            (Dc, "creator") => text(Field::Creator),
            (Itunes, "author") => text(Field::ItunesAuthor),
            (Rss, "category") | (Dc, "subject") => text(Field::Category),
            (Atom, "category") => {
                let label = attribute(e, "label").or_else(|| attribute(e, "term"));
                self.categories
                    .extend(label.filter(|l| !l.trim().is_empty()));
                None
            }
            (Rss, "enclosure") => {
                self.media.extend(media::Media::of(e, "url", base.as_ref()));
                None
            }
            (Media, "content") => {
                self.media.extend(media::Media::of(e, "url", base.as_ref()));
                None
            }
            (Media, "thumbnail") => {
                self.thumbnails
                    .extend(attribute(e, "url").map(|u| resolve(&u, base.as_ref())));
                None
            }
            (Itunes, "image") => {
                let href = attribute(e, "href").map(|u| resolve(&u, base.as_ref()));
                self.itunes_image = self.itunes_image.take().or(href);
                None
            }
            _ => None,
        }
    }

    /// Takes an Atom link (or `atom:link` in RSS): the page, or an enclosure.
    fn link_element(&mut self, e: &BytesStart<'_>, base: Option<&Url>) {
        let Some(href) = attribute(e, "href") else {
            return;
        };
        let href = resolve(&href, base);
        match attribute(e, "rel").as_deref().map(str::trim) {
            None | Some("" | "alternate") => {
                self.alternate = self.alternate.take().or(Some(href));
            }
            Some("enclosure") => self.enclosures.push(Enclosure {
                url: href,
                mime_type: attribute(e, "type"),
                length: attribute(e, "length").and_then(|l| l.trim().parse().ok()),
            }),
            Some(_) => {}
        }
    }

    /// Takes a captured element's text, `base` the `xml:base` in scope of it.
    pub fn take(&mut self, field: Field, kind: Kind, text: String, base: Option<&Url>) {
        let trimmed = text.trim();
        let first = |slot: &mut Option<String>| {
            if slot.is_none() && !trimmed.is_empty() {
                *slot = Some(trimmed.to_owned());
            }
        };
        let date = || dates::parse_date(trimmed);
        let body = || Body {
            is_html: kind.is_html(),
            text: text.clone(),
        };
        match field {
            Field::Title => self.title = self.title.take().or_else(|| Some(body())),
            Field::DcTitle => first(&mut self.dc_title),
            Field::MediaTitle => {
                self.media_title = self.media_title.take().or_else(|| Some(body()))
            }
            Field::Link if self.link.is_none() && !trimmed.is_empty() => {
                self.link = Some(resolve(trimmed, base));
            }
            Field::Guid => first(&mut self.guid),
            Field::AtomId if self.atom_id.is_none() && !trimmed.is_empty() => {
                self.atom_id = Some(trimmed.to_owned());
                self.id_link = Some(resolve(trimmed, base));
            }
            Field::Summary if self.summary.is_none() => {
                self.summary = Some(body());
                self.summary_base = base.cloned();
            }
            Field::Content if self.content.is_none() => {
                self.content = Some(body());
                self.content_base = base.cloned();
            }
            Field::PubDate => self.pub_date = self.pub_date.or_else(date),
            Field::DcDate => self.dc_date = self.dc_date.or_else(date),
            Field::Published => self.published = self.published.or_else(date),
            Field::Issued => self.issued = self.issued.or_else(date),
            // The last `updated` is the latest word, as feedparser reads it.
            Field::Updated => self.updated = date().or(self.updated),
            Field::Author => self.authors.extend(rss_author(trimmed)),
            Field::Creator if !trimmed.is_empty() => self.authors.push(trimmed.to_owned()),
            Field::ItunesAuthor => first(&mut self.itunes_author),
            Field::Category if !trimmed.is_empty() => self.categories.push(trimmed.to_owned()),
            _ => {}
        }
    }

    /// Tells whether the entry has a title and a link, read whole.
    pub fn has_title_and_link(&self) -> bool {
        let titled = self.title.is_some() || self.dc_title.is_some() || self.media_title.is_some();
        let linked = [&self.link, &self.alternate, &self.cdf_href, &self.id_link]
            .iter()
            .any(|link| link.is_some());
        titled && linked
    }

    /// Tells whether the entry's GUID (or Atom id) was read.
    pub fn has_guid(&self) -> bool {
        self.guid.is_some() || self.atom_id.is_some()
    }

    pub fn into_entry(self) -> Entry {
        // An id is a link only where it reads as one once resolved: `tag:` and `urn:` ids
        // never do, relative ones (against the rules, but written) do, as feedparser reads them.
        let link = self
            .link
            .or(self.alternate)
            .or(self.cdf_href)
            .or(self.id_link)
            .or(self.rdf_about);
        let guid_is_permalink = self.guid.is_some() && self.permalink;
        let mut authors = self.authors;
        if authors.is_empty() {
            authors.extend(self.itunes_author);
        }
        let title = self.title.or_else(|| {
            self.dc_title
                .map(|text| Body {
                    text,
                    is_html: true,
                })
                .or(self.media_title)
        });
        let mut enclosures = media::enclosures(&self.media);
        enclosures.extend(self.enclosures);
        Entry {
            title,
            link,
            guid: self.guid.or(self.atom_id),
            guid_is_permalink,
            summary: self.summary,
            content: self.content,
            published: self
                .pub_date
                .or(self.dc_date)
                .or(self.published)
                .or(self.issued),
            updated: self.updated,
            authors,
            categories: self.categories,
            image: media::best_image(&self.media, &self.thumbnails).or(self.itunes_image),
            enclosures,
            html_base: self.content_base.or(self.summary_base),
        }
    }
}

/// Reads the name in an RSS `<author>`. RSS `<author>` is an address, often with the name in
/// parentheses: "jane@example.com (Jane Doe)" is Jane Doe.
fn rss_author(text: &str) -> Option<String> {
    let name = match (text.find('('), text.rfind(')')) {
        (Some(open), Some(close)) if open < close => text[open + 1..close].trim(),
        _ => text,
    };
    Some(name.to_owned()).filter(|n| !n.is_empty())
}

/// Resolves `href` against the `xml:base` in scope, when there is one.
fn resolve(href: &str, base: Option<&Url>) -> String {
    let href = href.trim();
    match base.and_then(|base| base.join(href).ok()) {
        Some(resolved) => resolved.into(),
        None => href.to_owned(),
    }
}

/// Reads the value of the attribute named `name` (its local name, compared without case),
/// unescaped.
pub fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|a| {
            let key = a.key.into_inner();
            key.eq_ignore_ascii_case(name)
                || a.key.local_name().into_inner().eq_ignore_ascii_case(name)
        })
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}
