//! The items first seen within the dedup window, in memory: what an incoming item is
//! compared with. Its candidates are found by a hash probe per signature key and a walk of
//! that key's newest postings, and scored from their sketches without reading the store, so
//! each item costs the same however many are stored.
//!
//! The store rebuilds it when the process starts, keeps it in step with what it writes and
//! deletes, and reads the items another process added before each write. What another process
//! changes in an item already known (`tributary poll` beside the daemon, updating a story's
//! text) reaches the window at the next start: until then that item is compared as it was.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::Sketch;

/// No posting: the end of a key's list.
const END: u32 = u32::MAX;

/// The first sighting of an entry replaced by a newer one of the same item: before any window.
const DEAD: i64 = i64::MIN;

/// The first eight bytes of `id` as a number that orders as they do (zeros after a shorter
/// id): ids are compared by it before their bytes.
fn id_prefix(id: &str) -> u64 {
    let mut prefix = [0; 8];
    let n = id.len().min(8);
    prefix[..n].copy_from_slice(&id.as_bytes()[..n]);
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
    /// Each key's newest posting; a posting links to the one before it.
    heads: HashMap<i64, u32, FixedState>,
    postings: Vec<Posting>,
    entries: Vec<Candidate>,
    /// Each entry's first sighting, or [`DEAD`]: the one thing a walk checks of every posting's
    /// entry, kept apart from the entries so that it reads 8 bytes from an array that stays in
    /// the CPU's cache, not a candidate from anywhere in memory (the walk was a fifth of a
    /// round's writer time, most of it waiting for memory).
    seen: Vec<i64>,
    /// The live entry of each item id: an item indexed again (its text changed) leaves its
    /// old entry dead, so that its old keys no longer find it.
    live: HashMap<Box<str>, u32, FixedState>,
    /// What [`Window::candidates`] counts in, kept between calls: the keys each entry shares
    /// with the incoming item (all zero between calls), and the entries it counted. An array
    /// indexed by entry, where a hash map took a hash and a probe per posting walked.
    shared: Vec<u16>,
    counted: Vec<u32>,
}

struct Posting {
    entry: u32,
    next: u32,
}

/// Where a walk of one key's postings is: the posting it reads next, how many it counted
/// and how many it read.
struct Walk {
    at: u32,
    read: usize,
    walked: usize,
}

impl Window {
    pub fn contains(&self, id: &str) -> bool {
        self.live.contains_key(id)
    }

    /// Indexes `candidate` under `keys`, in place of what the same item was indexed under.
    pub fn insert(&mut self, candidate: Candidate, keys: &[i64]) {
        let Ok(entry) = u32::try_from(self.entries.len()) else {
            return;
        };
        if let Some(old) = self.live.insert(candidate.id.clone(), entry) {
            self.seen[old as usize] = DEAD;
        }
        self.seen.push(candidate.seen_at);
        self.entries.push(candidate);
        for &key in keys {
            let Ok(posting) = u32::try_from(self.postings.len()) else {
                return;
            };
            let head = self.heads.entry(key).or_insert(END);
            self.postings.push(Posting { entry, next: *head });
            *head = posting;
        }
    }

