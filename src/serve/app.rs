//! The router: endpoints, the job runner they share (admission, per-request timeout, drain),
//! and the middleware around them (API key, draining, structured access log).
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::drain::Drain;
use super::kimina::{self, CheckRequest, CheckResponse, VerifyRequest, VerifyResponse};
use super::limits::{error_response, Admission, JsonBody};
use super::metrics::Metrics;
use super::prove::{apply_policy, prove_result};
use super::ServeConfig;
use crate::verify::lean::wire::{ProveRequest, ProveResponse, ProveResult};
use crate::verify::lean::{AxiomPolicy, Job, Pool, Verdict};

/// What the handlers share.
pub struct App {
    /// The verifier pool.
    pub pool: Pool,
    /// Settings.
    pub cfg: ServeConfig,
    /// The job queue's admission.
    pub admission: Admission,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Shutdown state.
    pub drain: Drain,
}

/// How one admitted job ended.
pub enum Outcome {
    /// The pool's verdict.
    Done(Verdict),
    /// The request's own timeout passed first.
    TimedOut(f64),
    /// The server's grace period ran out while the job was running.
    ShuttingDown,
}

impl App {
    /// Run one job within `timeout` (the pool's own limit also applies) and the drain.
    pub async fn run_job(&self, job: Job, timeout: Option<Duration>) -> Outcome {
        let limit = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            v = self.pool.verify(job) => Outcome::Done(v),
            _ = limit => Outcome::TimedOut(timeout.map_or(0.0, |t| t.as_secs_f64())),
            _ = self.drain.expired() => Outcome::ShuttingDown,
        }
    }

    /// Run jobs concurrently (already admitted); outcomes in input order.
    pub async fn run_jobs(
        self: &Arc<Self>,
        jobs: Vec<Job>,
        timeout: Option<Duration>,
    ) -> Vec<(Outcome, f64)> {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let app = self.clone();
                tokio::spawn(async move {
                    let t0 = Instant::now();
                    let o = app.run_job(job, timeout).await;
                    (o, t0.elapsed().as_secs_f64())
                })
            })
            .collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(match h.await {
                Ok(r) => r,
                Err(e) => (
                    Outcome::Done(Verdict::error(format!("verification task failed: {e}"))),
                    0.0,
                ),
            });
        }
        out
    }

    fn request_timeout(&self, seconds: u64) -> Option<Duration> {
        (seconds > 0).then(|| Duration::from_secs(seconds))
    }
}

