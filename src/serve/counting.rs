//! Each answered request counted by its route and status for `/metrics`.
//!
//! Counted by wrapping each route's handler, which knows its route's path when the router is
//! built, rather than by a middleware layer, which boxes and clones the service under it for
//! every request and reads the matched path back out of the request (what that costs a
//! `/feed.xml` request: BENCHMARKS.md, section 2).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Router;

use super::{AppState, HttpError};
use crate::metrics::Metrics;

/// The route of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// A router whose every route, and its fallbacks, counts the requests it answers.
#[derive(Default)]
pub struct Routes(Router<AppState>);

impl Routes {
    /// Adds `handler` for `GET` (and `HEAD`) at `path`; other methods are answered `405`.
    pub fn get<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let other_method = || async {
            HttpError(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET and HEAD are answered".into(),
            )
        };
        let route: MethodRouter<AppState> =
            get(Counted::new(path, handler)).fallback(Counted::new(path, other_method));
        Self(self.0.route(path, route))
    }

    /// Builds the router, answering `404` where no route matches.
    pub fn build(self) -> Router<AppState> {
        let not_found = || async { HttpError(StatusCode::NOT_FOUND, "no such page".into()) };
        self.0.fallback(Counted::new(UNMATCHED, not_found))
    }
}

/// `handler`, counting its answers under `route`.
#[derive(Clone)]
struct Counted<H> {
    route: &'static str,
    handler: H,
}

impl<H> Counted<H> {
    fn new(route: &'static str, handler: H) -> Self {
        Self { route, handler }
    }
}

impl<H, T> Handler<T, AppState> for Counted<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = CountedAnswer<H::Future>;

    fn call(self, request: Request, state: AppState) -> Self::Future {
        CountedAnswer {
            metrics: Arc::clone(&state.metrics),
            route: self.route,
            answer: self.handler.call(request, state),
        }
    }
}

pin_project_lite::pin_project! {
    /// A handler's answer, counted when it is ready (not boxed again: the handler's future
    /// is polled in place).
    pub struct CountedAnswer<F> {
        #[pin]
        answer: F,
        route: &'static str,
        metrics: Arc<Metrics>,
    }
}

impl<F: Future<Output = Response>> Future for CountedAnswer<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.project();
        let response = ready!(this.answer.poll(cx));
        this.metrics
            .observe_request(this.route, response.status().as_u16());
        Poll::Ready(response)
    }
}
