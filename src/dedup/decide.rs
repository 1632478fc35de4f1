//! The decision for one incoming item: which item in the window, if any, is the same story —
//! from another outlet, a copy; from the same outlet, a re-publication under a new GUID — and
//! which other outlets' items are related coverage of the same event thread. The store only
//! records what is decided here.

use std::collections::HashSet;

use super::window::{Candidate, Window};
use super::{measure, Features, Model, Sketch};

/// The most candidates scored per incoming item: the copy of a story, when there is one, is
/// among the first few by shared rarity.
const MAX_CANDIDATES: usize = 8;

/// How many of the incoming item's rarest terms are looked up: a re-angled copy shares a
/// handful of rare names and words, and the common ones would only bring more of the same.
const TERMS_LOOKED_UP: usize = 16;

/// How many of the most recent items sharing one term are looked at.
const POSTINGS_PER_TERM: usize = 64;

/// How much of their text, weighted by rarity, an item and an earlier one of the same outlet
/// share at least for it to be a re-publication of that item (the same article edited: a
/// headline reworded, a sentence added) rather than the outlet's next article on the event.
const REPUBLISHED_WORDS: f64 = 0.5;

/// The most related items kept per incoming item.
const MAX_RELATED: usize = 3;

/// An item about to be stored, as dedup sees it.
pub struct Incoming<'a> {
    pub id: &'a str,
    pub outlet: &'a str,
    /// Its canonical link.
    pub url: Option<&'a str>,
    /// Its place in the feed (Unix time).
    pub dated: i64,
    pub sketch: &'a Sketch,
    /// Ids and links of the items of the document it came in: never re-publications of it (a
    /// story and its live blog are both in the feed at once).
    pub siblings: &'a HashSet<&'a str>,
}

/// How items become stories: the model and where its probability decides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub model: Model,
    /// The probability from which two items are one story.
    pub threshold: f64,
    /// The probability from which another outlet's item that is not the same story is linked
    /// as related coverage.
    pub related: f64,
    /// How far apart in time two items may be and still be compared.
    pub window_hours: u32,
}

/// An item in the window and how it compares with the incoming one.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub id: String,
    pub outlet: String,
    pub story: String,
    pub score: f64,
    pub features: Features,
}

/// What dedup decided for one incoming item.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// The best-scoring item from the threshold on: the same story.
    pub same: Option<Match>,
    /// Other outlets' items from the related threshold on, in other stories, best first.
    pub related: Vec<Match>,
}

impl Window {
    /// Finds the places of the items `sketch` is compared with, first seen since `since`: what
    /// [`Window::decide`] scores, and what the model is fitted on.
    pub fn candidates_of(&mut self, sketch: &Sketch, since: i64) -> Vec<usize> {
        self.candidates(
            sketch,
            since,
            TERMS_LOOKED_UP,
            POSTINGS_PER_TERM,
            MAX_CANDIDATES,
        )
    }

    /// Compares `incoming` with its candidates (first seen since `since`, dated within the
    /// window) and decides.
    pub fn decide(&mut self, incoming: &Incoming<'_>, since: i64, policy: &Policy) -> Decision {
        let places = self.candidates_of(incoming.sketch, since);
        let mut scored = self.score(incoming, &places, policy);
        // Best first; between equal scores, by id, so that the order of arrival decides nothing.
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.candidate.id.cmp(&b.candidate.id))
        });
        choose(incoming, scored, policy)
    }

    /// Measures and scores each candidate at `places` against `incoming`, leaving out the
    /// item itself, its siblings in the document and items further apart than the window.
    fn score<'w>(
        &'w self,
        incoming: &Incoming<'_>,
        places: &[usize],
        policy: &Policy,
    ) -> Vec<Scored<'w>> {
        let rarity = self.rarity(false);
        // The incoming item's terms are in every measure: their rarity is found once.
        let own: Vec<(u32, f64)> = incoming
            .sketch
            .terms()
            .iter()
            .map(|&term| (term, rarity.of(term)))
            .collect();
        let rarity_of = |term: u32| match own.binary_search_by_key(&term, |&(t, _)| t) {
            Ok(i) => own[i].1,
            Err(_) => rarity.of(term),
        };
        let mut scored = Vec::with_capacity(places.len());
        for &place in places {
            let candidate = self.entry(place);
            let hours_apart = (incoming.dated - candidate.dated).abs() as f64 / 3600.0;
            let url = candidate.url.as_deref();
            let same_outlet = *candidate.outlet == *incoming.outlet;
            let sibling = same_outlet
                && (incoming.siblings.contains(&*candidate.id)
                    || url.is_some_and(|u| incoming.siblings.contains(u)));
            if *candidate.id == *incoming.id
                || sibling
                || hours_apart > f64::from(policy.window_hours)
            {
                continue;
            }
            let same_link = incoming.url.is_some() && incoming.url == url;
            let features = measure(
                incoming.sketch,
                &candidate.sketch,
                rarity_of,
                hours_apart,
                same_link,
            );
            // A story holds one item per outlet: an outlet's second item on an event is its own
            // follow-up, and joining it would chain one event to the next through the outlets
            // that covered both. (One from the same outlet is a re-publication of that item.)
            let taken = !same_outlet && self.story_has(&candidate.story, incoming.outlet);
            let rewritten = same_outlet && features.words < REPUBLISHED_WORDS;
            scored.push(Scored {
                candidate,
                score: policy.model.probability(&features),
                features,
                may_join: !(taken || rewritten),
            });
        }
        scored
    }
}

/// A candidate as [`Window::score`] found it.
struct Scored<'w> {
    candidate: &'w Candidate,
    score: f64,
    features: Features,
    /// It may be the same story: its story has no item of the incoming outlet yet, or it is
    /// the incoming outlet's and keeps enough of the text to be re-published.
    may_join: bool,
}

impl Scored<'_> {
    fn into_match(self, incoming: &Incoming<'_>) -> Match {
        Match {
            id: self.candidate.id.to_string(),
            outlet: self.candidate.outlet.to_string(),
            story: self.candidate.story.to_string(),
            score: self.score,
            features: self
                .features
                .name_shared(incoming.sketch, &self.candidate.sketch),
        }
    }
}

/// Decides from candidates scored best first: the best that may join from the threshold on is the
/// same story; other outlets' items in other stories from the related threshold on, one per story,
/// are related coverage.
fn choose(incoming: &Incoming<'_>, mut scored: Vec<Scored<'_>>, policy: &Policy) -> Decision {
    let same = scored
        .iter()
        .position(|s| s.may_join && s.score >= policy.threshold)
        .map(|place| scored.remove(place));
    let same_story = same.as_ref().map(|s| s.candidate.story.clone());
    let mut related: Vec<Match> = Vec::new();
    let mut stories: HashSet<&str> = HashSet::new();
    for scored in scored {
        let candidate = scored.candidate;
        if scored.score >= policy.related
            && *candidate.outlet != *incoming.outlet
            && Some(&candidate.story) != same_story.as_ref()
            && related.len() < MAX_RELATED
            && stories.insert(&candidate.story)
        {
            related.push(scored.into_match(incoming));
        }
    }
    Decision {
        same: same.map(|s| s.into_match(incoming)),
        related,
    }
}
