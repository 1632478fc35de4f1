//! tributary under systemd: the unit files verify and stay hardened, the daemon tells systemd
//! when it is ready, what it does and when it stops, pets the watchdog while alive, and serves
//! on a socket systemd opened for it.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Tells whether `tool` can run here; says why a test is skipped when it cannot.
fn available(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

#[test]
fn the_units_verify_and_the_service_is_hardened() {
    if !available("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let unit = std::fs::read_to_string(repo.join("tributary.service"))
        .unwrap()
        .replace("/usr/local/bin/tributary", env!("CARGO_BIN_EXE_tributary"));
    std::fs::write(dir.path().join("tributary.service"), unit).unwrap();
    std::fs::copy(
        repo.join("tributary.socket"),
        dir.path().join("tributary.socket"),
    )
    .unwrap();
    for unit in ["tributary.service", "tributary.socket"] {
        let verify = Command::new("systemd-analyze")
            .args(["verify", unit])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{unit}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "tributary.service"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split("tributary.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {report}"));
    assert!(score <= 1.5, "exposure {score} > 1.5:\n{report}");
}

/// Reads what the daemon tells systemd until `done` holds, or fails after 15 seconds.
fn notifications(socket: &UnixDatagram, mut done: impl FnMut(&[String]) -> bool) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !done(&seen) {
        assert!(
            Instant::now() < deadline,
            "timed out; told systemd {seen:?}"
        );
        if let Ok(n) = socket.recv(&mut buffer) {
            let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
            seen.extend(message.lines().map(str::to_owned));
        }
    }
    seen
}

// Reading the notify socket blocks: the fixture server needs a thread of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_status_watchdog_and_stopping() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "v1"));
    let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
    let env = [
        ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "1000000"),
    ];
    let daemon = Daemon::start_with_env(dir.path(), &config, &env).await;
    let has = |seen: &[String], prefix: &str| seen.iter().any(|m| m.starts_with(prefix));
    let seen = notifications(&socket, |seen| {
        has(seen, "READY=1") && has(seen, "STATUS=polled abc") && has(seen, "WATCHDOG=1")
    });
    assert!(
        seen.iter()
            .any(|m| m == "STATUS=polled abc: 1 feeds asked, 0 failed"),
        "{seen:?}"
    );
    let ready = seen.iter().position(|m| m == "READY=1").unwrap();
    assert!(
        seen[ready + 1].starts_with("STATUS=serving 0 items on 127.0.0.1:"),
        "{seen:?}"
    );
    // A reload, as `systemctl reload` asks for it: RELOADING=1 with the time, then READY=1.
    daemon.signal("HUP");
    let seen = notifications(&socket, |seen| has(seen, "STATUS=config reloaded"));
    let reloading = seen.iter().position(|m| m == "RELOADING=1").unwrap();
    assert!(
        seen[reloading + 1].starts_with("MONOTONIC_USEC="),
        "{seen:?}"
    );
    let ready = seen.iter().rposition(|m| m == "READY=1").unwrap();
    assert!(ready > reloading, "{seen:?}");
    assert_eq!(seen[ready + 1], "STATUS=config reloaded: nothing changed");
    daemon.signal("TERM");
    notifications(&socket, |seen| has(seen, "STOPPING=1"));
    let status = daemon.stop("TERM");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_daemon_serves_on_a_socket_systemd_opened() {
    if !available("systemd-socket-activate") {
        return;
    }
    let server = FixtureServer::start().await;
    server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "v1"));
    let dir = tempfile::tempdir().unwrap();
    // The config names another port: the daemon must use the socket it is given.
    let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
    std::fs::write(dir.path().join("feeds.toml"), &config).unwrap();
    let port = free_port();
    let mut child = Command::new("systemd-socket-activate")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg(env!("CARGO_BIN_EXE_tributary"))
        .args(["run", "--config"])
        .arg(dir.path().join("feeds.toml"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        if let Ok(response) = reqwest::get(&url).await {
            break response.json::<serde_json::Value>().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "nothing served on the activated socket"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(health["status"], "ok");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn under_journald_log_lines_have_no_timestamps_or_colours() {
    let server = FixtureServer::start().await;
    server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "v1"));
    let dir = tempfile::tempdir().unwrap();
    let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
    let daemon = Daemon::start_with_env(dir.path(), &config, &[("JOURNAL_STREAM", "8:1234")]).await;
    daemon.wait_for_items(19).await;
    eventually("a poll's log line", 10, || daemon.log().contains("polled")).await;
    let log = daemon.log();
    let polled = log.lines().find(|l| l.contains("polled")).unwrap();
    assert!(
        polled.starts_with(" INFO") || polled.starts_with("INFO"),
        "{polled}"
    );
    assert!(!log.contains('\u{1b}'), "no ANSI colours: {log}");
    assert!(
        polled.contains("outlet=abc") && polled.contains("status=200"),
        "{polled}"
    );
}
