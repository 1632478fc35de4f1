//! Stories as readers and `tributary explain` see them: the items that are one story — copies
//! from several outlets (one story, several items) or a re-publication within an outlet
//! (merged into the stored item, its GUID kept as an alias) — with the related coverage and
//! every decision that made them.

use std::collections::{HashMap, HashSet};

use super::items::{stored_item, STORED_COLUMNS, STORED_COLUMN_COUNT};
use super::sql::{args, Connection, Flow, Sql, Value};
use super::{timestamp, Store, StoreError, StoredItem};
use crate::config::Prefer;
use crate::dedup::{Features, Model, INPUT_NAMES};
use crate::model::Item;
use crate::sync::Unpoisoned;
use chrono::{DateTime, Utc};

/// Another outlet's copy of a story, shown with the one the merged feed carries.
#[derive(Clone, Debug, PartialEq)]
pub struct AlsoReported {
    pub outlet: String,
    pub url: Option<String>,
    pub title: String,
    pub score: f64,
}

/// A story and why each of its items is in it.
#[derive(Debug)]
pub struct Explanation {
    pub story: String,
    pub members: Vec<Member>,
}

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub outlet: String,
    pub title: String,
    pub url: Option<String>,
    pub first_seen: DateTime<Utc>,
    /// The decision that brought it into the story: the item it matched.
    pub joined: Option<Reason>,
    /// Re-publications merged into it: their item ids.
    pub republications: Vec<Reason>,
    /// Items linked to it as related coverage, not the same story.
    pub related: Vec<Reason>,
}

/// A decision about a member and another item, as `explain` shows it.
#[derive(Clone, Debug)]
pub struct Reason {
    pub other: String,
    pub score: f64,
    pub features: Features,
}

impl Store {
    /// Lists the newest stories, newest first: one item each (the first seen, or the copy of the
    /// outlet that comes first in `outlet_order` under `prefer = "config-order"`), with the
    /// other outlets' copies as [`AlsoReported`]. With `only` set, only those outlets' copies
    /// count: the stories they carried, shown in their copies.
    pub fn recent_stories(
        &self,
        limit: usize,
        outlet_order: &[&str],
        only: Option<&[String]>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let prefer = self.dedup.read().unpoisoned().prefer;
        let conn = self.reader();
        let among = Among::new(&conn, only);
        let stories = newest_stories(&conn, &among, limit)?;
        let mut members = Members::read(&conn, &among, &stories)?;
        let shown = Shown {
            prefer,
            outlet_order,
        };
        let mut out: Vec<StoredItem> = stories
            .into_iter()
            .filter_map(|story| {
                let copies = members.by_story.remove(&story)?;
                Some(shown.story(copies, &members.scores))
            })
            .collect();
        self.add_related(&conn, &mut out, &members.ids)?;
        out.sort_by(|a, b| {
            b.sort_at
                .cmp(&a.sort_at)
                .then_with(|| a.story.cmp(&b.story))
        });
        Ok(out)
    }

    /// Fills each story's related coverage: the items linked to any of its members
    /// (`member_ids`: item id → story) that are in another story, one per story, best first.
    fn add_related(
        &self,
        conn: &Connection,
        stories: &mut [StoredItem],
        member_ids: &HashMap<String, String>,
    ) -> Result<(), StoreError> {
        let ids: Vec<&String> = member_ids.keys().collect();
        let mut found: HashMap<String, Vec<(String, AlsoReported)>> = HashMap::new();
        for chunk in ids.chunks(250) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT r.item_id, o.story, o.outlet, o.url, o.data, r.score
                 FROM related r JOIN items o ON o.id = r.other_id WHERE r.item_id IN ({placeholders})
                 UNION ALL
                 SELECT r.other_id, o.story, o.outlet, o.url, o.data, r.score
                 FROM related r JOIN items o ON o.id = r.item_id WHERE r.other_id IN ({placeholders})"
            );
            let values: Vec<Value<'_>> = chunk
                .iter()
                .chain(chunk)
                .map(|id| Value::from(*id))
                .collect();
            conn.each_row(&sql, &values, &mut |row| {
                let (mine, other_story): (String, String) = (row.get(0)?, row.get(1)?);
                let Some(story) = member_ids.get(&mine) else {
                    return Ok(Flow::More);
                };
                if *story == other_story {
                    return Ok(Flow::More);
                }
                let data: String = row.get(4)?;
                let Ok(other) = serde_json::from_str::<Item>(&data) else {
                    return Ok(Flow::More);
                };
                found.entry(story.clone()).or_default().push((
                    other_story,
                    AlsoReported {
                        outlet: row.get(2)?,
                        url: row.get(3)?,
                        title: other.title,
                        score: row.get(5)?,
                    },
                ));
                Ok(Flow::More)
            })?;
        }
        for stored in stories {
            let Some(mut related) = found.remove(stored.story.as_str()) else {
                continue;
            };
            related.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then_with(|| a.0.cmp(&b.0)));
            let mut seen = HashSet::new();
            stored.related = related
                .into_iter()
                .filter(|(story, _)| seen.insert(story.clone()))
                .map(|(_, also)| also)
                .collect();
        }
        Ok(())
    }

    /// Lists every pair of items linked as related coverage, by item id.
    pub fn related_pairs(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.reader()
            .rows("SELECT item_id, other_id FROM related", &[], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
    }

    /// Finds the story of the item `id`, or of the item the re-publication `id` was merged into.
    pub fn story_of(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.reader().first(
            "SELECT i.story FROM items i
             WHERE i.id = ?1 OR i.id = (SELECT item_id FROM aliases WHERE alias = ?1)",
            args![id],
            |row| row.get(0),
        )
    }

    /// Explains the story of the item `id` (or of the item a re-publication `id` was merged into),
    /// and why each of its items is in it.
    pub fn explain(&self, id: &str) -> Result<Option<Explanation>, StoreError> {
        let Some(story) = self.story_of(id)? else {
            return Ok(None);
        };
        let conn = self.reader();
        let mut members: Vec<Member> = conn.rows(
            "SELECT id, outlet, data, first_seen FROM items WHERE id = ?1 AND story = id
             UNION ALL
             SELECT id, outlet, data, first_seen FROM items WHERE story = ?1 AND story <> id
             ORDER BY 4, 1",
            args![&story],
            |row| {
                let (id, data): (String, String) = (row.get(0)?, row.get(2)?);
                let item: Item =
                    serde_json::from_str(&data).map_err(|source| StoreError::Corrupt {
                        id: id.clone(),
                        source,
                    })?;
                Ok(Member {
                    id,
                    outlet: row.get(1)?,
                    title: item.title,
                    url: item.url,
                    first_seen: timestamp(row.get(3)?),
                    joined: None,
                    republications: Vec::new(),
                    related: Vec::new(),
                })
            },
        )?;
        for member in &mut members {
            member.joined = reasons(&conn, JOINED, &member.id)?.into_iter().next();
            member.republications = reasons(&conn, REPUBLISHED_AS, &member.id)?;
            member.related = reasons(&conn, RELATED_TO, &member.id)?;
        }
        Ok(Some(Explanation { story, members }))
    }
}

