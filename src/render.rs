//! Stored items → feed documents: RSS 2.0 (`rss`), Atom 1.0 (`atom_syndication`) and JSON
//! Feed 1.1 (`serde_json`). Pure functions of their input, so the same items always render to
//! the same bytes and the same ETag.

mod atom;
mod json;
mod rss;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use crate::store::StoredItem;

/// Where the server serves [`STYLESHEET`], below the base URL; and as its route.
pub const STYLESHEET_PATH: &str = "feed.xsl";
pub const STYLESHEET_ROUTE: &str = "/feed.xsl";

/// Turns the RSS feed into a readable page when a browser opens it; readers ignore it.
pub const STYLESHEET: &str = include_str!("render/feed.xsl");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "feed.xml",
            Format::Atom => "feed.atom",
            Format::Json => "feed.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// What a rendered feed says about itself.
pub struct Channel<'a> {
    pub title: String,
    /// The public address of the server (`[server] base_url`).
    pub base_url: &'a Url,
    /// Where this feed lives below `base_url`: `""` for the merged feed, `"outlets/abc/"` for one
    /// outlet's.
    pub path: String,
    /// Outlet id → display name, for each item's source.
    pub outlet_names: &'a HashMap<String, String>,
    /// The merged feed, one entry per story under the story's id; an outlet's own feed has
    /// one entry per item under the item's id.
    pub merged: bool,
    /// How often the items can change: the shortest polling period among the feed's outlets.
    /// Readers learn it from RSS `<ttl>` and `sy:updatePeriod`/`sy:updateFrequency`.
    pub update_every: Option<Duration>,
    /// The WebSub hub the feed advertises (`[server] websub_hub`), so that subscribers that
    /// speak WebSub are pushed each change instead of polling.
    pub hub: Option<&'a Url>,
}

/// Builds the public address of `path` (relative, such as `outlets/abc/feed.xml`) below `base`, the
/// server's `[server] base_url`.
pub fn public_url(base: &Url, path: &str) -> String {
    base.join(path)
        .map_or_else(|_| format!("{base}{path}"), String::from)
}

impl Channel<'_> {
    fn url_of(&self, format: Format) -> String {
        public_url(
            self.base_url,
            &format!("{}{}", self.path, format.file_name()),
        )
    }

    /// Returns the address of the XSLT stylesheet that shows the RSS feed as a page in a browser.
    fn stylesheet_url(&self) -> String {
        public_url(self.base_url, STYLESHEET_PATH)
    }

    fn outlet_name<'s>(&'s self, outlet: &'s str) -> &'s str {
        self.outlet_names.get(outlet).map_or(outlet, String::as_str)
    }

    /// Tells when the newest change among `items` happened: the feed's own update time, so that it
    /// stays the same for as long as the items do.
    fn updated(items: &[Arc<StoredItem>]) -> DateTime<Utc> {
        items
            .iter()
            .map(|s| s.modified_at)
            .max()
            .unwrap_or_default()
    }
}

/// Builds the id every format gives an entry; also what a downstream aggregator keys on. A story's
/// id is the id of its first item, so it never changes whichever copy is shown.
fn entry_id(channel: &Channel<'_>, stored: &StoredItem) -> String {
    let id = if channel.merged {
        &stored.story
    } else {
        &stored.item.id
    };
    format!("urn:tributary:item:{id}")
}

pub fn render(format: Format, channel: &Channel<'_>, items: &[Arc<StoredItem>]) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(channel, items),
        Format::Atom => atom::render(channel, items),
        Format::Json => json::render(channel, items),
    }
}

#[cfg(test)]
mod tests;
