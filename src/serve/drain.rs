//! Graceful shutdown. On SIGTERM (or SIGINT) the server stops accepting connections, answers
//! new requests on open connections with 503 and `Retry-After` (a remote client moves them to
//! another server), and lets admitted jobs run for up to the grace period; a job still running
//! then is answered as an `error` ("the server is shutting down", `retryable` in `/prove`).
//! Nothing admitted is dropped without an answer.
use std::time::Duration;

use tokio::sync::watch;

/// The shutdown state shared by the handlers.
#[derive(Clone)]
pub struct Drain {
    started: watch::Sender<bool>,
    expired: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            started: watch::channel(false).0,
            expired: watch::channel(false).0,
        }
    }
}

impl Drain {
    /// Begin draining: jobs still running after `grace` are answered as errors.
    pub fn begin(&self, grace: Duration) {
        if self.started.send_replace(true) {
            return;
        }
        let expired = self.expired.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            expired.send_replace(true);
        });
    }

    /// Whether draining has begun.
    pub fn started(&self) -> bool {
        *self.started.borrow()
    }

    /// Resolves when the grace period is over.
    pub async fn expired(&self) {
        let mut rx = self.expired.subscribe();
        let _ = rx.wait_for(|e| *e).await;
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
