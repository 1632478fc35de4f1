//! What dedup compares of an item: its content words, the names and numbers it mentions. The
//! window indexes an item under each of its words and names, so that candidates are found by
//! looking up the incoming item's rarest terms (O(1) per item) instead of by comparing with
//! every stored item.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use foldhash::quality::FixedState;
use serde::{Deserialize, Serialize};

use crate::model::Item;
use crate::parse::plain_text;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Content words of title and summary, lower-case, lightly stemmed, sorted, unique.
    pub words: Vec<String>,
    /// The same for the title alone.
    pub title_words: Vec<String>,
    /// Proper names and acronyms (lower-case): "albanese", "lismore", "nsw".
    pub names: Vec<String>,
    /// Numbers as written in digits or words, normalized: "8", "1.2", "2026".
    pub numbers: Vec<String>,
}

/// What the dedup window keeps of a signature, and what is scored: the words, the title's
/// words, the names, the numbers and the terms (words and names) by 32-bit hash, all in one
/// block of memory (a candidate is scored from one read, without touching a string; a
/// collision in 2³² costs a figure a hair), and the names and numbers as written, which only
/// an explanation shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sketch {
    /// The five sets of hashes, one after the other, each sorted and unique.
    hashes: Box<[u32]>,
    /// Where the title's words, the names, the numbers and the terms begin in `hashes`.
    starts: [u32; 4],
    pub names: Box<[Box<str>]>,
    pub numbers: Box<[Box<str>]>,
}

impl Sketch {
    pub fn words(&self) -> &[u32] {
        &self.hashes[..self.starts[0] as usize]
    }

    pub fn title_words(&self) -> &[u32] {
        &self.hashes[self.starts[0] as usize..self.starts[1] as usize]
    }

    pub fn name_hashes(&self) -> &[u32] {
        &self.hashes[self.starts[1] as usize..self.starts[2] as usize]
    }

    pub fn number_hashes(&self) -> &[u32] {
        &self.hashes[self.starts[2] as usize..self.starts[3] as usize]
    }

    /// Returns what the window indexes the item under: its words and its names.
    pub fn terms(&self) -> &[u32] {
        &self.hashes[self.starts[3] as usize..]
    }
}

impl Signature {
    pub fn sketch(&self) -> Sketch {
        let mut hashes = Vec::new();
        let mut starts = [0; 4];
        let terms = self.words.iter().chain(&self.names);
        let parts: [&mut dyn Iterator<Item = &String>; 5] = [
            &mut self.words.iter(),
            &mut self.title_words.iter(),
            &mut self.names.iter(),
            &mut self.numbers.iter(),
            &mut terms.into_iter(),
        ];
        for (i, part) in parts.into_iter().enumerate() {
            let mut set: Vec<u32> = part.map(|v| hash64(v.as_bytes()) as u32).collect();
            set.sort_unstable();
            set.dedup();
            hashes.extend(set);
            // A few hundred at most: the words of a title and of 600 characters of summary.
            if let Some(start) = starts.get_mut(i) {
                *start = hashes.len() as u32;
            }
        }
        let kept = |values: &[String]| values.iter().map(|v| v.as_str().into()).collect();
        Sketch {
            hashes: hashes.into(),
            starts,
            names: kept(&self.names),
            numbers: kept(&self.numbers),
        }
    }

    pub fn of(item: &Item) -> Self {
        let summary = item.summary.as_deref().map(plain_text);
        Self::with_summary_text(item, summary.as_deref())
    }

    /// Builds the signature as [`Signature::of`] does, given the item's summary already as plain
    /// text: the store makes it for the search index too, and making it is most of what a signature
    /// costs.
    pub fn with_summary_text(item: &Item, summary: Option<&str>) -> Self {
        // The summary, or for an item without one the start of its content.
        let content;
        let summary = match summary {
            Some(summary) => summary,
            None => {
                content = item.content.as_deref().map(plain_text).unwrap_or_default();
                &content
            }
        };
        let summary = match summary.char_indices().nth(600) {
            Some((end, _)) => &summary[..end],
            None => summary,
        };
        let (mut words, mut title_words, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
        for token in tokens(&item.title) {
            if let Some(word) = content_word(token) {
                title_words.push(word.clone());
                words.push(word);
            }
            numbers.extend(number(token));
        }
        for token in tokens(summary) {
            words.extend(content_word(token));
            numbers.extend(number(token));
        }
        Signature {
            words: sorted(words),
            title_words: sorted(title_words),
            names: sorted(names(&item.title, summary)),
            numbers: sorted(numbers),
        }
    }
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort_unstable();
    values.dedup();
    values
}

/// Words as written: letters, digits and the marks inside numbers and names.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '\'' | '’' | '.' | '$' | '%' | ',')))
        .map(|t| t.trim_matches(|c: char| matches!(c, '\'' | '’' | '.' | ',')))
        .filter(|t| !t.is_empty())
}

fn content_word(token: &str) -> Option<String> {
    bare_word(token).map(stem)
}

