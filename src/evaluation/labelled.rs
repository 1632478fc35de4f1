//! A labelled two-outlet set as files: `abc.xml` and `newscomau.xml` (any feed format), and
//! `labels.json` — cross-outlet `duplicates` with a difficulty, `hard_negatives` (the same
//! people, places or topic, another event) and `same_outlet_duplicates` — every other item a
//! story of its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::model::Item;

/// The outlets of a set, by the file that holds each one's feed.
pub const OUTLETS: [&str; 2] = ["abc", "newscomau"];

#[derive(Deserialize)]
struct Labels {
    duplicates: Vec<(String, String, String)>,
    hard_negatives: Vec<(String, String, String)>,
    same_outlet_duplicates: Vec<(String, String)>,
}

/// A cross-outlet pair labelled the same story, and how hard it is to see.
#[derive(Clone, Debug)]
pub struct Duplicate {
    pub a: usize,
    pub b: usize,
    pub level: String,
}

/// The items of a set and what is known of them, items named by their place in `items`.
pub struct LabelledSet {
    pub name: String,
    /// Every entry of both feeds, each outlet's in document order (a GUID listed twice is
    /// two entries, as in the feed).
    pub items: Vec<Item>,
    pub duplicates: Vec<Duplicate>,
    pub hard_negatives: Vec<(usize, usize)>,
    pub same_outlet: Vec<(usize, usize)>,
    /// Each item's true story: items linked by any duplicate label share one.
    pub story: Vec<usize>,
}

impl LabelledSet {
    /// Reads the set in `dir`, parsing each feed as the daemon does.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let items = read_feeds(dir)?;
        let path: PathBuf = dir.join("labels.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let labels: Labels = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a labels file", path.display()))?;
        let places = Places::of(&items, &path);
        let mut duplicates = Vec::new();
        for (a, b, level) in &labels.duplicates {
            duplicates.push(Duplicate {
                a: places.find(a, &OUTLETS[..1])?,
                b: places.find(b, &OUTLETS[1..])?,
                level: level.clone(),
            });
        }
        let mut hard_negatives = Vec::new();
        for (a, b, _) in &labels.hard_negatives {
            let other = places.find(b, &[OUTLETS[1], OUTLETS[0]])?;
            hard_negatives.push((places.find(a, &OUTLETS)?, other));
        }
        let mut same_outlet = Vec::new();
        for (a, b) in &labels.same_outlet_duplicates {
            same_outlet.push(places.repeat(a, b)?);
        }
        let edges = duplicates.iter().map(|d| (d.a, d.b));
        let story = components(items.len(), edges.chain(same_outlet.iter().copied()));
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(LabelledSet {
            name,
            items,
            duplicates,
            hard_negatives,
            same_outlet,
            story,
        })
    }

    /// Tells which of `folds` each item is evaluated in: every item of a true story, and both items
    /// of a hard negative, in the same one, so that no fold is fitted on a story it is
    /// evaluated on.
    pub fn folds(&self, folds: usize) -> Vec<usize> {
        let same_story = self.story.iter().copied().enumerate();
        let edges = same_story.chain(self.hard_negatives.iter().copied());
        let mut roots = components(self.items.len(), edges);
        let mut order: Vec<usize> = roots.clone();
        order.sort_unstable();
        order.dedup();
        let fold_of: HashMap<usize, usize> = order
            .iter()
            .enumerate()
            .map(|(n, r)| (*r, n % folds.max(1)))
            .collect();
        roots.iter_mut().for_each(|r| *r = fold_of[r]);
        roots
    }
}

/// Reads both feeds' entries, each outlet's in document order.
fn read_feeds(dir: &Path) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    for outlet in OUTLETS {
        let path = dir.join(format!("{outlet}.xml"));
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let parsed = crate::parse::parse_feed(&bytes, None, None, outlet)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        items.extend(parsed.items);
    }
    Ok(items)
}

/// Where each GUID of each outlet first stands among the items, to resolve the labels.
struct Places<'a> {
    items: &'a [Item],
    by_guid: HashMap<(&'a str, &'a str), usize>,
    /// The labels file, for the messages.
    labels: &'a Path,
}

impl<'a> Places<'a> {
    fn of(items: &'a [Item], labels: &'a Path) -> Self {
        let mut by_guid = HashMap::new();
        for (place, item) in items.iter().enumerate() {
            if let Some(guid) = &item.guid {
                by_guid
                    .entry((item.outlet.as_str(), guid.as_str()))
                    .or_insert(place);
            }
        }
        Places {
            items,
            by_guid,
            labels,
        }
    }

    /// Finds the item with `guid` in the first of `outlets` that has one.
    fn find(&self, guid: &str, outlets: &[&str]) -> anyhow::Result<usize> {
        match outlets.iter().find_map(|o| self.by_guid.get(&(*o, guid))) {
            Some(place) => Ok(*place),
            None => bail!("{}: no item has the GUID {guid:?}", self.labels.display()),
        }
    }

    /// Finds a same-outlet repeat: the second sighting of a GUID listed twice is the entry after
    /// the first; otherwise the item with the second GUID in the first's outlet.
    fn repeat(&self, a: &str, b: &str) -> anyhow::Result<(usize, usize)> {
        let first = self.find(a, &OUTLETS)?;
        let outlet = self.items[first].outlet.as_str();
        let second = if a == b {
            self.items
                .iter()
                .enumerate()
                .skip(first + 1)
                .find(|(_, i)| i.guid.as_deref() == Some(b) && i.outlet == outlet)
                .map_or(first, |(place, _)| place)
        } else {
            self.find(b, &[outlet])?
        };
        Ok((first, second))
    }
}

/// Finds each of `n` places' component under `edges`, named by its smallest place.
fn components(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    for (a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    }
    (0..n).map(|place| root(&mut parent, place)).collect()
}

/// Finds the root of `place` in a union-find forest, halving the path on the way.
fn root(parent: &mut [usize], mut place: usize) -> usize {
    while parent[place] != place {
        parent[place] = parent[parent[place]];
        place = parent[place];
    }
    place
}