/// The outlets a reading is narrowed to, as SQL and its parameters.
struct Among<'a> {
    outlets: Option<Vec<Value<'a>>>,
    /// How the filter names the column where items are looked up by id or story: `+outlet`
    /// on SQLite, so that the filter does not lead it to walk every item of the outlets
    /// instead (PostgreSQL has no such hint, nor needs it).
    unindexed: &'static str,
}

impl<'a> Among<'a> {
    fn new(conn: &Connection, only: Option<&'a [String]>) -> Self {
        Among {
            outlets: only.map(|outlets| outlets.iter().map(Value::from).collect()),
            unindexed: conn.dialect().pick("+outlet", "outlet"),
        }
    }

    /// Writes `{prefix} {column} IN (?, …)`, or nothing when every outlet counts.
    fn filter(&self, prefix: &str, column: &str) -> String {
        match &self.outlets {
            None => String::new(),
            Some(outlets) => format!(
                "{prefix} {column} IN ({})",
                vec!["?"; outlets.len()].join(",")
            ),
        }
    }

    fn values(&self) -> &[Value<'a>] {
        self.outlets.as_deref().unwrap_or_default()
    }
}

/// Reads the stories of the newest items, in order, until there are `limit` of them.
fn newest_stories(
    conn: &Connection,
    among: &Among<'_>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut stories: Vec<String> = Vec::new();
    let mut listed: HashSet<String> = HashSet::new();
    if limit == 0 {
        return Ok(stories);
    }
    let sql = format!(
        "SELECT story FROM items {} ORDER BY sort_at DESC, id",
        among.filter("WHERE", "outlet")
    );
    conn.each_row(&sql, among.values(), &mut |row| {
        let story: String = row.get(0)?;
        if listed.insert(story.clone()) {
            stories.push(story);
            if stories.len() == limit {
                return Ok(Flow::Enough);
            }
        }
        Ok(Flow::More)
    })?;
    Ok(stories)
}

/// The items of some stories, with the score each joined its story with.
#[derive(Default)]
struct Members {
    by_story: HashMap<String, Vec<StoredItem>>,
    /// Item id → story.
    ids: HashMap<String, String>,
    /// Item id → the score it joined its story with, for those that joined one.
    scores: HashMap<String, f64>,
}

impl Members {
    fn read(conn: &Connection, among: &Among<'_>, stories: &[String]) -> Result<Self, StoreError> {
        let mut members = Members::default();
        for chunk in stories.chunks(250) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            // A story's first item by its id, the items that joined it by the partial index;
            // each with the score it joined with, if it did.
            let score = "(SELECT score FROM decisions WHERE item_id = items.id)";
            let sql = format!(
                "SELECT {STORED_COLUMNS}, {score} FROM items
                 WHERE id IN ({placeholders}) AND story = id {}
                 UNION ALL
                 SELECT {STORED_COLUMNS}, {score} FROM items
                 WHERE story IN ({placeholders}) AND story <> id {}",
                among.filter("AND", among.unindexed),
                among.filter("AND", among.unindexed)
            );
            let parameters = chunk
                .iter()
                .map(Value::from)
                .chain(among.values().iter().copied());
            let values: Vec<Value<'_>> = parameters.clone().chain(parameters).collect();
            conn.each_row(&sql, &values, &mut |row| {
                let item = stored_item(row)?;
                members
                    .ids
                    .insert(item.item.id.to_string(), item.story.to_string());
                if let Some(score) = row.get::<Option<f64>>(STORED_COLUMN_COUNT)? {
                    members.scores.insert(item.item.id.to_string(), score);
                }
                members
                    .by_story
                    .entry(item.story.to_string())
                    .or_default()
                    .push(item);
                Ok(Flow::More)
            })?;
        }
        Ok(members)
    }
}

