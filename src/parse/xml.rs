//! RSS 0.9x, 1.0 and 2.0, Atom 0.3 and 1.0 (and CDF's items), read in one pass of
//! `quick-xml` over the mended text (see [`repair`]), the way Miniflux's per-format readers sit
//! over their XML library. It keeps what it can: an element it does not know is skipped, an
//! entry that is odd costs at most itself, and a document broken or cut off part-way keeps the
//! entries before the break (and the one it breaks in, when enough of it was read), with the
//! break noted.

mod draft;
mod names;

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use url::Url;

use self::draft::{Draft, Field, Kind, Person};
use self::names::{family, Family};
use super::{repair, Document, Entry, ParseError};

pub(super) fn read(
    text: &str,
    feed_url: Option<&Url>,
    notes: &mut Vec<String>,
) -> Result<Document, ParseError> {
    let repaired = repair::repair(text);
    notes.extend(repaired.notes.iter().map(|n| n.to_string()));
    let mut reader = NsReader::from_str(&repaired.text);
    reader.config_mut().check_end_names = false;
    let mut reading = Reading::new(feed_url);
    let mut broken = None;
    loop {
        let (resolved, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(error) if reading.root.is_some() => {
                let at = reader.error_position();
                let cut_off = usize::try_from(reader.buffer_position())
                    .is_ok_and(|read| read >= repaired.text.len());
                broken = (!cut_off).then(|| format!("the XML breaks at byte {at}: {error}"));
                break;
            }
            Err(error) => return Err(ParseError::Xml(error.to_string())),
        };
        match event {
            Event::Start(e) => reading.start(&resolved, &e, false)?,
            Event::Empty(e) => {
                reading.start(&resolved, &e, true)?;
                reading.end(e.local_name().into_inner(), true);
            }
            Event::End(e) => reading.end(e.local_name().into_inner(), false),
            // Text outside the elements read is skipped unread.
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)
                if reading.capture.is_none() => {}
            Event::Text(t) => reading.text(&t.xml10_content(), Piece::Text),
            Event::CData(t) => reading.text(&t.into_inner(), Piece::CData),
            Event::GeneralRef(r) => {
                let reference = format!("&{};", r.into_inner());
                reading.text(&reference, Piece::Reference);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let read_up_to = match reading.keep_cut_entry() {
        true => "read up to its last item, kept cut off with its title and link",
        false => "read up to its last complete item",
    };
    match broken {
        Some(broken) => notes.push(format!("{broken}; {read_up_to}")),
        None if !reading.open.is_empty() => {
            notes.push(format!("the document ends mid-way; {read_up_to}"));
        }
        None => {}
    }
    reading.into_document()
}

/// How a piece of text came: as text (escaped where it must be), a reference, or CDATA.
#[derive(Clone, Copy)]
enum Piece {
    Text,
    Reference,
    CData,
}

/// An element open at some point of the document.
struct Open {
    family: Family,
    known: Known,
    /// The `xml:base` in scope, when the document set one.
    base: Option<Url>,
}

/// The elements whose children are read differently.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    Channel,
    Group,
    Author,
    Other,
}

impl Known {
    fn of(name: &str) -> Self {
        match name {
            "channel" => Known::Channel,
            "group" => Known::Group,
            "author" => Known::Author,
            _ => Known::Other,
        }
    }
}

/// Returns an element's local name, lower-cased (CDF spells its names in capitals), borrowed when
/// it is lower-case already, as nearly every name is.
fn lower_case(name: &str) -> Cow<'_, str> {
    match name.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(name.to_ascii_lowercase()),
        false => Cow::Borrowed(name),
    }
}

/// Text being gathered for a field, until the element that holds it closes.
struct Capture {
    field: Field,
    kind: Kind,
    /// How many elements are open inside it, the holder included.
    depth: usize,
    text: String,
}

impl Capture {
    /// Begins a capture at the element that holds the text.
    fn of(field: Field, kind: Kind) -> Self {
        Self {
            field,
            kind,
            depth: 1,
            text: String::new(),
        }
    }
}

struct Reading<'a> {
    feed_url: Option<&'a Url>,
    /// The root element's name, once read.
    root: Option<String>,
    /// Whether unprefixed names are Atom's (the root is `<feed>` or `<entry>`).
    atom: bool,
    open: Vec<Open>,
    capture: Option<Capture>,
    /// The entry being read, and how many elements were open when it began.
    entry: Option<(Draft, usize)>,
    entries: Vec<Entry>,
    /// An Atom `<author>` being read (the entry's, or the feed's outside an entry).
    person: Option<Person>,
    feed_authors: Vec<String>,
    site: Option<Url>,
    ttl: Option<u64>,
}