/// The verdict an outcome stands for in the Kimina endpoints.
fn outcome_verdict(o: Outcome, seconds: f64, policy: AxiomPolicy) -> Verdict {
    let mut v = match o {
        Outcome::Done(v) => apply_policy(v, policy),
        Outcome::TimedOut(t) => Verdict::error(format!(
            "Lean did not answer within {t:.0} s (the request's timeout)"
        )),
        Outcome::ShuttingDown => Verdict::error("the server is shutting down"),
    };
    v.seconds = seconds;
    v
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let m = app.pool.metrics();
    let status = if app.drain.started() {
        "draining"
    } else {
        "ok"
    };
    let body = Json(json!({
        "status": status,
        "workers": m.workers,
        "queue_depth": app.admission.depth(),
        "queue_capacity": app.admission.capacity(),
        "completed": m.completed,
        "restarts": m.restarts,
    }));
    if app.drain.started() {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    } else {
        body.into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.metrics.render(
        app.admission.depth(),
        app.admission.capacity(),
        &app.pool.metrics(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn check(State(app): State<Arc<App>>, JsonBody(req): JsonBody<CheckRequest>) -> Response {
    if req.snippets.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "`snippets` must be non empty",
            json!({}),
        );
    }
    let _permit = match app.admission.admit(req.snippets.len()) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let jobs = req
        .snippets
        .iter()
        .map(|s| Job::File {
            text: s.code.clone(),
            reference: None,
        })
        .collect();
    let outcomes = app.run_jobs(jobs, app.request_timeout(req.timeout)).await;
    let results = req
        .snippets
        .iter()
        .zip(outcomes)
        .map(|(s, (o, secs))| {
            let v = outcome_verdict(o, secs, app.cfg.axioms);
            app.metrics.job("/api/check", v.status.label(), secs);
            kimina::check_result(&s.id, &v)
        })
        .collect();
    Json(CheckResponse { results }).into_response()
}

async fn verify(State(app): State<Arc<App>>, JsonBody(req): JsonBody<VerifyRequest>) -> Response {
    let _permit = match app.admission.admit(req.codes.len()) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut jobs = Vec::new();
    let mut slots = Vec::new();
    for c in &req.codes {
        match c.text() {
            Ok(t) => {
                slots.push(Ok(jobs.len()));
                jobs.push(Job::File {
                    text: t.to_string(),
                    reference: None,
                });
            }
            Err(e) => slots.push(Err(e)),
        }
    }
    let mut outcomes: Vec<Option<(Outcome, f64)>> = app
        .run_jobs(jobs, app.request_timeout(req.timeout))
        .await
        .into_iter()
        .map(Some)
        .collect();
    let results = req
        .codes
        .iter()
        .zip(slots)
        .map(|(c, slot)| {
            let v = match slot {
                Ok(k) => match outcomes[k].take() {
                    Some((o, secs)) => outcome_verdict(o, secs, app.cfg.axioms),
                    None => Verdict::error("no outcome"),
                },
                Err(e) => Verdict::error(e),
            };
            app.metrics.job("/verify", v.status.label(), v.seconds);
            kimina::verify_result(&c.custom_id, &v)
        })
        .collect();
    Json(VerifyResponse { results }).into_response()
}

async fn prove(State(app): State<Arc<App>>, JsonBody(req): JsonBody<ProveRequest>) -> Response {
    let items = req.into_items();
    let _permit = match app.admission.admit(items.len()) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut jobs = Vec::new();
    let mut slots = Vec::new();
    for it in &items {
        match it.job() {
            Ok(j) => {
                slots.push(Ok(jobs.len()));
                jobs.push(j);
            }
            Err(e) => slots.push(Err(e)),
        }
    }
    let mut outcomes: Vec<Option<(Outcome, f64)>> = app
        .run_jobs(jobs, None)
        .await
        .into_iter()
        .map(Some)
        .collect();
    let results: Vec<ProveResult> = items
        .iter()
        .zip(slots)
        .map(|(it, slot)| {
            let r = match slot {
                Ok(k) => match outcomes[k].take() {
                    Some((o, secs)) => prove_result(it, o, secs),
                    None => ProveResult::from_verdict(it.id.clone(), &Verdict::error("no outcome")),
                },
                Err(e) => ProveResult::from_verdict(it.id.clone(), &Verdict::error(e)),
            };
            app.metrics.job("/prove", &r.verdict, r.seconds);
            r
        })
        .collect();
    Json(ProveResponse { results }).into_response()
}

/// The API key, the drain and the access log around every request.
async fn around(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let public = super::auth::is_public(&path);
    let resp = if let (Some(key), false) = (&app.cfg.api_key, public) {
        if super::auth::authorized(req.headers(), key) {
            None
        } else {
            Some(error_response(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API key: send `Authorization: Bearer KEY`",
                json!({}),
            ))
        }
    } else {
        None
    };
    let resp = match resp {
        Some(r) => r,
        None if app.drain.started() && !public && path != "/metrics" => {
            let mut r = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down; send this request to another server",
                json!({}),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            r
        }
        None => next.run(req).await,
    };
    let status = resp.status().as_u16();
    let endpoint = match path.as_str() {
        "/"
        | "/health"
        | "/metrics"
        | "/api/check"
        | "/verify"
        | "/one_pass_verify_batch"
        | "/prove" => path.as_str(),
        _ => "other",
    };
    app.metrics.request(endpoint, status);
    tracing::info!(
        target: "prover::serve::access",
        method = %method,
        path = %path,
        status,
        ms = t0.elapsed().as_secs_f64() * 1e3,
        queue_depth = app.admission.depth(),
        "request"
    );
    resp
}

/// The whole router over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(health))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/check", post(check))
        .route("/verify", post(verify))
        .route("/one_pass_verify_batch", post(verify))
        .route("/prove", post(prove))
        .layer(DefaultBodyLimit::max(app.cfg.max_body_bytes))
        .layer(middleware::from_fn_with_state(app.clone(), around))
        .with_state(app)
}
