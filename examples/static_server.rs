//! The baseline for `bench/run.sh`: the least an axum server can do to serve a feed — one
//! handler returning the same bytes from memory — on the same runtime as tributary.
//!
//! Run: `cargo run --release --example static_server -- FILE ADDRESS` (serves FILE at
//! `/feed.xml` on ADDRESS, e.g. 127.0.0.1:18082).

use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(address)) = (args.next(), args.next()) else {
        eprintln!("usage: static_server FILE ADDRESS");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(&file)?);
    let app = axum::Router::new().route(
        "/feed.xml",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, app).await
}
