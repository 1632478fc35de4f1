//! Servers that break HTTP itself, which a well-behaved HTTP library will not do on purpose:
//! they speak raw TCP on 127.0.0.1.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Accepts the connection, reads the request and never says a word.
    NeverAnswers,
    /// Sends the headers, then a byte every 200 ms, for ever.
    Trickles,
    /// Sends the headers, then bytes as fast as it can, for ever.
    EndlessBody,
    /// Promises 10,000 bytes and closes the connection after the first 1,000.
    TruncatedBody,
}

/// Starts a server that commits `fault` on every connection; returns the URL of its feed.
pub async fn serve(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(commit(fault, stream));
        }
    });
    format!("http://{addr}/feed.xml")
}

async fn commit(fault: Fault, mut stream: TcpStream) {
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request).await;
    let head = |length: Option<usize>| {
        let length = length.map_or(String::new(), |n| format!("Content-Length: {n}\r\n"));
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n{length}Connection: close\r\n\r\n"
        )
    };
    match fault {
        Fault::NeverAnswers => tokio::time::sleep(Duration::from_secs(3600)).await,
        Fault::Trickles => {
            let _ = stream.write_all(head(None).as_bytes()).await;
            let _ = stream.write_all(b"<rss version=\"2.0\">").await;
            while stream.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Fault::EndlessBody => {
            let _ = stream.write_all(head(None).as_bytes()).await;
            let chunk = vec![b'x'; 64 * 1024];
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Fault::TruncatedBody => {
            let _ = stream.write_all(head(Some(10_000)).as_bytes()).await;
            let _ = stream.write_all(&[b' '; 1000]).await;
        }
    }
}
