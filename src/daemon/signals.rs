//! What the operator (or systemd) asks of the running daemon by signal.

use tokio::signal::unix::{signal, Signal, SignalKind};

pub enum Request {
    /// SIGTERM or SIGINT: shut down cleanly.
    Stop,
    /// SIGHUP: read the config file again.
    Reload,
}

pub struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    /// Takes over the three signals; from now on none of them kills the process by default.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    pub async fn next(&mut self) -> Request {
        tokio::select! {
            _ = self.terminate.recv() => Request::Stop,
            _ = self.interrupt.recv() => Request::Stop,
            _ = self.hangup.recv() => Request::Reload,
        }
    }
}
