//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), with the outlet under the `_tributary`
//! extension key as the spec's rule for custom fields asks.

use std::sync::Arc;

use serde::Serialize;

use super::{entry_id, Channel, Format};
use crate::store::{AlsoReported, StoredItem};

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: String,
    feed_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_modified: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
    _tributary: Extension<'a>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Extension<'a> {
    outlet: &'a str,
    outlet_name: &'a str,
    feed_url: &'a str,
    /// The other outlets that carried the story (merged feed only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    also: Vec<Also<'a>>,
    /// Other outlets' coverage of the same event thread, not the same story (merged feed only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related: Vec<Also<'a>>,
}

#[derive(Serialize)]
struct Also<'a> {
    outlet: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    score: f64,
}

impl<'a> Also<'a> {
    fn of(reported: &'a AlsoReported) -> Self {
        Also {
            outlet: &reported.outlet,
            url: reported.url.as_deref(),
            title: &reported.title,
            score: (reported.score * 100.0).round() / 100.0,
        }
    }
}

pub fn render(channel: &Channel<'_>, items: &[Arc<StoredItem>]) -> Vec<u8> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &channel.title,
        home_page_url: channel.base_url.to_string(),
        feed_url: channel.url_of(Format::Json),
        hubs: channel
            .hub
            .map(|hub| Hub {
                kind: "WebSub",
                url: hub.to_string(),
            })
            .into_iter()
            .collect(),
        items: items.iter().map(|s| item(channel, s)).collect(),
    };
    serde_json::to_vec_pretty(&feed).expect("a JSON Feed always serializes")
}

fn item<'a>(channel: &'a Channel<'_>, stored: &'a StoredItem) -> JsonItem<'a> {
    let item = &stored.item;
    let html = item.content.as_deref().or(item.summary.as_deref());
    JsonItem {
        id: entry_id(channel, stored),
        url: item.url.as_deref(),
        title: &item.title,
        content_html: html,
        // The spec requires content_html or content_text; the title is the text we always have.
        content_text: html.is_none().then_some(item.title.as_str()),
        image: item.image.as_deref(),
        date_published: stored
            .sort_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        date_modified: item
            .updated
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        authors: item.authors.iter().map(|name| Author { name }).collect(),
        tags: &item.categories,
        attachments: item
            .enclosures
            .iter()
            .map(|e| Attachment {
                url: &e.url,
                mime_type: e.mime_type.as_deref().unwrap_or("application/octet-stream"),
                size_in_bytes: e.length,
            })
            .collect(),
        _tributary: Extension {
            outlet: &item.outlet,
            outlet_name: channel.outlet_name(&item.outlet),
            feed_url: &stored.feed_url,
            also: stored.also.iter().map(Also::of).collect(),
            related: stored.related.iter().map(Also::of).collect(),
        },
    }
}
