//! `[[view]]`: a named slice of the merged feed (some outlets, some subjects), served beside it
//! at `/views/{id}/`.

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::{check_id, Invalid, Outlet};

#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub id: String,
    pub title: String,
    /// The outlets whose stories the view shows; empty for all of them.
    pub outlets: Vec<String>,
    /// An item must match one of these (when there are any), in its title or summary.
    pub include: Vec<Pattern>,
    /// An item matching any of these is left out.
    pub exclude: Vec<Pattern>,
    /// An item must have one of these categories (when there are any), compared without case.
    pub categories: Vec<String>,
}

/// A keyword (matched as a whole word, without regard to case) or, between slashes, a regular
/// expression (`"/bush ?fires?/"`, case-sensitive unless it says `(?i)`).
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    pub fn parse(source: &str) -> Result<Self, String> {
        let regex = match source.strip_prefix('/').and_then(|s| s.strip_suffix('/')) {
            Some(expression) if !expression.is_empty() => regex::Regex::new(expression)
                .map_err(|e| format!("{source:?} is not a regular expression: {e}"))?,
            _ if source.trim().is_empty() => return Err("an empty keyword matches nothing".into()),
            _ => regex::RegexBuilder::new(&format!(r"\b{}\b", regex::escape(source.trim())))
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("{source:?} cannot be matched: {e}"))?,
        };
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawView {
    id: Spanned<String>,
    title: Option<String>,
    #[serde(default)]
    outlets: Vec<Spanned<String>>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    categories: Vec<String>,
}

pub(super) fn validate(raw: Vec<RawView>, outlets: &[Outlet]) -> Result<Vec<View>, Invalid> {
    let mut seen = HashSet::new();
    raw.into_iter()
        .map(|view| {
            check_id("view", &view.id)?;
            if !seen.insert(view.id.get_ref().clone()) {
                let message = format!("duplicate view id {:?}", view.id.get_ref());
                return Err((view.id.span(), message));
            }
            view.validate(outlets)
        })
        .collect()
}

impl RawView {
    fn validate(self, outlets: &[Outlet]) -> Result<View, Invalid> {
        let id = self.id.get_ref();
        for outlet in &self.outlets {
            if !outlets.iter().any(|o| o.id == *outlet.get_ref()) {
                let message = format!(
                    "view {id:?} names outlet {:?}, which is not configured",
                    outlet.get_ref()
                );
                return Err((outlet.span(), message));
            }
        }
        let patterns = |list: Vec<Spanned<String>>| {
            list.into_iter()
                .map(|p| Pattern::parse(p.get_ref()).map_err(|m| (p.span(), m)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(View {
            title: self.title.unwrap_or_else(|| id.clone()),
            id: self.id.into_inner(),
            outlets: self.outlets.into_iter().map(Spanned::into_inner).collect(),
            include: patterns(self.include)?,
            exclude: patterns(self.exclude)?,
            categories: self.categories,
        })
    }
}
