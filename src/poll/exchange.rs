//! One request for one feed and what it brought, before anything is written: the HTTP answer,
//! and for a body not seen before, its items parsed off the async workers.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use url::Url;

use super::{PollError, Poller};
use crate::model::{hex, Item};
use crate::store::FeedState;
use crate::{dedup, parse};

pub struct Exchange {
    pub status: u16,
    pub moved_to: Option<Url>,
    pub fresh_for: Option<Duration>,
    pub body: Answer,
}

/// What one request cost: from its turn in the per-host queue to its body read, and the size
/// of that body once decompressed.
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    pub duration: Duration,
    pub bytes: u64,
}

pub enum Answer {
    NotModified,
    /// The same bytes as last time; the new validators if the server changed them.
    Unchanged(Option<FeedState>),
    New(NewBody),
}

/// A body to record: its state, and its items and problems if it was parsed.
pub struct NewBody {
    pub state: FeedState,
    pub items: Vec<Item>,
    /// What was wrong with the document and mended; `None` for the same bytes as last time,
    /// which were not parsed again.
    pub problems: Option<Vec<String>>,
}

/// Asks for `feed` at its current address and reads what changed. The clock starts when the
/// request's turn comes in the per-host queue, so waiting behind a slow neighbour is not
/// counted as this feed's time; the result carries what the exchange cost.
pub async fn exchange(
    poller: &Poller,
    outlet: &str,
    feed: &Url,
    state: &FeedState,
) -> (Result<Exchange, PollError>, Cost) {
    let fetcher = &poller.fetcher;
    let strip_tracking = poller.strip_tracking_parameters;
    let current = state
        .current_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| feed.clone());
    let slot = fetcher.slot(&current).await;
    let clock = Instant::now();
    let mut bytes = 0;
    let result = async {
        let fetched = fetcher
            .fetch(slot, &current, feed, &state.validators)
            .await?;
        let mut exchange = Exchange {
            status: fetched.status.as_u16(),
            moved_to: fetched.moved_to,
            fresh_for: fetched.fresh_for,
            body: Answer::NotModified,
        };
        if let Some(body) = fetched.body {
            bytes = body.bytes.len() as u64;
            // Hashing and parsing are CPU work: they run off the async workers.
            let (status, state, outlet) = (exchange.status, state.clone(), outlet.to_owned());
            let base = fetched.url;
            let read = move || read_body(body, &state, status, &base, &outlet, strip_tracking);
            exchange.body = poller.parsers.run(read).await??;
        }
        Ok(exchange)
    }
    .await;
    let cost = Cost {
        duration: clock.elapsed(),
        bytes,
    };
    (result, cost)
}

fn read_body(
    body: crate::fetch::Body,
    state: &FeedState,
    status: u16,
    base: &Url,
    outlet: &str,
    strip_tracking: bool,
) -> Result<Answer, PollError> {
    let mut new_state = FeedState {
        validators: body.validators,
        body_hash: Some(hex(&Sha256::digest(&body.bytes)[..16])),
        ttl: state.ttl,
        by_link: state.by_link,
        ..FeedState::default()
    };
    if new_state.body_hash == state.body_hash {
        let changed = new_state.validators != state.validators;
        return Ok(Answer::Unchanged(changed.then_some(new_state)));
    }
    let read = Reading {
        content_type: body.content_type.as_deref(),
        base: Some(base),
        outlet,
        strip_tracking,
        by_link: state.by_link,
    };
    let document = read
        .document(&body.bytes)
        .map_err(|source| PollError::Parse { status, source })?;
    new_state.ttl = document.ttl;
    if let Some(reason) = document.unreliable_guids {
        tracing::warn!(%outlet, feed = %base, reason, "the feed's GUIDs are unreliable; identifying its items by link from now on");
        new_state.by_link = true;
    }
    Ok(Answer::New(NewBody {
        state: new_state,
        items: document.items,
        problems: Some(document.notes),
    }))
}

/// How a fetched document is read: as the daemon reads a feed's body, and as `tributary
/// parse` shows it.
pub struct Reading<'a> {
    /// As served; its charset is heeded.
    pub content_type: Option<&'a str>,
    /// Where it was fetched from: relative links resolve against it.
    pub base: Option<&'a Url>,
    pub outlet: &'a str,
    /// `[polling] strip_tracking_parameters`.
    pub strip_tracking: bool,
    /// The feed's GUIDs proved unreliable before: its items are identified by link.
    pub by_link: bool,
}

/// A document read into items, one per story within it, each under its identity.
pub struct Document {
    pub items: Vec<Item>,
    pub ttl: Option<Duration>,
    /// What was wrong with the document and mended.
    pub notes: Vec<String>,
    /// Why its items are identified by link from now on, if its GUIDs proved unreliable.
    pub unreliable_guids: Option<&'static str>,
}

impl Reading<'_> {
    /// Parses `bytes`, drops tracking parameters from the links if asked, and identifies the
    /// items (by GUID, or by link) keeping one per story within the document.
    pub fn document(&self, bytes: &[u8]) -> Result<Document, parse::ParseError> {
        let mut parsed = parse::parse_feed(bytes, self.content_type, self.base, self.outlet)?;
        if self.strip_tracking {
            parse::strip_tracking_parameters(&mut parsed.items);
        }
        let (items, unreliable_guids) = dedup::identify(parsed.items, self.by_link);
        Ok(Document {
            items,
            ttl: parsed.ttl,
            notes: parsed.notes,
            unreliable_guids,
        })
    }
}
