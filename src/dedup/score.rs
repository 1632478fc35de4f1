//! How alike two items are, in features a person can check: shared words, shared title words,
//! shared names, shared or conflicting numbers, and the time between them. The score weighs
//! them; every decision is stored with its features so that `tributary explain` can say why.

use serde::{Deserialize, Serialize};

use super::signature::Sketch;

/// Why two items were judged the same story, or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Jaccard similarity of the content words of title and summary.
    pub words: f64,
    /// Jaccard similarity of the title words.
    pub title: f64,
    /// Names both mention, over the names of the one that mentions fewer.
    pub names: f64,
    pub shared_names: Vec<String>,
    pub shared_numbers: Vec<String>,
    /// Both mention numbers and none is the same: a follow-up ("toll rises to 12") or another
    /// story altogether.
    pub numbers_conflict: bool,
    pub hours_apart: f64,
    /// Both link to the same canonical URL: the same article, whatever the words.
    pub same_link: bool,
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

/// Scores how likely `a` and `b` are one story, from 0 to 1. It copies nothing: every
/// candidate is scored, and only the chosen one's [`features`] are kept.
pub fn score(a: &Sketch, b: &Sketch, hours_apart: f64, same_link: bool) -> f64 {
    weigh(&Measures::of(a, b, hours_apart, same_link))
}

/// What [`score`] weighed, with the names and numbers both mention, for the record.
pub fn features(a: &Sketch, b: &Sketch, hours_apart: f64, same_link: bool) -> Features {
    let measures = Measures::of(a, b, hours_apart, same_link);
    Features {
        words: measures.words,
        title: measures.title,
        names: measures.names,
        shared_names: intersection(&a.names, &b.names),
        shared_numbers: intersection(&a.numbers, &b.numbers),
        numbers_conflict: measures.numbers_conflict,
        hours_apart,
        same_link,
    }
}

/// The figures the score weighs: [`Features`] with counts in place of the shared values.
struct Measures {
    words: f64,
    title: f64,
    names: f64,
    shared_names: usize,
    shared_numbers: usize,
    numbers_conflict: bool,
    hours_apart: f64,
    same_link: bool,
}

impl Measures {
    fn of(a: &Sketch, b: &Sketch, hours_apart: f64, same_link: bool) -> Self {
        let shared_names = shared_count(a.name_hashes(), b.name_hashes());
        let shared_numbers = shared_count(a.number_hashes(), b.number_hashes());
        let fewer_names = a.names.len().min(b.names.len());
        Measures {
            words: jaccard(a.words(), b.words()),
            title: jaccard(a.title_words(), b.title_words()),
            names: match fewer_names {
                0 => 0.0,
                n => shared_names as f64 / n as f64,
            },
            shared_names,
            shared_numbers,
            numbers_conflict: !a.numbers.is_empty() && !b.numbers.is_empty() && shared_numbers == 0,
            hours_apart,
            same_link,
        }
    }
}

/// The weights, fitted on the labelled evaluation set (`tests/fixtures/dedup/`) and ABC's real
/// "Just In" day of distinct stories: words carry most; names confirm the same event, the more
/// the surer (one shared name is weak evidence, two or more full); each number both mention
/// (up to two) confirms the same telling; no number in common, or more than 12 hours between
/// them with little text in common, points to a follow-up or another story.
fn weigh(f: &Measures) -> f64 {
    if f.same_link {
        return 1.0;
    }
    let name_strength = (f.shared_names as f64 / 2.0).min(1.0);
    let later = ((f.hours_apart - 12.0) / 12.0).clamp(0.0, 1.0);
    let mut score = 0.6 * f.words + 0.1 * f.title + 0.2 * f.names * name_strength;
    score += 0.1 * f.shared_numbers.min(2) as f64;
    if f.numbers_conflict {
        score -= 0.2;
    }
    score -= 0.3 * later * (1.0 - f.words);
    score.clamp(0.0, 1.0)
}

fn jaccard<T: Ord>(a: &[T], b: &[T]) -> f64 {
    let shared = shared_count(a, b);
    let union = a.len() + b.len() - shared;
    match union {
        0 => 0.0,
        n => shared as f64 / n as f64,
    }
}

/// The values in both sorted lists.
fn intersection(a: &[Box<str>], b: &[Box<str>]) -> Vec<String> {
    a.iter()
        .filter(|x| b.binary_search(x).is_ok())
        .map(|x| x.to_string())
        .collect()
}

/// How many values two sorted lists share, in one walk and without copying any.
fn shared_count<T: Ord>(a: &[T], b: &[T]) -> usize {
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