/// Which copy of a story the merged feed shows.
struct Shown<'a> {
    prefer: Prefer,
    outlet_order: &'a [&'a str],
}

impl Shown<'_> {
    /// Picks the copy of the story shown, with the others as "also reported by" (each with the
    /// score it joined with, or the shown copy's when it joined none: it began the story).
    fn story(&self, mut copies: Vec<StoredItem>, scores: &HashMap<String, f64>) -> StoredItem {
        let rank = |outlet: &str| {
            self.outlet_order
                .iter()
                .position(|o| *o == outlet)
                .unwrap_or(usize::MAX)
        };
        copies.sort_by(|a, b| match self.prefer {
            Prefer::FirstSeen => {
                (a.first_seen, rank(&a.item.outlet)).cmp(&(b.first_seen, rank(&b.item.outlet)))
            }
            Prefer::ConfigOrder => {
                (rank(&a.item.outlet), a.first_seen).cmp(&(rank(&b.item.outlet), b.first_seen))
            }
        });
        let mut shown = copies.remove(0);
        let shown_score = scores.get(shown.item.id.as_str()).copied();
        shown.also = copies
            .into_iter()
            .map(|copy| AlsoReported {
                score: scores
                    .get(copy.item.id.as_str())
                    .copied()
                    .or(shown_score)
                    .unwrap_or(1.0),
                outlet: copy.item.outlet,
                url: copy.item.url,
                title: copy.item.title,
            })
            .collect();
        shown
    }
}

/// The item a member joined the story through.
const JOINED: &str = "SELECT matched, score, features FROM decisions WHERE item_id = ?1";

/// The re-publications merged into a member, by their item id.
const REPUBLISHED_AS: &str = "SELECT d.item_id, d.score, d.features FROM decisions d
     JOIN aliases a ON a.alias = d.item_id WHERE a.item_id = ?1";

/// The items linked to a member as related coverage, either way round.
const RELATED_TO: &str = "SELECT other_id, score, features FROM related WHERE item_id = ?1
     UNION ALL
     SELECT item_id, score, features FROM related WHERE other_id = ?1";

/// Reads the decisions `sql` (one of the three above) finds for the item `id`.
fn reasons(conn: &Connection, sql: &str, id: &str) -> Result<Vec<Reason>, StoreError> {
    conn.rows(sql, args![id], |r| {
        Ok(Reason {
            other: r.get(0)?,
            score: r.get(1)?,
            features: serde_json::from_str(&r.get::<String>(2)?).unwrap_or_default(),
        })
    })
}

/// Writes what each feature added to the log-odds of being one story under the fitted model, as
/// `explain` prints it: "log-odds -5.96 (start) +0.71 words +0.12 title …".
fn contributions(features: &Features) -> String {
    let model = Model::FITTED;
    if features.same_link {
        return "the same link: certain".to_owned();
    }
    let parts: Vec<String> = INPUT_NAMES
        .iter()
        .zip(model.contributions(features))
        .map(|(name, value)| format!("{value:+.2} {name}"))
        .collect();
    format!("log-odds {:+.2} (start) {}", model.bias, parts.join(" "))
}

/// The story as `tributary explain` prints it: each member, and why it joined.
impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "story {} ({} items)", self.story, self.members.len())?;
        for member in &self.members {
            writeln!(
                f,
                "- {} [{}] {}\n  first seen {}{}",
                member.id,
                member.outlet,
                member.title,
                member.first_seen.format("%Y-%m-%d %H:%M UTC"),
                member
                    .url
                    .as_deref()
                    .map(|u| format!(", {u}"))
                    .unwrap_or_default()
            )?;
            match &member.joined {
                Some(Reason {
                    other,
                    score,
                    features,
                }) => {
                    writeln!(
                        f,
                        "  joined the story through {other}: score {score:.2} ({features})"
                    )?;
                    writeln!(f, "    {}", contributions(features))?;
                }
                None => writeln!(f, "  began the story")?,
            }
            for Reason {
                other,
                score,
                features,
            } in &member.republications
            {
                writeln!(
                    f,
                    "  re-published as {other}, merged into it: score {score:.2} ({features})"
                )?;
            }
            for Reason {
                other,
                score,
                features,
            } in &member.related
            {
                writeln!(
                    f,
                    "  related to {other}, another story: score {score:.2} ({features})"
                )?;
                writeln!(f, "    {}", contributions(features))?;
            }
        }
        Ok(())
    }
}
