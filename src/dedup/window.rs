//! The items first seen within the dedup window, in memory: what an incoming item is
//! compared with. Each item is indexed under every word and name it contains, and each term
//! knows how many items in the window contain it, so the rarer a term, the more it says. An
//! incoming item's candidates are found through its rarest terms only — a few names that two
//! re-angled copies of a story share find each other whatever their headlines — by a hash
//! probe per term and a walk of that term's newest postings, and scored from their sketches
//! without reading the store, so each item costs the same however many are stored.
//!
//! The store rebuilds it when the process starts, keeps it in step with what it writes and
//! deletes, and reads the items another process added before each write. What another process
//! changes in an item already known (`tributary poll` beside the daemon, updating a story's
//! text) reaches the window at the next start: until then that item is compared as it was.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::Sketch;

/// The most postings one lookup reads, over all the terms it looks up (see
/// [`Window::candidates`]).
const POSTINGS_READ_AT_MOST: usize = 256;

/// No posting: the end of a key's list.
const END: u32 = u32::MAX;

/// The first sighting of an entry replaced by a newer one of the same item: before any window.
const DEAD: i64 = i64::MIN;

/// Reads the first eight bytes of `id` as a number that orders as they do (zeros after a shorter
/// id): ids are compared by it before their bytes.
fn id_prefix(id: &str) -> u64 {
    // Item ids are 20 hex digits: read as one word, without a copy of variable length.
    if let Some(first) = id.as_bytes().first_chunk::<8>() {
        return u64::from_be_bytes(*first);
    }
    let mut prefix = [0; 8];
    prefix[..id.len()].copy_from_slice(id.as_bytes());
    u64::from_be_bytes(prefix)
}

/// A stored item as dedup sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub id: Box<str>,
    pub outlet: Box<str>,
    pub story: Box<str>,
    pub url: Option<Box<str>>,
    /// Its place in the feed (Unix time): copies of one story are dated close together.
    pub dated: i64,
    /// When it was first seen (Unix time): the window is a span of first sightings.
    pub seen_at: i64,
    pub sketch: Sketch,
}

#[derive(Default)]
pub struct Window {
    /// Each term's newest posting and how many live items contain it.
    terms: HashMap<u32, Term, FixedState>,
    postings: Vec<Posting>,
    entries: Vec<Candidate>,
    /// Each entry's first sighting, or [`DEAD`]: the one thing a walk checks of every posting's
    /// entry, kept apart from the entries so that it reads 8 bytes from an array that stays in
    /// the CPU's cache, not a candidate from anywhere in memory: the walk waits for memory
    /// more than it computes.
    seen: Vec<i64>,
    /// The live entry of each item id: an item indexed again (its text changed) leaves its
    /// old entry dead, so that its old keys no longer find it.
    live: HashMap<Box<str>, u32, FixedState>,
    /// The entries of each story, dead ones too (checked by `seen`).
    members: HashMap<Box<str>, Vec<u32>, FixedState>,
    /// What [`Window::candidates`] counts in, kept between calls: the rarity each entry
    /// shares with the incoming item (all zero between calls), and the entries it counted. An
    /// array indexed by entry, where a hash map took a hash and a probe per posting walked.
    shared: Vec<f32>,
    counted: Vec<u32>,
}

/// A term's postings and its document frequency in the window.
#[derive(Clone, Copy)]
struct Term {
    head: u32,
    /// Live items indexed under it (an item that expired counts until the next rebuild).
    items: u32,
}

/// How rare the terms are in the window, as the weights of [`super::measure`]: 1 for a term
/// only one item has, falling towards 0 for one every item has.
pub struct Rarity<'a> {
    terms: &'a HashMap<u32, Term, FixedState>,
    /// Added to every term's count: 1 for the incoming item, whose terms are not counted yet.
    own: u32,
    /// `n + 1`, `n` the items counted (the window's, and the incoming item if it is not in the
    /// window), and its logarithm, taken once.
    n: f64,
    ln_n: f64,
}

impl Rarity<'_> {
    /// Computes `ln((n + 1) / df) / ln(n + 1)` for `term`: an inverse document frequency scaled to
    /// 0..1, so that it means the same in a window of a hundred items as in one of a hundred
    /// thousand, and is 1 for every term when the window is empty (the overlaps are then plain
    /// Jaccard).
    pub fn of(&self, term: u32) -> f64 {
        let counted = self.terms.get(&term).map_or(0, |t| t.items) + self.own;
        let df = f64::from(counted.max(1)).min(self.n);
        (self.ln_n - df.ln()) / self.ln_n
    }
}

struct Posting {
    entry: u32,
    next: u32,
}

/// Where a walk of one term's postings is: the posting it reads next, how many it counted
/// and how many it read.
struct Walk {
    at: u32,
    /// The term's rarity: what each entry found through it gains.
    weight: f32,
    read: usize,
    walked: usize,
}

