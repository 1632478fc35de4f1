//! The published state: for the merged feed and each outlet, its newest items and their
//! default renderings, built once per change of the stored items.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use sha2::{Digest, Sha256};

use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::config::Config;
use crate::model::hex;
use crate::render::{self, Channel, Format};
use crate::store::{Store, StoreError, StoredItem};

/// A feed document ready to send, with its validators.
#[derive(Clone)]
pub struct RenderedFeed {
    pub body: Bytes,
    pub etag: String,
    pub last_modified: Option<SystemTime>,
}

/// The merged feed (`None`) or one outlet's (`Some(id)`).
type ScopeKey = Option<String>;

struct Scope {
    title: String,
    path: String,
    /// The merged feed: one entry per story.
    merged: bool,
    items: Vec<Arc<StoredItem>>,
    rendered: HashMap<Format, RenderedFeed>,
}

pub struct Published {
    base_url: url::Url,
    outlet_names: HashMap<String, String>,
    scopes: HashMap<ScopeKey, Scope>,
    item_count: u64,
}

impl Published {
    /// Reads the newest items of every scope and renders each scope's default feeds.
    pub fn build(store: &Store, config: &Config) -> Result<Self, StoreError> {
        let mut published = Published {
            base_url: config.server.base_url.clone(),
            outlet_names: config
                .outlets
                .iter()
                .map(|o| (o.id.clone(), o.name.clone()))
                .collect(),
            scopes: HashMap::new(),
            item_count: store.item_count()?,
        };
        let title = &config.server.title;
        let order: Vec<&str> = config.outlets.iter().map(|o| o.id.as_str()).collect();
        let merged = store.recent_stories(MAX_LIMIT, &order)?;
        published.add_scope(None, title.clone(), String::new(), merged);
        for outlet in &config.outlets {
            let items = store.recent(&outlet.id, MAX_LIMIT)?;
            let scope_title = format!("{title}: {}", outlet.name);
            let path = format!("outlets/{}/", outlet.id);
            published.add_scope(Some(outlet.id.clone()), scope_title, path, items);
        }
        Ok(published)
    }

    fn add_scope(&mut self, key: ScopeKey, title: String, path: String, items: Vec<StoredItem>) {
        let mut scope = Scope {
            merged: key.is_none(),
            title,
            path,
            items: items.into_iter().map(Arc::new).collect(),
            rendered: HashMap::new(),
        };
        for format in Format::ALL {
            let feed = self.render(&scope, format, DEFAULT_LIMIT);
            scope.rendered.insert(format, feed);
        }
        self.scopes.insert(key, scope);
    }

    fn render(&self, scope: &Scope, format: Format, limit: usize) -> RenderedFeed {
        let channel = Channel {
            title: scope.title.clone(),
            base_url: &self.base_url,
            path: scope.path.clone(),
            outlet_names: &self.outlet_names,
            merged: scope.merged,
        };
        let items = &scope.items[..limit.min(scope.items.len())];
        let body = render::render(format, &channel, items);
        RenderedFeed {
            etag: format!("\"{}\"", hex(&Sha256::digest(&body)[..12])),
            last_modified: items.iter().map(|s| SystemTime::from(s.modified_at)).max(),
            body: Bytes::from(body),
        }
    }

    /// The feed of `outlet` (or the merged one) in `format` with at most `limit` items; `None`
    /// for an outlet that is not configured. The default size is served as rendered; other
    /// sizes are rendered from the items in memory.
    pub fn feed(&self, outlet: Option<&str>, format: Format, limit: usize) -> Option<RenderedFeed> {
        let scope = self.scopes.get(&outlet.map(str::to_owned))?;
        match scope.rendered.get(&format) {
            Some(feed) if limit == DEFAULT_LIMIT => Some(feed.clone()),
            _ => Some(self.render(scope, format, limit)),
        }
    }

    pub fn item_count(&self) -> u64 {
        self.item_count
    }
}
