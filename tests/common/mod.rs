//! The harness for end-to-end tests: a fixture feed server on 127.0.0.1 that behaves like an
//! outlet (ETag, Last-Modified, 304) and records what it was asked, and the real `tributary`
//! binary started against it with a config in a temporary folder.

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub mod pg_server;
pub mod raw;

pub const ABC_JUSTIN: &str = "tests/fixtures/abc/abc-justin-51120-2017-05-23.xml";
pub const ABC_TOP_0706: &str = "tests/fixtures/abc/abc-topstories-2017-07-11T0706.xml";
pub const ABC_TOP_1240: &str = "tests/fixtures/abc/abc-topstories-2017-07-11T1240.xml";
pub const NEWS_NATIONAL: &str = "tests/fixtures/newscomau/latest-news-national.xml";
pub const NEWS_WORLD: &str = "tests/fixtures/newscomau/latest-news-world.xml";

pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("fixture exists")
}

/// One document the fixture server serves.
#[derive(Clone)]
pub struct Doc {
    pub status: u16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// More response headers (Retry-After, Cache-Control, Location, Content-Encoding…).
    pub headers: Vec<(&'static str, String)>,
    /// How long the server thinks before it answers.
    pub delay: Duration,
}

impl Doc {
    /// Builds a feed with the validators a well-behaved outlet sends.
    pub fn feed(path: &str, etag: &str) -> Self {
        Self {
            status: 200,
            body: fixture(path),
            etag: Some(format!("\"{etag}\"")),
            last_modified: Some("Tue, 11 Jul 2017 02:40:00 GMT".into()),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Self {
        Self::body(status, b"oops".to_vec())
    }

    /// Answers `status` with `body` and no validators.
    pub fn body(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            etag: None,
            last_modified: None,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// Redirects (`301`, `302`, `308`…) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::status(status).with_header("location", location)
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the fixture server was asked, and what it answered.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub headers: HeaderMap,
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct Fixtures {
    docs: HashMap<String, Doc>,
    seen: Vec<Seen>,
    in_flight: usize,
    most_in_flight: usize,
}

pub struct FixtureServer {
    addr: SocketAddr,
    state: Arc<Mutex<Fixtures>>,
}

impl FixtureServer {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Fixtures::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn serve(&self, path: &str, doc: Doc) {
        self.state.lock().unwrap().docs.insert(path.to_owned(), doc);
    }

    /// Takes back the document served at `path`, which is no longer served.
    pub fn take(&self, path: &str) -> Doc {
        self.state
            .lock()
            .unwrap()
            .docs
            .remove(path)
            .expect("a served document")
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let state = self.state.lock().unwrap();
        state
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// Returns the most requests the server was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.state.lock().unwrap().most_in_flight
    }
}

async fn answer(State(state): State<Arc<Mutex<Fixtures>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().to_string();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let (doc, matches) = {
        let mut state = state.lock().unwrap();
        let doc = state
            .docs
            .get(&path)
            .cloned()
            .unwrap_or_else(|| Doc::status(404));
        let matches = doc.etag.is_some()
            && headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == doc.etag.as_deref();
        let status = if matches { 304 } else { doc.status };
        state.seen.push(Seen {
            method,
            path,
            body,
            headers,
            status,
            at: Instant::now(),
        });
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        (doc, matches)
    };
    tokio::time::sleep(doc.delay).await;
    state.lock().unwrap().in_flight -= 1;
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let status = StatusCode::from_u16(doc.status).unwrap();
        (
            status,
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            doc.body,
        )
            .into_response()
    };
    let response_headers = response.headers_mut();
    let validators = [
        (header::ETAG.as_str(), doc.etag),
        (header::LAST_MODIFIED.as_str(), doc.last_modified),
    ];
    let extra = doc
        .headers
        .into_iter()
        .map(|(name, value)| (name, Some(value)));
    for (name, value) in validators.into_iter().chain(extra) {
        if let Some(value) = value {
            response_headers.insert(
                header::HeaderName::from_static(name),
                value.parse().unwrap(),
            );
        }
    }
    response
}

/// Lists the ids of a JSON Feed's items, in order.
pub fn entry_ids(feed: &serde_json::Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .expect("a JSON Feed has items")
        .iter()
        .map(|i| i["id"].as_str().expect("every item has an id").to_owned())
        .collect()
}

/// Waits until `done` holds, or fails the test after `secs` seconds.
pub async fn eventually(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finds a free port on 127.0.0.1 for the daemon to listen on.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `[polling]` table of [`config`]: every second, no minimum interval.
pub const FAST_POLLING: &str =
    "schedule = \"* * * * * *\"\ntimeout_secs = 5\nmin_interval_secs = 0\n";

/// Writes a config for `outlets` (id and feed URLs), polled every second, keeping the 2017
/// fixtures.
pub fn config(port: u16, outlets: &[(&str, &[String])]) -> String {
    config_with(port, FAST_POLLING, outlets)
}

/// Writes a config as [`config`] does, with `polling` as the body of the `[polling]` table.
pub fn config_with(port: u16, polling: &str, outlets: &[(&str, &[String])]) -> String {
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"http://news.example/\"\ntitle = \"Test River\"\n\n\
         [storage]\npath = \"test.db\"\nretention_days = 36500\n\n[polling]\n{polling}"
    );
    for (id, feeds) in outlets {
        let feeds: Vec<String> = feeds.iter().map(|f| format!("{f:?}")).collect();
        toml += &format!(
            "\n[[outlet]]\nid = \"{id}\"\nname = \"{id} name\"\nfeeds = [{}]\n",
            feeds.join(", ")
        );
    }
    toml
}

/// Returns `config` as a daemon of this test binary runs it: as written, or — in a suite built to
/// run on PostgreSQL, whose binary's name ends in `_on_postgres` — storing in a database of the
/// test server instead of `test.db`, one per folder, so that a daemon started again in the same
/// folder finds what the one before stored. (Without PostgreSQL here, and outside CI, such a
/// suite runs on SQLite: see `pg_server`.)
fn in_this_suites_store(dir: &Path, config: &str) -> String {
    static DATABASES: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
    if !env!("CARGO_CRATE_NAME").ends_with("_on_postgres") {
        return config.to_owned();
    }
    let mut databases = DATABASES.lock().unwrap();
    let url = match databases.iter().find(|(folder, _)| folder == dir) {
        Some((_, url)) => url.clone(),
        None => {
            let Some(url) = pg_server::fresh_database() else {
                return config.to_owned();
            };
            databases.push((dir.to_owned(), url.clone()));
            url
        }
    };
    config.replace("path = \"test.db\"", &format!("url = \"{url}\""))
}

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
}

/// The real daemon, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts a daemon whose one outlet, `abc`, has one feed: `doc`, served at `/top.xml`.
    pub async fn with_one_feed(server: &FixtureServer, doc: Doc) -> (Self, tempfile::TempDir) {
        server.serve("/top.xml", doc);
        let dir = tempfile::tempdir().unwrap();
        let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
        (Self::start(dir.path(), &config).await, dir)
    }

    /// Starts `tributary run` with `config` in `dir` and waits until it serves.
    pub async fn start(dir: &Path, config: &str) -> Self {
        Self::start_with_env(dir, config, &[]).await
    }

    /// Starts the daemon as [`Daemon::start`] does, with more environment variables
    /// (`NOTIFY_SOCKET`, say).
    pub async fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        Self::launch(dir, config, |command| {
            command.envs(env.iter().copied());
        })
        .await
    }

