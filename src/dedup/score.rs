//! How alike two items are, in features a person can check — overlaps of words weighted by
//! how rare each word is in the window, the names and numbers both mention, the time between
//! them — and how likely that makes them one story: a logistic model over those features,
//! whose coefficients are fitted by `examples/dedup_fit.rs` on labelled sets (see
//! [`Model::FITTED`]). Every decision is stored with its features so that `tributary explain`
//! can show what each one contributed.

use serde::{Deserialize, Serialize};

use super::signature::Sketch;

/// Why two items were judged the same story, or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Features {
    /// Overlap of the words of title and summary, each word weighted by its rarity: 0 to 1.
    pub words: f64,
    /// The same over the titles alone.
    pub title: f64,
    /// The summed rarity of the names both mention: two rare names are strong evidence, one
    /// common one ("Sydney") next to none.
    pub names: f64,
    /// The summed rarity of every term both mention, names and words: how much rare text they
    /// share, however long they are.
    pub evidence: f64,
    /// The summed rarity of the words both mention beyond their names: what happened ("shot",
    /// "hospital"), where two stories about one person or place differ.
    pub event: f64,
    /// How many numbers both mention.
    pub numbers: usize,
    /// The names and numbers both mention, as written: filled by [`Features::name_shared`]
    /// for the decisions kept, not for every candidate scored.
    pub shared_names: Vec<String>,
    pub shared_numbers: Vec<String>,
    /// Both mention numbers and none is the same: a follow-up ("toll rises to 12") or another
    /// story altogether.
    pub numbers_conflict: bool,
    pub hours_apart: f64,
    /// Both link to the same canonical URL: the same article, whatever the words.
    pub same_link: bool,
}

/// How many inputs the model weighs.
pub const INPUTS: usize = 8;

/// The model's inputs by name, in the order of [`Features::inputs`].
pub const INPUT_NAMES: [&str; INPUTS] = [
    "words",
    "title",
    "names",
    "evidence",
    "numbers",
    "numbers conflict",
    "days apart",
    "event words",
];

impl Features {
    /// Returns what the model weighs, each scaled to about 0..1 and capped where more says no more.
    pub fn inputs(&self) -> [f64; INPUTS] {
        [
            self.words,
            self.title,
            (self.names / 3.0).min(1.0),
            (self.evidence / 6.0).min(1.0),
            (self.numbers as f64 / 2.0).min(1.0),
            f64::from(u8::from(self.numbers_conflict)),
            (self.hours_apart / 24.0).min(2.0),
            (self.event / 4.0).min(1.0),
        ]
    }
}

/// A logistic model: the probability that two items are one story is
/// `1 / (1 + e^-(bias + Σ weight × input))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    pub bias: f64,
    pub weights: [f64; INPUTS],
}

impl Model {
    /// Fitted by `cargo run --release --example dedup_fit` on every labelled set in the repo
    /// (`../shared/fixtures/dedup-dev` and `tests/fixtures/dedup/*`); the figures it reports
    /// are those of five-fold cross-validation by story, in BENCHMARKS.md.
    pub const FITTED: Model = Model {
        bias: -6.133,
        weights: [1.102, 0.478, 3.241, 2.715, 1.631, -0.545, -0.933, 2.806],
    };

    /// Estimates how likely the items `features` describes are one story, from 0 to 1.
    pub fn probability(&self, features: &Features) -> f64 {
        if features.same_link {
            return 1.0;
        }
        let logit = self.bias + self.contributions(features).iter().sum::<f64>();
        1.0 / (1.0 + (-logit).exp())
    }

    /// Returns what each input added to the log-odds, in the order of [`INPUT_NAMES`].
    pub fn contributions(&self, features: &Features) -> [f64; INPUTS] {
        let inputs = features.inputs();
        std::array::from_fn(|i| self.weights[i] * inputs[i])
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::FITTED
    }
}

/// The features in words, for `tributary explain`.
impl std::fmt::Display for Features {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.same_link {
            return write!(f, "the same link");
        }
        write!(
            f,
            "words {:.2}, title {:.2}, names {:.2}",
            self.words, self.title, self.names
        )?;
        if !self.shared_names.is_empty() {
            write!(f, " ({})", self.shared_names.join(", "))?;
        }
        write!(
            f,
            ", rare terms {:.2}, event words {:.2}",
            self.evidence, self.event
        )?;
        if !self.shared_numbers.is_empty() {
            write!(
                f,
                ", numbers in common ({})",
                self.shared_numbers.join(", ")
            )?;
        }
        if self.numbers_conflict {
            write!(f, ", no number in common")?;
        }
        write!(f, ", {:.1} h apart", self.hours_apart)
    }
}

