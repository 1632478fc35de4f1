//! Narrowing a feed: a view's rules (`[[view]]`), or a reader's query (`outlet=`, `q=`,
//! `category=`, `since=`). Filters run over the items already in memory; only `q=` asks the
//! store, whose full-text index finds the matching items.

use chrono::{DateTime, Utc};

use crate::config::{Pattern, View};
use crate::parse::plain_text;
use crate::store::{Matches, StoredItem};

#[derive(Debug, Default)]
pub struct Filter {
    /// Any of these outlets; empty for all.
    pub outlets: Vec<String>,
    /// One of these must match the title or summary, when there are any.
    pub include: Vec<Pattern>,
    /// None of these may match the title or summary.
    pub exclude: Vec<Pattern>,
    /// Any of these categories, compared without case; empty for all.
    pub categories: Vec<String>,
    /// Only items placed at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only what a full-text search found.
    pub matches: Option<Matches>,
}

impl Filter {
    pub fn of_view(view: &View) -> Self {
        Self {
            outlets: view.outlets.clone(),
            include: view.include.clone(),
            exclude: view.exclude.clone(),
            categories: view.categories.clone(),
            ..Self::default()
        }
    }

    /// Tells whether `stored` belongs in the feed. In a merged feed, a story belongs to every
    /// outlet that carried it, and matches a search when any of its copies does.
    pub fn accepts(&self, stored: &StoredItem, merged: bool) -> bool {
        let item = &stored.item;
        let carried_by = |outlet: &String| {
            item.outlet == *outlet || (merged && stored.also.iter().any(|a| a.outlet == *outlet))
        };
        if !self.outlets.is_empty() && !self.outlets.iter().any(carried_by) {
            return false;
        }
        if self.since.is_some_and(|since| stored.sort_at < since) {
            return false;
        }
        if !self.categories.is_empty()
            && !item.categories.iter().any(|c| {
                self.categories
                    .iter()
                    .any(|wanted| wanted.to_lowercase() == c.to_lowercase())
            })
        {
            return false;
        }
        if let Some(found) = &self.matches {
            let hit = match merged {
                true => found.stories.contains(stored.story.as_str()),
                false => found.items.contains(item.id.as_str()),
            };
            if !hit {
                return false;
            }
        }
        if self.include.is_empty() && self.exclude.is_empty() {
            return true;
        }
        let text = match &item.summary {
            Some(summary) => format!("{}\n{}", item.title, plain_text(summary)),
            None => item.title.clone(),
        };
        (self.include.is_empty() || self.include.iter().any(|p| p.is_match(&text)))
            && !self.exclude.iter().any(|p| p.is_match(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Item;
    use crate::store::AlsoReported;

    fn story(outlet: &str, also: &str) -> StoredItem {
        let item = Item::new(outlet, "Floods in the north");
        StoredItem {
            story: item.id.clone(),
            also: vec![AlsoReported {
                outlet: also.into(),
                url: None,
                title: "Northern floods".into(),
                score: 0.9,
            }],
            related: Vec::new(),
            item,
            feed_url: String::new(),
            sort_at: Utc::now(),
            first_seen: Utc::now(),
            modified_at: Utc::now(),
        }
    }

    #[test]
    fn a_merged_story_belongs_to_every_outlet_that_carried_it() {
        let filter = Filter {
            outlets: vec!["news".into()],
            ..Filter::default()
        };
        assert!(filter.accepts(&story("abc", "news"), true));
        assert!(!filter.accepts(&story("abc", "news"), false));
        assert!(!filter.accepts(&story("abc", "wire"), true));
    }
}
