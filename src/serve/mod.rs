//! `prover serve`: the sound Lean verifier pool behind HTTP, compatible with Kimina Lean
//! Server 2.x (as `kimina-client` 0.2.1 speaks it), plus prover's sound endpoint.
//!
//! Endpoints (one concept per file):
//! - `GET /health`, `GET /`: `{"status": "ok", ...pool gauges}` (503 `"draining"` while
//!   shutting down); open without a key.
//! - `POST /api/check`, `POST /verify` (alias `/one_pass_verify_batch`): Kimina's JSON
//!   ([`kimina`]).
//! - `POST /prove`: the sound endpoint ([`prove`], JSON in [`crate::verify::lean::wire`]).
//! - `GET /metrics`: Prometheus text ([`metrics`]).
//!
//! Around them: the API key ([`auth`]), the body cap, malformed JSON and the queue's admission
//! ([`limits`]), graceful shutdown ([`drain`]) and one structured log event per request
//! (target `prover::serve::access`: method, path, status, ms, queue depth) ([`app`]).
//!
//! Layering: `serve` imports only `verify` (and `progress`/`util`); `rl`, `eval` and `cli` sit
//! above it.
use std::sync::Arc;
use std::time::Duration;

use crate::verify::lean::{AxiomPolicy, Pool};

pub mod app;
pub mod auth;
pub mod drain;
pub mod kimina;
pub mod limits;
pub mod metrics;
pub mod prove;

/// Server settings (the pool is configured separately).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Jobs admitted and not yet answered before requests get 429 (default 1024).
    pub max_queue: usize,
    /// Largest request body, bytes (default 64 MiB); larger gets 413.
    pub max_body_bytes: usize,
    /// Required in `Authorization` when set.
    pub api_key: Option<String>,
    /// Axiom policy of the Kimina endpoints (`/prove` items carry their own).
    pub axioms: AxiomPolicy,
    /// How long admitted jobs may still run after SIGTERM before they are answered as errors.
    pub grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_queue: 1024,
            max_body_bytes: 64 << 20,
            api_key: None,
            axioms: AxiomPolicy::default(),
            grace: Duration::from_secs(30),
        }
    }
}

/// The shared state around `pool` (create the pool with a queue at least `cfg.max_queue`
/// deep, and native_decide's axioms allowed: policies are applied per endpoint).
pub fn app(pool: Pool, cfg: ServeConfig) -> Arc<app::App> {
    Arc::new(app::App {
        admission: limits::Admission::new(cfg.max_queue),
        pool,
        cfg,
        metrics: metrics::Metrics::default(),
        drain: drain::Drain::default(),
    })
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain: stop accepting, answer new
/// requests 503, give admitted jobs `grace`, and return when every request is answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<app::App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app::router(app.clone());
    let drain = app.drain.clone();
    let grace = app.cfg.grace;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::warn!(
                "shutting down: draining admitted jobs (grace {:.0} s)",
                grace.as_secs_f64()
            );
            drain.begin(grace);
        })
        .await
}
