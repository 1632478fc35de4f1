//! WebSub publishing: when a published feed changes, the hub in `[server] websub_hub` is told
//! (`hub.mode=publish`), so that it fetches the feed and pushes it to its subscribers.

use crate::sync::Unpoisoned;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use url::Url;

/// The task that tells the hub of changed feeds: feeds that change while it is busy are
/// merged into one set, so a slow or unreachable hub delays the pings but never piles them up.
#[derive(Clone)]
pub struct Publisher {
    pending: Arc<Mutex<BTreeSet<String>>>,
    wake: Arc<Notify>,
}

impl Publisher {
    /// Starts the task; `hub` says the hub in force when a ping is due (a reload may change it).
    pub fn start(client: reqwest::Client, hub: impl Fn() -> Option<Url> + Send + 'static) -> Self {
        let publisher = Self {
            pending: Arc::default(),
            wake: Arc::new(Notify::new()),
        };
        let (pending, wake) = (Arc::clone(&publisher.pending), Arc::clone(&publisher.wake));
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                let feeds: Vec<String> = std::mem::take(&mut *pending.lock().unpoisoned())
                    .into_iter()
                    .collect();
                if let Some(hub) = hub() {
                    publish(&client, &hub, &feeds).await;
                }
            }
        });
        publisher
    }

    pub fn changed(&self, feeds: Vec<String>) {
        self.pending.lock().unpoisoned().extend(feeds);
        self.wake.notify_one();
    }
}

/// Tells `hub` that each feed in `feeds` changed, one request per feed (the form hubs
/// accept most widely). Failures are logged: subscribers still poll.
async fn publish(client: &reqwest::Client, hub: &Url, feeds: &[String]) {
    for feed in feeds {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", feed)
            .finish();
        let sent = client
            .post(hub.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {
                tracing::debug!(%hub, %feed, "told the WebSub hub")
            }
            Ok(answer) => {
                tracing::warn!(%hub, %feed, status = answer.status().as_u16(), "the WebSub hub refused the ping")
            }
            Err(e) => tracing::warn!(%hub, %feed, error = %e, "cannot reach the WebSub hub"),
        }
    }
}