/// Returns `token` lower-case, without a possessive, unless it is a stop word.
fn bare_word(token: &str) -> Option<String> {
    let mut lower = token.to_lowercase();
    if let Some(possessive) = ["'s", "’s"].into_iter().find(|p| lower.ends_with(p)) {
        lower.truncate(lower.len() - possessive.len());
    }
    if lower.chars().count() < 2 || UNWORDS.contains(lower.as_str()) {
        return None;
    }
    Some(lower)
}

/// Takes plural and tense endings off, so that "crash" and "crashes", "kill" and "killed" meet.
fn stem(mut word: String) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(root) = word.strip_suffix(suffix) {
            if root.chars().count() >= 3 && !word.ends_with("ss") {
                word.truncate(root.len());
                return word;
            }
        }
    }
    word
}

/// Finds the names in `title` and `summary`: capitalized words that do not start a sentence, and
/// acronyms. A headline in Title Case gives no names of its own (every word is capitalized); the
/// summary still does.
fn names(title: &str, summary: &str) -> Vec<String> {
    let title_words: Vec<&str> = title.split_whitespace().collect();
    let capitalized = title_words
        .iter()
        .filter(|w| w.starts_with(char::is_uppercase))
        .count();
    let title_case = title_words.len() >= 4 && capitalized * 10 >= title_words.len() * 7;
    let mut out = Vec::new();
    for text in [(!title_case).then_some(title), Some(summary)]
        .into_iter()
        .flatten()
    {
        let mut sentence_start = true;
        for raw in text.split_whitespace() {
            let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
            let acronym = word.len() >= 2 && word.chars().all(|c| c.is_ascii_uppercase());
            let capital = word.starts_with(char::is_uppercase);
            if (capital && !sentence_start) || acronym {
                if let Some(name) = bare_word(word) {
                    out.push(name);
                }
            }
            sentence_start = raw.ends_with(['.', '!', '?', ':']);
        }
    }
    out
}

/// Reads `token` as a number in digits ("$1.2", "12", "1,500", "40%") or words up to twenty.
fn number(token: &str) -> Option<String> {
    if token.bytes().any(|b| b.is_ascii_digit()) {
        let digits: String = token
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let trimmed = digits.trim_matches('.');
        return (!trimmed.is_empty()).then(|| trimmed.to_owned());
    }
    // "one" is too often not a count ("one of the", "no one") to say anything.
    NUMBER_WORDS
        .iter()
        .position(|w| w.eq_ignore_ascii_case(token))
        .filter(|n| *n >= 2)
        .map(|n| n.to_string())
}

/// Hashes `bytes` with a fixed, fast 64-bit hash. No hash is ever stored (the store keeps the
/// words; sketches are made again from them when the window is loaded), so the function may change
/// from one version to the next; within a process it never does.
fn hash64(bytes: &[u8]) -> u64 {
    FixedState::default().hash_one(bytes)
}

/// Numbers written as words, which count as numbers, not as words.
const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// What is not a content word: stop words and numbers written as words, looked up once per
/// token of every item.
static UNWORDS: LazyLock<HashSet<&str, FixedState>> =
    LazyLock::new(|| STOP_WORDS.iter().chain(&NUMBER_WORDS).copied().collect());

/// Words that say nothing about which story it is.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "against",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "more",
    "most",
    "new",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "said",
    "same",
    "says",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "year",
    "years",
    "day",
    "days",
    "week",
    "today",
    "yesterday",
    "news",
    "ap",
    "aap",
    "afp",
    "reuters",
    "first",
    "last",
    "amid",
    "per",
    "cent",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn item(title: &str, summary: &str) -> Item {
        Item {
            summary: Some(format!("<p>{summary}</p>")),
            ..Item::new("t", title)
        }
    }

    #[test]
    fn names_numbers_and_words_are_read() {
        let s = Signature::of(&item(
            "Bus crash in NSW kills eight",
            "Police say the bus left the Pacific Highway near Coffs Harbour on Tuesday, killing 8 people.",
        ));
        assert!(s.names.contains(&"nsw".to_owned()), "{:?}", s.names);
        assert!(s.names.contains(&"coffs".to_owned()) && s.names.contains(&"pacific".to_owned()));
        assert!(
            !s.names.contains(&"police".to_owned()),
            "sentence starts are not names"
        );
        assert_eq!(s.numbers, ["8"]);
        assert!(s.words.contains(&"crash".to_owned()) && s.words.contains(&"kill".to_owned()));
    }

    #[test]
    fn terms_are_the_words_and_names_once_each() {
        let s = Signature::of(&item(
            "Flood waters rise in Lismore as residents evacuate",
            "Hundreds of Lismore residents have left their homes as the Wilsons River rises.",
        ));
        assert_eq!(s.names, ["lismore", "river", "wilsons"]);
        let sketch = s.sketch();
        let terms = sketch.terms();
        assert!(terms.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        for hash in sketch.words().iter().chain(sketch.name_hashes()) {
            assert!(terms.binary_search(hash).is_ok());
        }
        assert!(terms.len() <= sketch.words().len() + sketch.name_hashes().len());
    }
}
