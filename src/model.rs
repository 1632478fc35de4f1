//! The types every stage shares: an outlet's normalized [`Item`], its stable [`ItemId`], and
//! the two spellings of a link ([`link`]): the publisher's, and the canonical one identity uses.
//!
//! The field set is the public contract of `tributary parse` (one JSON object per item), so it
//! is deliberately small and format-neutral: whatever RSS, Atom or JSON Feed said, a reader of the
//! merged feed sees the same shape.

pub mod link;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One story as one outlet published it, normalized from any feed format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub outlet: String,
    /// Plain text: entities decoded, markup removed, whitespace collapsed.
    pub title: String,
    /// The publisher's link, absolute (see [`link`]), or `None` when the feed gave no
    /// usable link. Identity uses its canonical form, [`Item::canonical_url`].
    pub url: Option<String>,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub image: Option<String>,
    pub enclosures: Vec<Enclosure>,
    /// The GUID (RSS), id (Atom, JSON Feed) exactly as the feed gave it.
    pub guid: Option<String>,
}

/// How far ahead of the clock an item may be dated before its date is taken for a mistake.
const FUTURE_TOLERANCE_SECS: i64 = 3600;

/// An arriving item's place in the merged feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dated {
    /// Its publication date, or when it was first seen (see [`Item::date_on_arrival`]).
    pub sort_at: DateTime<Utc>,
    /// Its date was in the future, so it is dated when first seen instead.
    pub clamped: bool,
}

/// A media file attached to an item (podcast audio, a video, a PDF).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    #[serde(rename = "type")]
    pub mime_type: Option<String>,
    pub length: Option<u64>,
}

/// An item's identity, stable across polls, restarts and feed edits.
///
/// It is derived from the outlet and the item's identity key, never from the fetch time or a
/// random source: an id that changed between polls would make every reader show the story again.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(String);

impl ItemId {
    /// Derives the id of the item that `outlet` identifies by `key` (see [`Item::identity_key`]).
    ///
    /// ```
    /// use tributary::model::ItemId;
    ///
    /// let id = ItemId::derive("abc", "guid:https://www.abc.net.au/news/8466642");
    /// assert_eq!(id, ItemId::derive("abc", "guid:https://www.abc.net.au/news/8466642"));
    /// assert_ne!(id, ItemId::derive("newscomau", "guid:https://www.abc.net.au/news/8466642"));
    /// ```
    pub fn derive(outlet: &str, key: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(outlet.as_bytes())
            .chain_update([0])
            .chain_update(key.as_bytes())
            .finalize();
        Self(hex(&digest[..10]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ItemId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Item {
    /// Builds an item of `outlet` with only a title, identified by it: where tests and benchmarks
    /// start, setting the fields they need and then calling [`Item::identified`].
    pub fn new(outlet: &str, title: &str) -> Self {
        Item {
            id: ItemId::from(String::new()),
            outlet: outlet.to_owned(),
            title: title.to_owned(),
            url: None,
            summary: None,
            content: None,
            published: None,
            updated: None,
            authors: Vec::new(),
            categories: Vec::new(),
            image: None,
            enclosures: Vec::new(),
            guid: None,
        }
        .identified()
    }

    /// Dates an item that arrives now, first seen at `first_seen`: an undated item is dated
    /// when it was first seen, and so is one dated far ahead (a wrong zone, a scheduled post),
    /// which is not news from the future. Returns its place in the merged feed.
    pub fn date_on_arrival(&mut self, first_seen: DateTime<Utc>, now: DateTime<Utc>) -> Dated {
        let mut clamped = false;
        match self.published {
            None => self.published = Some(first_seen),
            Some(date) if date > now + chrono::Duration::seconds(FUTURE_TOLERANCE_SECS) => {
                self.published = Some(first_seen);
                clamped = true;
            }
            Some(_) => {}
        }
        Dated {
            sort_at: self.published.unwrap_or(first_seen).min(now),
            clamped,
        }
    }

    /// Returns the item with its id derived from what it now holds.
    pub fn identified(mut self) -> Self {
        self.id = ItemId::derive(&self.outlet, &self.identity_key());
        self
    }

    /// Returns what makes two sightings of an item the same item within one outlet: the GUID when
    /// the feed gives one, else the canonical link, else the title and date. Each is deterministic,
    /// so the same document always yields the same keys.
    pub fn identity_key(&self) -> String {
        match &self.guid {
            Some(guid) => format!("guid:{guid}"),
            None => self.link_identity_key(),
        }
    }

    /// Returns the identity of an item whose feed's GUIDs cannot be trusted: the canonical link
    /// with its fragment (see [`link::identity_link`]), else the title and date.
    pub fn link_identity_key(&self) -> String {
        if let Some(url) = self.url.as_deref().and_then(link::identity_link) {
            return format!("url:{url}");
        }
        let date = self.published.or(self.updated).map(|d| d.timestamp());
        format!("title:{}|{}", self.title, date.unwrap_or_default())
    }

    /// Returns the link as an identity: one spelling per article, however the feed wrote it.
    pub fn canonical_url(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        link::canonical_url(url, None).map(String::from)
    }

    /// Returns the gist of what the item says: its summary (else its content, else its title)
    /// and the media it carries. Two entries of an outlet under one link or GUID are one article
    /// re-published when their gists are the same, and two entries when they are not: a
    /// podcast's episodes that all link the show's page and share its blurb each carry their own
    /// audio.
    pub fn gist(&self) -> String {
        let text = [&self.summary, &self.content]
            .into_iter()
            .filter_map(|text| text.as_deref())
            .find(|text| !text.trim().is_empty())
            .unwrap_or(&self.title);
        let mut gist = text.to_owned();
        for enclosure in &self.enclosures {
            gist.push('\n');
            gist.push_str(&enclosure.url);
        }
        gist
    }

    /// Returns the item as the store keeps it (JSON), and a digest of it: of everything a reader
    /// sees, used to tell an edited item from an unchanged one without comparing stored text
    /// field by field.
    pub fn to_stored(&self) -> (String, String) {
        let json = serde_json::to_string(self).expect("an Item always serializes to JSON");
        let hash = hex(&Sha256::digest(json.as_bytes())[..16]);
        (json, hash)
    }
}

/// Writes `bytes` in lower-case hexadecimal, used for ids, ETags and content hashes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_outlet_and_key_only() {
        let a = ItemId::derive("abc", "guid:1");
        assert_eq!(a, ItemId::derive("abc", "guid:1"));
        assert_ne!(a, ItemId::derive("newscomau", "guid:1"));
        assert_ne!(a, ItemId::derive("abc", "guid:2"));
        assert_eq!(a.as_str().len(), 20);
    }
}
