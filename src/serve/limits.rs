//! Request limits: a JSON body extractor whose errors are JSON (413 over the body cap, 400
//! naming the line and column of malformed JSON), and admission to the job queue (429 with
//! `Retry-After` when the jobs already admitted fill `--max-queue`).
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A JSON error response: `{"error": MESSAGE, ...extra}`.
pub fn error_response(status: StatusCode, message: &str, extra: serde_json::Value) -> Response {
    let mut body = json!({ "error": message });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    (status, axum::Json(body)).into_response()
}

/// A request body parsed as JSON, with errors a client can act on.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            let status = rej.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "request body too large: split the batch (the limit is the server's \
                 --max-body-mb)"
                    .to_string()
            } else {
                rej.body_text()
            };
            error_response(status, &msg, json!({}))
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let what = if e.is_syntax() || e.is_eof() {
                "malformed JSON"
            } else {
                "unexpected JSON"
            };
            error_response(
                StatusCode::BAD_REQUEST,
                &format!("{what} at line {}, column {}: {e}", e.line(), e.column()),
                json!({ "line": e.line(), "column": e.column() }),
            )
        })
    }
}

/// Admission to the queue: at most `capacity` jobs admitted and not yet answered.
#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl Admission {
    /// A queue of `capacity` jobs.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Admission {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Jobs admitted and not yet answered.
    pub fn depth(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Admit `jobs` jobs now or answer 429 (413 when the batch alone exceeds the queue).
    pub fn admit(&self, jobs: usize) -> Result<OwnedSemaphorePermit, Box<Response>> {
        if jobs > self.capacity {
            return Err(Box::new(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "a batch of {jobs} jobs exceeds the server's queue of {}: split it",
                    self.capacity
                ),
                json!({}),
            )));
        }
        let n = u32::try_from(jobs.max(1)).unwrap_or(u32::MAX);
        self.slots.clone().try_acquire_many_owned(n).map_err(|_| {
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "the queue is full ({} jobs admitted); retry later",
                    self.depth()
                ),
                json!({}),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            Box::new(r)
        })
    }
}
