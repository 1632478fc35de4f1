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
        let mut items = Vec::new();
        for outlet in OUTLETS {
            let path = dir.join(format!("{outlet}.xml"));
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let parsed = crate::parse::parse_feed(&bytes, None, None, outlet)
                .with_context(|| format!("cannot parse {}", path.display()))?;
            items.extend(parsed.items);
        }
        let path: PathBuf = dir.join("labels.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let labels: Labels = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a labels file", path.display()))?;
        let mut by_guid: HashMap<(&str, &str), usize> = HashMap::new();
        for (place, item) in items.iter().enumerate() {
            if let Some(guid) = &item.guid {
                by_guid
                    .entry((item.outlet.as_str(), guid.as_str()))
                    .or_insert(place);
            }
        }
        let find = |guid: &str, outlets: &[&str]| -> anyhow::Result<usize> {
            match outlets.iter().find_map(|o| by_guid.get(&(*o, guid))) {
                Some(place) => Ok(*place),
                None => bail!("{}: no item has the GUID {guid:?}", path.display()),
            }
        };
        let mut duplicates = Vec::new();
        for (a, b, level) in &labels.duplicates {
            duplicates.push(Duplicate {
                a: find(a, &OUTLETS[..1])?,
                b: find(b, &OUTLETS[1..])?,
                level: level.clone(),
            });
        }
        let mut hard_negatives = Vec::new();
        for (a, b, _) in &labels.hard_negatives {
            hard_negatives.push((find(a, &OUTLETS)?, find(b, &[OUTLETS[1], OUTLETS[0]])?));
        }
        let mut same_outlet = Vec::new();
        for (a, b) in &labels.same_outlet_duplicates {
            let first = find(a, &OUTLETS)?;
            let outlet = [items[first].outlet.as_str()];
            // The second sighting of a GUID listed twice is the entry after the first.
            let second = if a == b {
                items
                    .iter()
                    .enumerate()
                    .skip(first + 1)
                    .find(|(_, i)| i.guid.as_deref() == Some(b) && i.outlet == outlet[0])
                    .map_or(first, |(place, _)| place)
            } else {
                find(b, &outlet)?
            };
            same_outlet.push((first, second));
        }
        let mut story: Vec<usize> = (0..items.len()).collect();
        let edges = duplicates
            .iter()
            .map(|d| (d.a, d.b))
            .chain(same_outlet.iter().copied());
        for (a, b) in edges {
            let (ra, rb) = (root(&mut story, a), root(&mut story, b));
            story[ra.max(rb)] = ra.min(rb);
        }
        for place in 0..story.len() {
            story[place] = root(&mut story, place);
        }
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

    /// Which of `folds` each item is evaluated in: every item of a true story, and both items
    /// of a hard negative, in the same one, so that no fold is fitted on a story it is
    /// evaluated on.
    pub fn folds(&self, folds: usize) -> Vec<usize> {
        let mut group = self.story.clone();
        for &(a, b) in &self.hard_negatives {
            let (ra, rb) = (root(&mut group, a), root(&mut group, b));
            group[ra.max(rb)] = ra.min(rb);
        }
        let mut roots: Vec<usize> = (0..group.len()).map(|p| root(&mut group, p)).collect();
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

/// The root of `place` in a union-find forest, halving the path on the way.
fn root(parent: &mut [usize], mut place: usize) -> usize {
    while parent[place] != place {
        parent[place] = parent[parent[place]];
        place = parent[place];
    }
    place
}