impl Features {
    /// Fills in the names and numbers `a` and `b` both mention, for the record.
    pub fn name_shared(mut self, a: &Sketch, b: &Sketch) -> Self {
        self.shared_names = intersection(&a.names, &b.names);
        self.shared_numbers = intersection(&a.numbers, &b.numbers);
        self
    }
}

/// Measures how alike `a` and `b` are, with `rarity` weighing each term (see
/// [`super::Rarity`]). Symmetric: `measure(a, b)` is `measure(b, a)`. It copies nothing:
/// every candidate is measured, and only the decisions kept name what is shared
/// ([`Features::name_shared`]).
pub fn measure(
    a: &Sketch,
    b: &Sketch,
    rarity: impl Fn(u32) -> f64,
    hours_apart: f64,
    same_link: bool,
) -> Features {
    let numbers = shared_count(a.number_hashes(), b.number_hashes());
    // Each term's rarity once (words, titles and names are all terms), looked up below by a
    // binary search of this short list instead of a hash probe per overlap.
    let mut rarities: Vec<(u32, f64)> = Vec::with_capacity(a.terms().len() + b.terms().len());
    let (_, evidence) = weighted_overlap(a.terms(), b.terms(), |term| {
        let weight = rarity(term);
        rarities.push((term, weight));
        weight
    });
    let known = |term: u32| {
        rarities
            .binary_search_by_key(&term, |&(t, _)| t)
            .map_or(0.0, |i| rarities[i].1)
    };
    let (words, shared_words) = weighted_overlap(a.words(), b.words(), known);
    let (title, _) = weighted_overlap(a.title_words(), b.title_words(), known);
    let (_, names) = weighted_overlap(a.name_hashes(), b.name_hashes(), known);
    let event = (shared_words - names).max(0.0);
    Features {
        words,
        title,
        names,
        evidence,
        event,
        numbers,
        numbers_conflict: !a.numbers.is_empty() && !b.numbers.is_empty() && numbers == 0,
        hours_apart,
        same_link,
        ..Features::default()
    }
}

/// Counts how many values two sorted lists share, in one walk.
fn shared_count(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// Computes the weighted Jaccard similarity of two sorted, unique sets — the weight they share over
/// the weight of their union — and the weight they share.
fn weighted_overlap(a: &[u32], b: &[u32], mut weight: impl FnMut(u32) -> f64) -> (f64, f64) {
    let (mut i, mut j) = (0, 0);
    let (mut shared, mut union) = (0.0, 0.0);
    while i < a.len() || j < b.len() {
        let (term, both) = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
                (*x, true)
            }
            (Some(x), Some(y)) if x < y => {
                i += 1;
                (*x, false)
            }
            (Some(x), None) => {
                i += 1;
                (*x, false)
            }
            (_, Some(y)) => {
                j += 1;
                (*y, false)
            }
            (None, None) => break,
        };
        let w = weight(term);
        union += w;
        if both {
            shared += w;
        }
    }
    let similarity = if union > 0.0 { shared / union } else { 0.0 };
    (similarity, shared)
}

/// Returns the values in both sorted lists.
fn intersection(a: &[Box<str>], b: &[Box<str>]) -> Vec<String> {
    a.iter()
        .filter(|x| b.binary_search(x).is_ok())
        .map(|x| x.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_weighs_rare_terms_more() {
        let flat = |_| 1.0;
        assert_eq!(weighted_overlap(&[1, 2, 3], &[2, 3, 4], flat), (0.5, 2.0));
        let rare_two = |t| if t == 2 { 1.0 } else { 0.1 };
        let (similarity, shared) = weighted_overlap(&[1, 2], &[2, 4], rare_two);
        assert!((similarity - 1.0 / 1.2).abs() < 1e-9 && (shared - 1.0).abs() < 1e-9);
        assert_eq!(weighted_overlap(&[], &[], flat), (0.0, 0.0));
    }

    #[test]
    fn the_same_link_is_certain_and_contributions_add_up() {
        let model = Model::FITTED;
        let linked = Features {
            same_link: true,
            ..Features::default()
        };
        assert_eq!(model.probability(&linked), 1.0);
        let features = Features {
            words: 0.4,
            names: 2.0,
            hours_apart: 5.0,
            ..Features::default()
        };
        let logit: f64 = model.bias + model.contributions(&features).iter().sum::<f64>();
        let p = model.probability(&features);
        assert!((p - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-12);
    }
}
