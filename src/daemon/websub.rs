//! WebSub publishing: when a published feed changes, the hub in `[server] websub_hub` is told
//! (`hub.mode=publish`), so that it fetches the feed and pushes it to its subscribers.

use std::time::Duration;

use url::Url;

/// Tells `hub` that each feed in `feeds` changed, one request per feed (the form hubs
/// accept most widely). Failures are logged: subscribers still poll.
pub async fn publish(client: &reqwest::Client, hub: &Url, feeds: &[String]) {
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