impl Window {
    pub fn contains(&self, id: &str) -> bool {
        self.live.contains_key(id)
    }

    /// Returns the rarity of terms as seen by an item: one in the window (`in_window`), or an
    /// incoming one, whose own terms count once more.
    pub fn rarity(&self, in_window: bool) -> Rarity<'_> {
        let own = u32::from(!in_window);
        let items = u32::try_from(self.live.len()).unwrap_or(u32::MAX) + own;
        let n = f64::from(items.max(1)) + 1.0;
        Rarity {
            terms: &self.terms,
            own,
            n,
            ln_n: n.ln(),
        }
    }

    /// Indexes `candidate` under its terms, in place of what the same item was indexed under.
    pub fn insert(&mut self, candidate: Candidate) {
        let Ok(entry) = u32::try_from(self.entries.len()) else {
            return;
        };
        if let Some(old) = self.live.insert(candidate.id.clone(), entry) {
            self.seen[old as usize] = DEAD;
            for term in self.entries[old as usize].sketch.terms() {
                if let Some(t) = self.terms.get_mut(term) {
                    t.items = t.items.saturating_sub(1);
                }
            }
        }
        self.members
            .entry(candidate.story.clone())
            .or_default()
            .push(entry);
        self.seen.push(candidate.seen_at);
        self.entries.push(candidate);
        let entry_terms = self.entries[entry as usize].sketch.terms();
        for &term in entry_terms {
            let Ok(posting) = u32::try_from(self.postings.len()) else {
                return;
            };
            let t = self.terms.entry(term).or_insert(Term {
                head: END,
                items: 0,
            });
            self.postings.push(Posting {
                entry,
                next: t.head,
            });
            t.head = posting;
            t.items += 1;
        }
    }

    /// Finds the items sharing the rarest terms with the incoming `sketch`, at most `max` of them,
    /// the most shared rarity first. Only the incoming item's `terms` rarest terms that the
    /// window knows are looked up, and of each only its `per_key` newest postings first seen
    /// at or after `since`: a term hundreds of items share says little, and reading all of it
    /// would make an item's cost grow with the window. (An item indexed again counts as the
    /// newest under its terms.) A term's walk also stops after `2 × per_key` postings whatever
    /// they are, so that dead and expired ones, dropped only now and then, cannot make it long.
    /// Returns the candidates' places, for [`Window::entry`].
    pub fn candidates(
        &mut self,
        sketch: &Sketch,
        since: i64,
        terms: usize,
        per_key: usize,
        max: usize,
    ) -> Vec<usize> {
        let walks = self.walks(sketch, terms, per_key);
        self.count_shared(walks, since, per_key);
        self.most_shared(max)
    }

    /// Plans a walk of each term of `sketch` to look up: its `terms` rarest that the window knows,
    /// rarest first, until the postings they would read reach the budget — an item whose
    /// rarest terms are still common (every word of it is everyday) is not made to read
    /// hundreds of postings that say little.
    fn walks(&self, sketch: &Sketch, terms: usize, per_key: usize) -> Vec<Walk> {
        let rarity = self.rarity(false);
        // Rarest first; between terms as rare, by hash, so that the order items arrived in
        // does not decide which are looked up.
        let mut rarest: Vec<(u32, u32, u32, f32)> = sketch
            .terms()
            .iter()
            .filter_map(|&term| {
                let t = self
                    .terms
                    .get(&term)
                    .filter(|t| t.items > 0 && t.head != END)?;
                Some((t.items, term, t.head, rarity.of(term) as f32))
            })
            .collect();
        rarest.sort_unstable_by_key(|&(items, term, _, _)| (items, term));
        rarest.truncate(terms);
        let mut budget = POSTINGS_READ_AT_MOST;
        rarest
            .iter()
            .filter(|_| per_key > 0)
            .take_while(|&&(items, ..)| {
                let fits = budget > 0;
                budget = budget.saturating_sub((items as usize).min(per_key));
                fits
            })
            .map(|&(_, _, at, weight)| Walk {
                at,
                weight,
                read: 0,
                walked: 0,
            })
            .collect()
    }

    /// Walks the terms' postings, adding each term's rarity to every live entry first seen at
    /// or after `since` that it finds (into `shared`, the entries found into `counted`).
    fn count_shared(&mut self, mut walks: Vec<Walk>, since: i64, per_key: usize) {
        // A dead entry is in no window.
        let since = since.max(DEAD + 1);
        self.shared.resize(self.entries.len(), 0.0);
        self.counted.clear();
        // The keys' lists are walked side by side, a posting of each in turn: each step of a
        // list waits for memory (postings are scattered over the window), and steps of
        // different lists do not wait for each other, so the CPU overlaps their waits.
        while !walks.is_empty() {
            walks.retain_mut(|walk| {
                let posting = &self.postings[walk.at as usize];
                let entry = posting.entry as usize;
                if self.seen[entry] >= since {
                    if self.shared[entry] == 0.0 {
                        self.counted.push(posting.entry);
                    }
                    // Never zero: a term every item has still weighs a little.
                    self.shared[entry] += walk.weight.max(f32::MIN_POSITIVE);
                    walk.read += 1;
                }
                walk.walked += 1;
                walk.at = posting.next;
                walk.at != END && walk.read < per_key && walk.walked < 2 * per_key
            });
        }
    }

    /// Picks the `max` entries counted with the most shared rarity, best first (leaving `shared`
    /// zeroed for the next lookup).
    fn most_shared(&mut self, max: usize) -> Vec<usize> {
        let mut ranked: Vec<(f32, u64, u32)> = self
            .counted
            .iter()
            .map(|&entry| {
                let shared = std::mem::take(&mut self.shared[entry as usize]);
                (shared, id_prefix(&self.entries[entry as usize].id), entry)
            })
            .collect();
        // Most shared rarity first, then by id (ids are unique: the order is total), compared
        // by their first eight bytes until those tie. A common term brings hundreds of items:
        // the best `max` are picked out before any is sorted.
        let entries = &self.entries;
        let order = |a: &(f32, u64, u32), b: &(f32, u64, u32)| {
            b.0.total_cmp(&a.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| entries[a.2 as usize].id.cmp(&entries[b.2 as usize].id))
        };
        if ranked.len() > max && max > 0 {
            ranked.select_nth_unstable_by(max - 1, order);
        }
        ranked.truncate(max);
        ranked.sort_unstable_by(order);
        ranked
            .into_iter()
            .map(|(_, _, entry)| entry as usize)
            .collect()
    }

    /// Tells whether a live item of `outlet` is in `story`.
    pub fn story_has(&self, story: &str, outlet: &str) -> bool {
        self.members.get(story).is_some_and(|entries| {
            entries.iter().any(|&e| {
                self.seen[e as usize] != DEAD && *self.entries[e as usize].outlet == *outlet
            })
        })
    }

    /// Returns the candidate at a place [`Window::candidates`] returned.
    pub fn entry(&self, place: usize) -> &Candidate {
        &self.entries[place]
    }

    /// Drops the items first seen before `cutoff` (they left the window), when there are
    /// enough of them and of dead entries to be worth a rebuild.
    pub fn forget_before(&mut self, cutoff: i64) {
        let stale = self.seen.iter().filter(|seen| **seen < cutoff).count();
        if stale * 4 >= self.entries.len() && stale > 0 {
            self.retain(|c| c.seen_at >= cutoff);
        }
    }

    /// Keeps only the items `keep` says to (and no dead entry), rebuilding the index:
    /// O(postings).
    pub fn retain(&mut self, keep: impl Fn(&Candidate) -> bool) {
        let mut renumbered = vec![END; self.entries.len()];
        let mut window = Window::default();
        let entries = std::mem::take(&mut self.entries);
        for (old, (entry, seen)) in entries.into_iter().zip(&self.seen).enumerate() {
            if *seen != DEAD && keep(&entry) {
                renumbered[old] = window.entries.len() as u32;
                window.seen.push(entry.seen_at);
                window.entries.push(entry);
            }
        }
        // Each term's surviving postings, oldest first, so that re-linking keeps the order.
        for (term, Term { head, .. }) in std::mem::take(&mut self.terms) {
            let mut chain = Vec::new();
            let mut at = head;
            while at != END {
                let posting = &self.postings[at as usize];
                if renumbered[posting.entry as usize] != END {
                    chain.push(renumbered[posting.entry as usize]);
                }
                at = posting.next;
            }
            if chain.is_empty() {
                continue;
            }
            let mut t = Term {
                head: END,
                items: chain.len() as u32,
            };
            for entry in chain.into_iter().rev() {
                window.postings.push(Posting {
                    entry,
                    next: t.head,
                });
                t.head = (window.postings.len() - 1) as u32;
            }
            window.terms.insert(term, t);
        }
        for (i, e) in window.entries.iter().enumerate() {
            window.live.insert(e.id.clone(), i as u32);
            window
                .members
                .entry(e.story.clone())
                .or_default()
                .push(i as u32);
        }
        *self = window;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Signature;

    fn sketch(words: &[&str]) -> Sketch {
        let mut words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        words.sort_unstable();
        Signature {
            words,
            ..Signature::default()
        }
        .sketch()
    }

    fn item(id: &str, seen_at: i64, words: &[&str]) -> Candidate {
        Candidate {
            id: id.into(),
            outlet: "abc".into(),
            story: id.into(),
            url: None,
            dated: seen_at,
            seen_at,
            sketch: sketch(words),
        }
    }

    /// Lists the ids of the candidates for an item of `words`, looking up all its terms.
    fn found(
        window: &mut Window,
        words: &[&str],
        since: i64,
        per_key: usize,
        max: usize,
    ) -> Vec<String> {
        let places = window.candidates(&sketch(words), since, 64, per_key, max);
        places
            .into_iter()
            .map(|p| window.entry(p).id.to_string())
            .collect()
    }

    #[test]
    fn candidates_are_ranked_by_shared_rarity() {
        let mut window = Window::default();
        window.insert(item("a", 100, &["x", "y", "z"]));
        window.insert(item("b", 100, &["x", "q"]));
        window.insert(item("c", 100, &["w"]));
        assert_eq!(found(&mut window, &["x", "y", "z"], 0, 64, 16), ["a", "b"]);
        assert_eq!(found(&mut window, &["x", "y", "z"], 0, 64, 1), ["a"]);
        assert!(found(&mut window, &["v"], 0, 64, 16).is_empty());
    }

    #[test]
    fn a_rare_term_outweighs_a_common_one() {
        let mut window = Window::default();
        for i in 0..20 {
            window.insert(item(&format!("common{i}"), 100, &["police"]));
        }
        window.insert(item("rare", 100, &["woodridge"]));
        let rarity = window.rarity(false);
        let (police, woodridge) = (sketch(&["police"]), sketch(&["woodridge"]));
        assert!(rarity.of(woodridge.words()[0]) > 2.0 * rarity.of(police.words()[0]));
        // Only the rarest term is looked up: the twenty items sharing "police" are not read.
        let places = window.candidates(&sketch(&["police", "woodridge"]), 0, 1, 64, 16);
        assert_eq!(places.len(), 1);
        assert_eq!(&*window.entry(places[0]).id, "rare");
    }

    #[test]
    fn rarity_is_one_in_an_empty_window_and_counts_live_items() {
        let mut window = Window::default();
        let term = sketch(&["hue"]).words()[0];
        assert_eq!(window.rarity(false).of(term), 1.0);
        window.insert(item("a", 100, &["hue"]));
        window.insert(item("b", 100, &["other"]));
        let before = window.rarity(true).of(term);
        window.insert(item("b", 100, &["hue"]));
        assert!(
            window.rarity(true).of(term) < before,
            "b counts under its new terms"
        );
        assert_eq!(window.live.len(), 2);
    }

    #[test]
    fn only_the_newest_postings_of_a_term_count() {
        let mut window = Window::default();
        for i in 0..10 {
            window.insert(item(&format!("old{i}"), 100, &["x"]));
        }
        window.insert(item("new", 200, &["x"]));
        assert_eq!(found(&mut window, &["x"], 0, 1, 16), ["new"]);
        assert_eq!(found(&mut window, &["x"], 150, 64, 16), ["new"]);
    }

    #[test]
    fn an_item_indexed_again_is_found_by_its_new_terms_only() {
        let mut window = Window::default();
        window.insert(item("a", 100, &["x", "y"]));
        window.insert(item("a", 100, &["z"]));
        assert!(found(&mut window, &["x", "y"], 0, 64, 16).is_empty());
        assert_eq!(found(&mut window, &["z"], 0, 64, 16), ["a"]);
        assert_eq!(window.live.len(), 1);
    }

    #[test]
    fn forgetting_keeps_the_window_and_its_order() {
        let mut window = Window::default();
        window.insert(item("gone", 50, &["x", "y"]));
        window.insert(item("kept", 100, &["x"]));
        window.insert(item("newest", 120, &["x", "y"]));
        window.insert(item("kept", 100, &["x", "z"]));
        window.retain(|c| c.seen_at >= 100);
        assert_eq!(window.live.len(), 2);
        assert_eq!(window.postings.len(), 4);
        assert_eq!(found(&mut window, &["x"], 0, 1, 16), ["kept"]);
        assert_eq!(
            found(&mut window, &["x", "y"], 0, 64, 16),
            ["newest", "kept"]
        );
        assert_eq!(found(&mut window, &["z"], 0, 64, 16), ["kept"]);
    }

    #[test]
    fn forgetting_waits_until_a_quarter_is_stale() {
        let mut window = Window::default();
        for i in 0..8 {
            window.insert(item(&format!("i{i}"), 100 + i, &["x"]));
        }
        window.forget_before(101);
        assert_eq!(window.entries.len(), 8, "one stale in eight: no rebuild");
        window.forget_before(102);
        assert_eq!(window.entries.len(), 6);
        assert_eq!(found(&mut window, &["x"], 0, 64, 16).len(), 6);
    }
}
