//! `tributary import-opml`: another reader's subscriptions added to `feeds.toml` as outlets,
//! with the file's comments and layout kept (`toml_edit`). Feeds of one site become one
//! outlet; a feed on the site of an outlet already configured joins that outlet.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};
use url::Url;

use super::{Config, ConfigError};
use crate::opml::Subscription;

/// The edited file, and one line per subscription saying what became of it.
pub struct Imported {
    pub text: String,
    pub added: usize,
    pub report: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("the file is not TOML toml_edit can keep as written: {0}")]
    Toml(#[from] toml_edit::TomlError),
    #[error("the file lists outlets other than as [[outlet]] tables; add these feeds by hand")]
    Layout,
}

/// Outlets to add, by site.
struct NewOutlet {
    name: String,
    feeds: Vec<String>,
}

/// Adds `subscriptions` to `text`, the contents of `path` (which holds `config`), and checks
/// that the result is a valid config.
pub fn import(
    text: &str,
    path: &Path,
    config: &Config,
    subscriptions: &[Subscription],
) -> Result<Imported, ImportError> {
    let mut doc: DocumentMut = text.parse()?;
    let mut plan = Plan::of(config, subscriptions);
    let added = plan.write(&mut doc, config)?;
    let text = doc.to_string();
    super::parse_with_env(&text, path)?;
    Ok(Imported {
        text,
        added,
        report: plan.report,
    })
}

/// What becomes of each subscription, decided before the file is touched.
#[derive(Default)]
struct Plan {
    /// Feeds on the site of an outlet already configured: the outlet's id, and the feed.
    joining: Vec<(String, String)>,
    /// Outlets to add, by site.
    new: BTreeMap<String, NewOutlet>,
    /// One line per subscription.
    report: Vec<String>,
}

impl Plan {
    /// Skips what is not a feed to add (not http(s), tributary's own, already polled, listed
    /// twice), sends a feed on a configured outlet's site to that outlet, and groups the rest
    /// by site into new outlets.
    fn of(config: &Config, subscriptions: &[Subscription]) -> Self {
        let mut known: HashMap<String, String> = HashMap::new();
        let mut sites: HashMap<String, String> = HashMap::new();
        for outlet in &config.outlets {
            for feed in &outlet.feeds {
                known.insert(feed.to_string(), outlet.id.clone());
                sites.entry(site(feed)).or_insert_with(|| outlet.id.clone());
            }
        }
        let own = config.server.base_url.as_str();
        let mut plan = Plan::default();
        let mut listed = HashSet::new();
        for subscription in subscriptions {
            let raw = &subscription.url;
            let url = match Url::parse(raw) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => url,
                _ => {
                    plan.report
                        .push(format!("skipped {raw}: not an http(s) URL"));
                    continue;
                }
            };
            let address = url.to_string();
            if address.starts_with(own) {
                plan.report
                    .push(format!("skipped {address}: tributary's own feed"));
            } else if let Some(outlet) = known.get(&address) {
                plan.report.push(format!(
                    "skipped {address}: already polled by outlet {outlet}"
                ));
            } else if !listed.insert(address.clone()) {
                plan.report.push(format!("skipped {address}: listed twice"));
            } else if let Some(outlet) = sites.get(&site(&url)) {
                plan.report
                    .push(format!("added {address} to outlet {outlet}"));
                plan.joining.push((outlet.clone(), address));
            } else {
                let entry = plan.new.entry(site(&url)).or_insert_with(|| NewOutlet {
                    name: match subscription.title.as_str() {
                        "" => site(&url),
                        title => title.to_owned(),
                    },
                    feeds: Vec::new(),
                });
                entry.feeds.push(address);
            }
        }
        plan
    }

    /// Writes the plan into `doc`'s `[[outlet]]` tables (ids of new outlets unique among
    /// `config`'s); returns how many feeds were added.
    fn write(&mut self, doc: &mut DocumentMut, config: &Config) -> Result<usize, ImportError> {
        let outlets = match doc.get_mut("outlet") {
            None => {
                doc.insert("outlet", Item::ArrayOfTables(ArrayOfTables::new()));
                doc.get_mut("outlet").and_then(Item::as_array_of_tables_mut)
            }
            Some(item) => item.as_array_of_tables_mut(),
        }
        .ok_or(ImportError::Layout)?;
        for (id, address) in &self.joining {
            let feeds = outlets
                .iter_mut()
                .find(|t| t.get("id").and_then(Item::as_str) == Some(id))
                .and_then(|t| t.get_mut("feeds"))
                .and_then(Item::as_array_mut)
                .ok_or(ImportError::Layout)?;
            feeds.push(address.as_str());
        }
        let mut ids: HashSet<String> = config.outlets.iter().map(|o| o.id.clone()).collect();
        let mut added = self.joining.len();
        for (site, outlet) in std::mem::take(&mut self.new) {
            let id = unique_id(&site, &mut ids);
            let mut table = Table::new();
            table.insert("id", value(id.as_str()));
            table.insert("name", value(outlet.name.as_str()));
            let feeds: Array = outlet.feeds.iter().map(String::as_str).collect();
            table.insert("feeds", value(feeds));
            outlets.push(table);
            added += outlet.feeds.len();
            self.report.push(format!(
                "added outlet {id} ({}): {}",
                outlet.name,
                outlet.feeds.join(", ")
            ));
        }
        Ok(added)
    }
}

