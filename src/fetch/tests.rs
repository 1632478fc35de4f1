use super::*;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

fn settings() -> Settings {
    Settings {
        user_agent: "tributary-test".into(),
        timeout: Duration::from_secs(5),
        max_body_bytes: 1 << 20,
        per_host_concurrency: 2,
        max_concurrency: 8,
        allow_private_networks: false,
        proxy: None,
    }
}

/// Starts a server on 127.0.0.1 with redirects of every kind; returns its base URL.
async fn server() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app =
        axum::Router::new()
            .route("/feed", get(|| async { "<rss/>" }))
            .route("/old", get(|| async { Redirect::permanent("/older") }))
            .route("/older", get(|| async { moved("/feed") }))
            .route("/temporary", get(|| async { Redirect::temporary("/old") }))
            .route("/loop-a", get(|| async { Redirect::temporary("/loop-b") }))
            .route("/loop-b", get(|| async { Redirect::temporary("/loop-a") }))
            .route("/chain/{n}", get(chain))
            .route(
                "/to-localhost",
                get(move || async move {
                    Redirect::temporary(&format!("http://localhost:{port}/feed"))
                }),
            )
            .route(
                "/to-metadata",
                get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
            )
            .route("/nowhere", get(|| async { moved("") }))
            .route("/bomb", get(gzip_bomb));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap()
}

fn moved(location: &str) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, location)],
    )
        .into_response()
}

async fn chain(axum::extract::Path(n): axum::extract::Path<u32>) -> Redirect {
    Redirect::temporary(&format!("/chain/{}", n + 1))
}

/// Serves 64 MiB of zeros, gzipped into about 64 KiB.
async fn gzip_bomb() -> Response {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    let body = encoder.finish().unwrap();
    ([(header::CONTENT_ENCODING, "gzip")], body).into_response()
}

async fn fetch(fetcher: &Fetcher, base: &Url, path: &str) -> Result<Fetched, FetchError> {
    let url = base.join(path).unwrap();
    let slot = fetcher.slot(&url).await;
    fetcher
        .fetch(slot, &url, &url, &Validators::default())
        .await
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fetcher = Fetcher::new(settings()).unwrap();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/feed")).unwrap();
    let slot = fetcher.slot(&url).await;
    let error = fetcher
        .fetch(slot, &url, &url, &Validators::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Connection refused"), "{error}");
    assert_eq!(error.status(), None);
}

#[tokio::test]
async fn only_a_chain_of_permanent_redirects_moves_the_feed() {
    let base = server().await;
    let fetcher = Fetcher::new(settings()).unwrap();
    let moved = fetch(&fetcher, &base, "/old").await.unwrap();
    assert_eq!(moved.moved_to, Some(base.join("/feed").unwrap()));
    assert_eq!(moved.body.unwrap().bytes, b"<rss/>");
    let temporary = fetch(&fetcher, &base, "/temporary").await.unwrap();
    assert_eq!(temporary.moved_to, None);
    assert_eq!(
        temporary.url,
        base.join("/feed").unwrap(),
        "the base for relative links"
    );
    let direct = fetch(&fetcher, &base, "/feed").await.unwrap();
    assert_eq!(direct.moved_to, None);
}

#[tokio::test]
async fn loops_endless_chains_and_empty_locations_are_errors() {
    let base = server().await;
    let fetcher = Fetcher::new(settings()).unwrap();
    let looped = fetch(&fetcher, &base, "/loop-a").await.unwrap_err();
    assert!(matches!(looped, FetchError::RedirectLoop(_)), "{looped}");
    let endless = fetch(&fetcher, &base, "/chain/0").await.unwrap_err();
    assert!(matches!(endless, FetchError::TooManyRedirects), "{endless}");
    let nowhere = fetch(&fetcher, &base, "/nowhere").await.unwrap_err();
    assert!(matches!(nowhere, FetchError::BadRedirect(_)), "{nowhere}");
}

#[tokio::test]
async fn redirects_into_internal_networks_are_refused_unless_allowed() {
    let base = server().await;
    let fetcher = Fetcher::new(settings()).unwrap();
    let by_name = fetch(&fetcher, &base, "/to-localhost").await.unwrap_err();
    assert!(
        by_name.to_string().contains("internal addresses"),
        "{by_name}"
    );
    let metadata = fetch(&fetcher, &base, "/to-metadata").await.unwrap_err();
    assert!(matches!(metadata, FetchError::Refused { .. }), "{metadata}");
    assert!(metadata.to_string().contains("allow_private_networks"));

    let open = Fetcher::new(Settings {
        allow_private_networks: true,
        ..settings()
    })
    .unwrap();
    let fetched = fetch(&open, &base, "/to-localhost").await.unwrap();
    assert_eq!(fetched.body.unwrap().bytes, b"<rss/>");
}

#[tokio::test]
async fn a_gzip_bomb_is_cut_off_after_decompression() {
    let base = server().await;
    let fetcher = Fetcher::new(settings()).unwrap();
    let error = fetch(&fetcher, &base, "/bomb").await.unwrap_err();
    assert!(
        matches!(error, FetchError::TooLarge { limit } if limit == 1 << 20),
        "{error}"
    );
}