    /// The items sharing the most of `keys` with the incoming item, at most `max` of them,
    /// most shared first: of each key, only its `per_key` newest postings first seen at or
    /// after `since` are counted — a key hundreds of items share (boilerplate, a running
    /// story's stock phrase) says little, and reading all of it would make an item's cost grow
    /// with the window. The true copy shares many keys, rare ones too. (An item indexed again
    /// counts as the newest under its keys.) A key's walk also stops after `2 × per_key`
    /// postings whatever they are, so that dead and expired ones, dropped only now and then,
    /// cannot make it long.
    pub fn candidates(
        &mut self,
        keys: &[i64],
        since: i64,
        per_key: usize,
        max: usize,
    ) -> Vec<&Candidate> {
        // A dead entry is in no window.
        let since = since.max(DEAD + 1);
        self.shared.resize(self.entries.len(), 0);
        self.counted.clear();
        // The keys' lists are walked side by side, a posting of each in turn: each step of a
        // list waits for memory (postings are scattered over the window), and steps of
        // different lists do not wait for each other, so the CPU overlaps their waits.
        let mut walks: Vec<Walk> = keys
            .iter()
            .filter_map(|key| self.heads.get(key))
            .filter(|_| per_key > 0)
            .map(|&at| Walk {
                at,
                read: 0,
                walked: 0,
            })
            .collect();
        while !walks.is_empty() {
            walks.retain_mut(|walk| {
                let posting = &self.postings[walk.at as usize];
                let entry = posting.entry as usize;
                if self.seen[entry] >= since {
                    if self.shared[entry] == 0 {
                        self.counted.push(posting.entry);
                    }
                    self.shared[entry] += 1;
                    walk.read += 1;
                }
                walk.walked += 1;
                walk.at = posting.next;
                walk.at != END && walk.read < per_key && walk.walked < 2 * per_key
            });
        }
        let mut ranked: Vec<(u16, u64, u32)> = self
            .counted
            .iter()
            .map(|&entry| {
                let shared = std::mem::take(&mut self.shared[entry as usize]);
                (shared, id_prefix(&self.entries[entry as usize].id), entry)
            })
            .collect();
        // Most shared keys first, then by id (ids are unique: the order is total), compared by
        // their first eight bytes until those tie. A common key brings hundreds of items: the
        // best `max` are picked out before any is sorted.
        let entries = &self.entries;
        let order = |a: &(u16, u64, u32), b: &(u16, u64, u32)| {
            b.0.cmp(&a.0)
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
            .map(|(_, _, entry)| &entries[entry as usize])
            .collect()
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
        // Each key's surviving postings, oldest first, so that re-linking keeps the order.
        for (key, head) in std::mem::take(&mut self.heads) {
            let mut chain = Vec::new();
            let mut at = head;
            while at != END {
                let posting = &self.postings[at as usize];
                if renumbered[posting.entry as usize] != END {
                    chain.push(renumbered[posting.entry as usize]);
                }
                at = posting.next;
            }
            for entry in chain.into_iter().rev() {
                let head = window.heads.entry(key).or_insert(END);
                window.postings.push(Posting { entry, next: *head });
                *head = (window.postings.len() - 1) as u32;
            }
        }
        window.live = window
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i as u32))
            .collect();
        *self = window;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, seen_at: i64) -> Candidate {
        Candidate {
            id: id.into(),
            outlet: "abc".into(),
            story: id.into(),
            url: None,
            dated: seen_at,
            seen_at,
            sketch: Sketch::default(),
        }
    }

    fn ids(found: Vec<&Candidate>) -> Vec<&str> {
        found.into_iter().map(|c| &*c.id).collect()
    }

    #[test]
    fn candidates_are_ranked_by_shared_keys() {
        let mut window = Window::default();
        window.insert(item("a", 100), &[1, 2, 3]);
        window.insert(item("b", 100), &[1, 9]);
        window.insert(item("c", 100), &[7]);
        assert_eq!(ids(window.candidates(&[1, 2, 3], 0, 64, 16)), ["a", "b"]);
        assert_eq!(ids(window.candidates(&[1, 2, 3], 0, 64, 1)), ["a"]);
        assert!(window.candidates(&[5], 0, 64, 16).is_empty());
    }

    #[test]
    fn only_the_newest_postings_of_a_key_count() {
        let mut window = Window::default();
        for i in 0..10 {
            window.insert(item(&format!("old{i}"), 100), &[1]);
        }
        window.insert(item("new", 200), &[1]);
        assert_eq!(ids(window.candidates(&[1], 0, 1, 16)), ["new"]);
        assert_eq!(ids(window.candidates(&[1], 150, 64, 16)), ["new"]);
    }

    #[test]
    fn an_item_indexed_again_is_found_by_its_new_keys_only() {
        let mut window = Window::default();
        window.insert(item("a", 100), &[1, 2]);
        window.insert(item("a", 100), &[3]);
        assert!(window.candidates(&[1, 2], 0, 64, 16).is_empty());
        assert_eq!(ids(window.candidates(&[3], 0, 64, 16)), ["a"]);
        assert_eq!(window.live.len(), 1);
    }

    #[test]
    fn forgetting_keeps_the_window_and_its_order() {
        let mut window = Window::default();
        window.insert(item("gone", 50), &[1, 2]);
        window.insert(item("kept", 100), &[1]);
        window.insert(item("newest", 120), &[1, 2]);
        window.insert(item("kept", 100), &[1, 3]);
        window.retain(|c| c.seen_at >= 100);
        assert_eq!(window.live.len(), 2);
        assert_eq!(window.postings.len(), 4);
        assert_eq!(ids(window.candidates(&[1], 0, 1, 16)), ["kept"]);
        assert_eq!(
            ids(window.candidates(&[1, 2], 0, 64, 16)),
            ["newest", "kept"]
        );
        assert_eq!(ids(window.candidates(&[3], 0, 64, 16)), ["kept"]);
    }

    #[test]
    fn forgetting_waits_until_a_quarter_is_stale() {
        let mut window = Window::default();
        for i in 0..8 {
            window.insert(item(&format!("i{i}"), 100 + i), &[1]);
        }
        window.forget_before(101);
        assert_eq!(window.entries.len(), 8, "one stale in eight: no rebuild");
        window.forget_before(102);
        assert_eq!(window.entries.len(), 6);
        assert_eq!(ids(window.candidates(&[1], 0, 64, 16)).len(), 6);
    }
}