/// Finds the site a feed belongs to: its host without `www.`.
fn site(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

/// Makes an outlet id from a site (`abc.net.au` → `abc-net-au`) that is not yet in `ids`.
fn unique_id(site: &str, ids: &mut HashSet<String>) -> String {
    let base: String = site
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '-',
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned();
    let base = if base.is_empty() {
        "outlet".to_owned()
    } else {
        base
    };
    let mut id = base.clone();
    let mut n = 2;
    while !ids.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# My feeds, hand-written.
[server]
base_url = "https://river.example/"

# The ABC, polled often.
[[outlet]]
id = "abc"
feeds = ["https://www.abc.net.au/news/feed/51120/rss.xml"]  # Just In
schedule = "0 */5 * * * *"
"#;

    fn subscription(url: &str, title: &str) -> Subscription {
        Subscription {
            url: url.into(),
            title: title.into(),
        }
    }

    #[test]
    fn subscriptions_become_outlets_and_the_file_keeps_its_comments() {
        let path = Path::new("/etc/tributary/feeds.toml");
        let config = super::super::parse(CONFIG, path, None).unwrap();
        let subscriptions = [
            subscription(
                "https://www.abc.net.au/news/feed/2942460/rss.xml",
                "ABC Top",
            ),
            subscription(
                "https://www.abc.net.au/news/feed/51120/rss.xml",
                "ABC Just In",
            ),
            subscription(
                "https://www.news.com.au/content-feeds/latest-news-national/",
                "News.com.au",
            ),
            subscription(
                "https://news.com.au/content-feeds/latest-news-world/",
                "World",
            ),
            subscription(
                "https://www.news.com.au/content-feeds/latest-news-world/",
                "again",
            ),
            subscription("https://river.example/feed.xml", "Me"),
            subscription("ftp://old.example/feed", "Old"),
            subscription(
                "https://news.com.au/content-feeds/latest-news-world/",
                "World",
            ),
        ];
        let imported = import(CONFIG, path, &config, &subscriptions).unwrap();
        assert_eq!(imported.added, 4);
        assert_eq!(
            imported.report,
            [
                "added https://www.abc.net.au/news/feed/2942460/rss.xml to outlet abc",
                "skipped https://www.abc.net.au/news/feed/51120/rss.xml: already polled by outlet abc",
                "skipped https://river.example/feed.xml: tributary's own feed",
                "skipped ftp://old.example/feed: not an http(s) URL",
                "skipped https://news.com.au/content-feeds/latest-news-world/: listed twice",
                "added outlet news-com-au (News.com.au): https://www.news.com.au/content-feeds/latest-news-national/, \
                 https://news.com.au/content-feeds/latest-news-world/, https://www.news.com.au/content-feeds/latest-news-world/",
            ]
        );
        let text = &imported.text;
        assert!(
            text.starts_with("# My feeds, hand-written.\n[server]"),
            "{text}"
        );
        assert!(
            text.contains("# The ABC, polled often.\n[[outlet]]\nid = \"abc\""),
            "{text}"
        );
        assert!(text.contains("  # Just In\n"), "{text}");
        let config = super::super::parse(text, path, None).unwrap();
        let ids: Vec<_> = config.outlets.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["abc", "news-com-au"]);
        assert_eq!(config.outlets[0].feeds.len(), 2);
        assert_eq!(config.outlets[0].schedule, "0 */5 * * * *");
    }

    #[test]
    fn ids_stay_unique() {
        let mut ids = HashSet::from(["abc-net-au".to_owned()]);
        assert_eq!(unique_id("abc.net.au", &mut ids), "abc-net-au-2");
        assert_eq!(unique_id("ÜBER.example", &mut ids), "ber-example");
        assert_eq!(unique_id("..", &mut ids), "outlet");
    }
}
