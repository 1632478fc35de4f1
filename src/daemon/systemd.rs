//! What systemd asks of a service it supervises: to say when it is ready, what it is doing and
//! when it stops (`sd_notify`), to prove it is alive while it is (the watchdog), and to serve on
//! a socket systemd opened for it (socket activation, so that port 80 needs no capability).
//! Outside systemd every call here does nothing.

use std::net::TcpListener;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

/// Tells systemd the service is up (the listener is bound and stored items are served).
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Sets the one-line summary `systemctl status` shows.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Tells systemd a reload started; [`ready`] tells it the reload is over.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "could not notify systemd");
    }
}

/// Takes the listening socket systemd passed (`LISTEN_FDS`), if it passed one.
pub fn inherited_listener() -> std::io::Result<Option<TcpListener>> {
    let Some(fd) = sd_notify::listen_fds()?.next() else {
        return Ok(None);
    };
    // SAFETY: systemd hands the service these descriptors to own, and `listen_fds` yields each
    // once (it checked LISTEN_PID and starts at SD_LISTEN_FDS_START); nothing else uses it.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// What the watchdog checks: the server still serves, and the scheduler still runs its jobs
/// (a heartbeat job stamps `beat` every few seconds).
#[derive(Clone, Default)]
pub struct Liveness {
    pub serving: Arc<AtomicBool>,
    pub beat: Arc<AtomicI64>,
}

/// How often the scheduler's heartbeat job runs.
pub const HEARTBEAT_SCHEDULE: &str = "*/5 * * * * *";

impl Liveness {
    pub fn beat(&self) {
        self.beat
            .store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }

    fn alive(&self, patience: Duration) -> bool {
        let since = chrono::Utc::now().timestamp() - self.beat.load(Ordering::Relaxed);
        self.serving.load(Ordering::Relaxed) && since <= patience.as_secs().max(10) as i64
    }
}

/// Pets systemd's watchdog (`WatchdogSec=`) at half its interval, but only while `liveness`
/// holds: a stuck scheduler or a dead server lets the watchdog restart the service.
pub fn watchdog(liveness: Liveness) -> Option<tokio::task::JoinHandle<()>> {
    // As sd_watchdog_enabled(3) reads it: WATCHDOG_PID, when set, must be this process.
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    let interval = Duration::from_micros(usec / 2).max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if liveness.alive(Duration::from_micros(usec)) {
                send(&[NotifyState::Watchdog]);
            } else {
                tracing::warn!(
                    "the scheduler or the server is not alive; not petting the watchdog"
                );
            }
        }
    }))
}