impl<'a> Reading<'a> {
    fn new(feed_url: Option<&'a Url>) -> Self {
        Self {
            feed_url,
            root: None,
            atom: false,
            open: Vec::new(),
            capture: None,
            entry: None,
            entries: Vec::new(),
            person: None,
            feed_authors: Vec::new(),
            site: None,
            ttl: None,
        }
    }

    fn start(
        &mut self,
        resolved: &ResolveResult<'_>,
        e: &BytesStart<'_>,
        empty: bool,
    ) -> Result<(), ParseError> {
        let local = e.local_name();
        let name = lower_case(local.into_inner());
        let name = name.as_ref();
        if let Some(capture) = &mut self.capture {
            capture.depth += 1;
            if capture.kind == Kind::Markup {
                capture.text.push('<');
                capture.text.push_str(e);
                capture.text.push_str(if empty { "/>" } else { ">" });
            }
            self.push(Family::Other, name, e);
            return Ok(());
        }
        if self.root.is_none() {
            if !matches!(name, "rss" | "rdf" | "feed" | "channel" | "entry") {
                return Err(ParseError::NotAFeed(name.to_owned()));
            }
            self.atom = matches!(name, "feed" | "entry");
            self.root = Some(name.to_owned());
        }
        let family = family(resolved, self.atom);
        self.push(family, name, e);
        let depth = self.open.len();
        let parent = depth.checked_sub(2).map(|i| self.open[i].known);
        match &mut self.entry {
            Some((draft, entry_depth)) => {
                let within = depth - *entry_depth;
                // Media RSS elements count wherever they nest (a thumbnail in a video's
                // `media:content`, renditions in a `media:group`).
                let media = family == Family::Media || within == 2 && parent == Some(Known::Group);
                let in_person = self.person.is_some() && within == 2;
                if within == 1 || media {
                    let base = self.open.last().and_then(|o| o.base.clone());
                    if let Some((field, kind)) = draft.open(family, name, e, base) {
                        self.capture = Some(Capture::of(field, kind));
                    } else if family == Family::Atom && name == "author" {
                        self.person = Some(Person::default());
                    }
                } else if in_person {
                    self.capture_person(family, name);
                }
            }
            None => self.start_outside_entry(family, name, e, depth),
        }
        Ok(())
    }

    /// Opens an element outside every entry: an entry beginning, or the feed's own link, `ttl` or
    /// author.
    fn start_outside_entry(
        &mut self,
        family: Family,
        name: &str,
        e: &BytesStart<'_>,
        depth: usize,
    ) {
        let parent = depth.checked_sub(2).map(|i| self.open[i].known);
        let base = self.open[depth - 1].base.clone();
        match (family, name) {
            (Family::Rss | Family::Atom, "item" | "entry") => {
                let mut draft = Draft::default();
                draft.open_entry(e, base.as_ref());
                self.entry = Some((draft, depth));
            }
            (Family::Rss, "link") if parent == Some(Known::Channel) => {
                self.capture = Some(Capture::of(Field::SiteLink, Kind::Text));
            }
            (Family::Rss, "ttl") if parent == Some(Known::Channel) => {
                self.capture = Some(Capture::of(Field::Ttl, Kind::Text));
            }
            (Family::Atom, "link") if depth == 2 => {
                let rel = draft::attribute(e, "rel");
                if rel.as_deref().is_none_or(|r| r == "alternate") {
                    let href = draft::attribute(e, "href").unwrap_or_default();
                    let resolved = match base.as_ref().or(self.feed_url) {
                        Some(base) => base.join(&href).ok(),
                        None => Url::parse(&href).ok(),
                    };
                    self.site = self.site.take().or(resolved);
                }
            }
            (Family::Atom, "author") if depth == 2 => self.person = Some(Person::default()),
            (Family::Atom, "name" | "email") if self.person.is_some() && depth == 3 => {
                self.capture_person(family, name);
            }
            _ => {}
        }
    }

    fn capture_person(&mut self, family: Family, name: &str) {
        let field = match (family, name) {
            (Family::Atom, "name") => Field::PersonName,
            (Family::Atom, "email") => Field::PersonEmail,
            _ => return,
        };
        self.capture = Some(Capture::of(field, Kind::Text));
    }