    /// Starts the daemon as [`Daemon::start`] does, with more arguments to `tributary run`.
    pub async fn start_with_args(dir: &Path, config: &str, args: &[&str]) -> Self {
        Self::launch(dir, config, |command| {
            command.args(args);
        })
        .await
    }

    /// Starts the daemon as [`Daemon::start`] does, with at most `open_files` descriptors, soft and
    /// hard limit both, as a unit's `LimitNOFILE=` sets them.
    pub async fn start_with_open_files(dir: &Path, config: &str, open_files: u64) -> Self {
        use std::os::unix::process::CommandExt;
        Self::launch(dir, config, |command| {
            let limit = libc::rlimit {
                rlim_cur: open_files,
                rlim_max: open_files,
            };
            // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        })
        .await
    }

    /// Starts the daemon with whatever `prepare` adds to its command.
    async fn launch(dir: &Path, config: &str, prepare: impl FnOnce(&mut Command)) -> Self {
        let config = in_this_suites_store(dir, config);
        std::fs::write(dir.join("feeds.toml"), &config).unwrap();
        let port = config
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("config names a port");
        // The daemon's log goes to a file beside its database, where a test can read it.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))
            .unwrap();
        let mut command = binary();
        command
            .args(["run", "--config"])
            .arg(dir.join("feeds.toml"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        prepare(&mut command);
        let child = command.spawn().unwrap();
        let daemon = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
        };
        daemon.wait_for("the daemon to serve", |_| true).await;
        daemon
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.base)).await.unwrap()
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.unwrap()
    }

    /// Waits until `/healthz` satisfies `ready`, or fails the test after 30 seconds.
    pub async fn wait_for(
        &self,
        what: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/healthz", self.base)).await {
                if let Ok(health) = response.json::<serde_json::Value>().await {
                    if ready(&health) {
                        return health;
                    }
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `GET path` answers as `done` (status, body) wants, or fails after 20
    /// seconds with the last answer and the daemon's log; returns the body.
    pub async fn until(&self, path: &str, done: impl Fn(u16, &str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let response = self.get(path).await;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            if done(status, &body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {path}; last answer {status}: {body}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads what the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// Finds the entry of the feed configured as `url` in `GET /status`.
    pub async fn feed_status(&self, url: &str) -> serde_json::Value {
        let status = self.json("/status").await;
        status["outlets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| o["feeds"].as_array().unwrap())
            .find(|f| f["url"] == url)
            .unwrap_or_else(|| panic!("no feed {url} in {status}"))
            .clone()
    }

    /// Reads the daemon's resident memory, in bytes.
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    pub async fn wait_for_items(&self, count: u64) {
        self.wait_for(&format!("{count} stored items"), |h| h["items"] == count)
            .await;
    }

    /// Sends `signal` (a `kill` name such as "HUP").
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
    }

    /// Sends `signal` (a `kill` name such as "TERM" or "KILL") and waits for the exit.
    pub fn stop(mut self, signal: &str) -> std::process::ExitStatus {
        self.signal(signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within 10 s of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
