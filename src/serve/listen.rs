//! Readers' connections, each bounded in time and all of them in number, so that no reader can
//! hold what the others need: a socket that sends nothing, half a request or a byte a second is
//! closed when its headers are late, one that stops reading its answer when a write stalls, and
//! past the cap new connections wait in the kernel's queue rather than spend the open files the
//! polls and the store need.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::metrics::Metrics;

/// How long a connection may take to send a request's headers, counted from when it opens or
/// from the end of its previous answer: it is also how long an idle keep-alive lasts.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to a reader may wait for the reader to take the bytes before the
/// connection is closed (nginx's `send_timeout`, shorter).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Open files kept for everything but readers: fetches, the store's files, the log.
const FILES_FOR_THE_REST: u64 = 512;
/// The most connections served at once, whatever the open files limit allows: each idle one
/// costs buffers, and a feed's readers come and go.
const MOST_CONNECTIONS: u64 = 16_384;
/// How long to wait before accepting again when accepting failed (out of open files): the
/// error repeats at once otherwise, and fills the log.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Computes the most readers' connections served at once with `open_files` descriptors: fewer than
/// the limit by what the polls and the store need, so that a crowd of readers never makes a
/// fetch fail for want of a socket.
pub fn connection_cap(open_files: u64) -> usize {
    let cap = open_files
        .saturating_sub(FILES_FOR_THE_REST)
        .clamp(16, MOST_CONNECTIONS);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// Serves `app` on `listener` until `stop` completes, then lets open connections finish their
/// answers and returns once they have.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cap: usize,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) {
    metrics.set_connection_cap(cap);
    let mut gate = Gate {
        permits: Arc::new(Semaphore::new(cap)),
        cap,
        full: false,
    };
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = gate.accept(&listener) => accepted,
        };
        let Some((stream, permit)) = accepted else {
            tokio::time::sleep(ACCEPT_RETRY).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Watched::new(stream, permit, Arc::clone(&metrics)));
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    graceful.shutdown().await;
}

/// The cap on connections, and whether it was reached (said once each time, not per accept).
struct Gate {
    permits: Arc<Semaphore>,
    cap: usize,
    full: bool,
}

impl Gate {
    /// Waits for the next connection and its place under the cap; `None` when accepting failed
    /// (logged).
    async fn accept(
        &mut self,
        listener: &TcpListener,
    ) -> Option<(TcpStream, OwnedSemaphorePermit)> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                self.full = false;
                permit
            }
            Err(_) => {
                if !self.full {
                    self.full = true;
                    tracing::warn!(
                        cap = self.cap,
                        "as many readers' connections as allowed: new ones wait until one closes"
                    );
                }
                Arc::clone(&self.permits).acquire_owned().await.ok()?
            }
        };
        match listener.accept().await {
            Ok((stream, _)) => Some((stream, permit)),
            Err(e) => {
                tracing::error!(error = %e, "cannot accept a connection");
                None
            }
        }
    }
}

/// A reader's socket: counted while open, and failed with `TimedOut` once a write has waited
/// [`SEND_TIMEOUT`] for the reader.
struct Watched {
    stream: TcpStream,
    /// Boxed so that the socket stays `Unpin`, as hyper needs; reset, not reallocated.
    stalled: Pin<Box<Sleep>>,
    waiting: bool,
    _open: Open,
}

/// A connection counted open in `/metrics`, and its place under the cap, until dropped.
struct Open {
    metrics: Arc<Metrics>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

impl Watched {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Self {
        metrics.connection_opened();
        Self {
            stream,
            stalled: Box::pin(tokio::time::sleep(SEND_TIMEOUT)),
            waiting: false,
            _open: Open {
                metrics,
                _permit: permit,
            },
        }
    }

    /// Returns `write`'s result, unless the reader has taken nothing for [`SEND_TIMEOUT`].
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match write(Pin::new(&mut self.stream), cx) {
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    self.stalled.as_mut().reset(Instant::now() + SEND_TIMEOUT);
                }
                match self.stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the reader took no bytes for the send timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.waiting = false;
                ready
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .bounded(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .bounded(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .bounded(cx, |stream, cx| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_files_for_polls_and_the_store() {
        assert_eq!(connection_cap(1024), 512);
        assert_eq!(connection_cap(65_536), 16_384);
        assert_eq!(connection_cap(100), 16);
    }
}