    fn push(&mut self, family: Family, name: &str, e: &BytesStart<'_>) {
        let parent = self.open.last().and_then(|o| o.base.clone());
        // Looked for only where the tag spells it: most elements have no attributes at all.
        // CDF's own `BASE` does what `xml:base` does.
        let spelled = e.contains("base=") || e.contains("BASE=");
        let own = spelled.then(|| match self.root.as_deref() {
            Some("channel") => draft::attribute(e, "base"),
            _ => draft::attribute(e, "xml:base"),
        });
        let base = match own.flatten() {
            Some(own) => match parent.as_ref().or(self.feed_url) {
                Some(parent) => parent.join(&own).ok(),
                None => Url::parse(&own).ok(),
            },
            None => parent,
        };
        self.open.push(Open {
            family,
            known: Known::of(name),
            base,
        });
    }

    /// Closes the innermost element (`empty`: one written `<name/>`, closed where it opened).
    fn end(&mut self, name: &str, empty: bool) {
        let Some(closed) = self.open.pop() else {
            return;
        };
        if let Some(capture) = &mut self.capture {
            capture.depth -= 1;
            if capture.depth > 0 {
                if capture.kind == Kind::Markup && !empty {
                    capture.text.push_str("</");
                    capture.text.push_str(name);
                    capture.text.push('>');
                }
                return;
            }
            if let Some(capture) = self.capture.take() {
                self.finish(capture, closed.base.as_ref());
            }
            return;
        }
        let depth = self.open.len();
        if closed.family == Family::Atom && closed.known == Known::Author {
            if let Some(person) = self.person.take() {
                match &mut self.entry {
                    Some((draft, _)) => draft.authors.extend(person.into_name()),
                    None => self.feed_authors.extend(person.into_name()),
                }
            }
        }
        if let Some((_, entry_depth)) = &self.entry {
            if depth < *entry_depth {
                if let Some((draft, _)) = self.entry.take() {
                    self.entries.push(draft.into_entry());
                }
            }
        }
    }

    fn text(&mut self, text: &str, piece: Piece) {
        let Some(capture) = &mut self.capture else {
            return;
        };
        match (capture.kind, piece) {
            // Markup kept as markup: a reference stays one, text is escaped already, CDATA
            // is not.
            (Kind::Markup, Piece::CData) => capture.text.push_str(&html_escape::encode_text(text)),
            (Kind::Markup, _) | (_, Piece::Text | Piece::CData) => capture.text.push_str(text),
            (_, Piece::Reference) => capture
                .text
                .push_str(&html_escape::decode_html_entities(text)),
        }
    }

    fn finish(&mut self, capture: Capture, base: Option<&Url>) {
        let text = capture.kind.finish(capture.text);
        match capture.field {
            Field::SiteLink => {
                let link = text.trim();
                let resolved = match base.or(self.feed_url) {
                    Some(base) => base.join(link).ok(),
                    None => Url::parse(link).ok(),
                };
                self.site = self.site.take().or(resolved);
            }
            Field::Ttl => self.ttl = text.trim().parse().ok(),
            Field::PersonName | Field::PersonEmail => {
                if let Some(person) = &mut self.person {
                    person.take(capture.field, text);
                }
            }
            field => {
                if let Some((draft, _)) = &mut self.entry {
                    draft.take(field, capture.kind, text, base);
                }
            }
        }
    }

    /// Keeps the entry the document ended in when its title and link were read whole, as
    /// feedparser does: a reader can show and follow it. Its GUID must have been read too,
    /// unless the entries read whole before it had none: the next poll, whole again, must find
    /// it by the identity it will have then, and update it instead of storing it twice. Without
    /// a title and a link it is dropped: nothing would tell a reader what it is.
    fn keep_cut_entry(&mut self) -> bool {
        let without_guids =
            !self.entries.is_empty() && self.entries.iter().all(|entry| entry.guid.is_none());
        let whole_enough =
            |draft: &Draft| draft.has_title_and_link() && (draft.has_guid() || without_guids);
        let Some((draft, _)) = self.entry.take_if(|(draft, _)| whole_enough(draft)) else {
            return false;
        };
        self.entries.push(draft.into_entry());
        true
    }

    fn into_document(self) -> Result<Document, ParseError> {
        if self.root.is_none() {
            return Err(ParseError::NoElement);
        }
        let feed_authors = self.feed_authors;
        let entries = self
            .entries
            .into_iter()
            .map(|mut entry| {
                if entry.authors.is_empty() {
                    entry.authors = feed_authors.clone();
                }
                entry
            })
            .collect();
        Ok(Document {
            entries,
            ttl: self
                .ttl
                .map(|minutes| std::time::Duration::from_secs(minutes.saturating_mul(60))),
            site: self.site,
        })
    }
}
