//! Remote verifiers: the client of `prover serve`'s `POST /prove` for `[lean] servers` and
//! `--lean-server URL`. A [`RemotePool`] is used like a local [`super::Pool`]: `verify(job)`
//! returns exactly one [`Verdict`].
//!
//! Rules:
//! - **Local first.** The job is assembled and guarded here ([`super::assemble`] /
//!   [`super::plan_file`]); a proof the guard refuses is rejected without a request.
//! - **Spread by in-flight count.** Each job goes to the server with the fewest requests in
//!   flight from this client among those not backing off (ties: the next in turn).
//! - **Failover.** On a connection error, a timeout, HTTP 5xx, HTTP 429 or a result marked
//!   `retryable` (the server is shutting down), the server backs off (`Retry-After` when given,
//!   else 0.25 s doubling to 8 s) and the job moves to another server. Other 4xx answers (a
//!   wrong key, a refused body) are the caller's configuration: the job gets an error verdict.
//!   When every server has failed for [`RemoteConfig::give_up_after`], the job's verdict is an
//!   error naming each server's last failure.
//! - **Never trust a remote "accepted".** The server reports Lean's messages and, per theorem,
//!   what `#print axioms` listed. The client re-runs the post-checks (`post_check.rs`: no
//!   error, no sorry, every theorem of the *locally* assembled file present, axioms within the
//!   *client's* policy) on that report. A proof is accepted only when both the server's
//!   verdict and the local post-checks accept it; a remote "error" stays an error.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::pool::Job;
use super::post_check::{post_check, AxiomPolicy, LeanOutput};
use super::soundness::{assemble, plan_file, Assembled};
use super::verdict::{LeanMessage, Severity, Status, Verdict};
use super::wire::{ProveItem, ProveRequest, ProveResponse, ProveResult};

/// Client settings.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Base URLs, e.g. `http://a:8000` (a trailing `/` is ignored).
    pub servers: Vec<String>,
    /// Which axioms an accepted proof may use (applied here, whatever the server allows).
    pub axioms: AxiomPolicy,
    /// The servers' per-job timeout; one HTTP request may take `2 × job_timeout + 30 s` (the
    /// job may wait in the server's queue) before it counts as a failure.
    pub job_timeout: Duration,
    /// Sent as `Authorization: Bearer KEY` when set.
    pub api_key: Option<String>,
    /// How long a job keeps looking for a server that answers; default 10 minutes.
    pub give_up_after: Duration,
    /// First back-off of a failed server; doubles per consecutive failure.
    pub backoff_min: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
}

impl RemoteConfig {
    /// Defaults around `servers`.
    pub fn new(servers: Vec<String>, job_timeout: Duration) -> Self {
        RemoteConfig {
            servers,
            axioms: AxiomPolicy::default(),
            job_timeout,
            api_key: None,
            give_up_after: Duration::from_secs(600),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
        }
    }
}

/// Counters of a [`RemotePool`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RemoteMetrics {
    /// Jobs submitted.
    pub submitted: u64,
    /// Verdicts returned.
    pub completed: u64,
    /// Accepted verdicts.
    pub accepted: u64,
    /// Rejected verdicts (locally by the guard, or after the post-checks).
    pub rejected: u64,
    /// Error verdicts.
    pub errors: u64,
    /// Requests that failed over to another server (connection error, 5xx, 429, shutdown).
    pub failovers: u64,
    /// Jobs the server called accepted that the local post-checks rejected.
    pub overruled: u64,
    /// Requests in flight now, per server (in `servers` order).
    pub in_flight: Vec<usize>,
    /// Requests answered, per server.
    pub answered: Vec<u64>,
}

struct Server {
    url: String,
    in_flight: AtomicUsize,
    answered: AtomicU64,
    /// (consecutive failures, back off until, last failure)
    health: Mutex<(u32, Option<Instant>, String)>,
}

struct Inner {
    cfg: RemoteConfig,
    servers: Vec<Server>,
    http: reqwest::Client,
    next: AtomicUsize,
    counters: Mutex<RemoteMetrics>,
}

/// A client of one or more `prover serve` instances. Cheap to clone.
#[derive(Clone)]
pub struct RemotePool {
    inner: Arc<Inner>,
}

enum Attempt {
    /// The server answered for this job.
    Answer(Box<ProveResult>),
    /// Move to another server; back off this one (at least this long, if given).
    Failover(String, Option<Duration>),
    /// A final error (configuration: auth, a refused body).
    Fatal(String),
}

impl RemotePool {
    /// A client of `cfg.servers`; an error when there is none or a URL is not http(s).
    pub fn new(cfg: RemoteConfig) -> Result<Self, String> {
        if cfg.servers.is_empty() {
            return Err("no verifier server given".into());
        }
        let mut servers = Vec::new();
        for s in &cfg.servers {
            let url = s.trim().trim_end_matches('/').to_string();
            let parsed = url::Url::parse(&url).map_err(|e| {
                format!("verifier server {s:?}: not a URL ({e}); expected e.g. http://host:8000")
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!(
                    "verifier server {s:?}: expected an http:// or https:// URL"
                ));
            }
            servers.push(Server {
                url,
                in_flight: AtomicUsize::new(0),
                answered: AtomicU64::new(0),
                health: Mutex::new((0, None, String::new())),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(RemotePool {
            inner: Arc::new(Inner {
                cfg,
                servers,
                http,
                next: AtomicUsize::new(0),
                counters: Mutex::new(RemoteMetrics::default()),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RemoteConfig {
        &self.inner.cfg
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> RemoteMetrics {
        let mut m = self.inner.counters.lock().unwrap().clone();
        m.in_flight = self
            .inner
            .servers
            .iter()
            .map(|s| s.in_flight.load(Ordering::Relaxed))
            .collect();
        m.answered = self
            .inner
            .servers
            .iter()
            .map(|s| s.answered.load(Ordering::Relaxed))
            .collect();
        m
    }

    /// Check many jobs concurrently; verdicts in input order.
    pub async fn verify_batch(&self, jobs: Vec<Job>) -> Vec<Verdict> {
        super::verdict::verify_each(jobs, |j| {
            let p = self.clone();
            async move { p.verify(j).await }
        })
        .await
    }

    /// Check one job: exactly one verdict.
    pub async fn verify(&self, job: Job) -> Verdict {
        let started = Instant::now();
        self.inner.counters.lock().unwrap().submitted += 1;
        let mut v = self.verify_inner(job, started).await;
        v.seconds = started.elapsed().as_secs_f64();
        let mut c = self.inner.counters.lock().unwrap();
        c.completed += 1;
        match v.status {
            Status::Accepted => c.accepted += 1,
            Status::Rejected { .. } => c.rejected += 1,
            Status::Error { .. } => c.errors += 1,
        }
        drop(c);
        v.cached = false;
        v
    }

    async fn verify_inner(&self, job: Job, started: Instant) -> Verdict {
        let assembled = match &job {
            Job::Proof {
                header,
                formal_statement,
                proof,
            } => assemble(header, formal_statement, proof),
            Job::File { text, reference } => plan_file(text, reference.as_deref()),
        };
        let assembled = match assembled {
            Ok(a) => a,
            Err(reason) => return Verdict::rejected(reason),
        };
        let id = serde_json::Value::from(self.inner.next.fetch_add(1, Ordering::Relaxed) as u64);
        let body = ProveRequest::Items {
            items: vec![ProveItem::from_job(
                id,
                &job,
                self.inner.cfg.axioms.allow_native_decide,
            )],
        };
        loop {
            let Some(k) = self.pick() else {
                if started.elapsed() >= self.inner.cfg.give_up_after {
                    return Verdict::error(format!(
                        "no verifier server answered within {:.0} s: {}",
                        self.inner.cfg.give_up_after.as_secs_f64(),
                        self.failures_summary()
                    ));
                }
                tokio::time::sleep(self.until_next_up()).await;
                continue;
            };
            let server = &self.inner.servers[k];
            server.in_flight.fetch_add(1, Ordering::Relaxed);
            let attempt = self.send(&server.url, &body).await;
            server.in_flight.fetch_sub(1, Ordering::Relaxed);
            match attempt {
                Attempt::Answer(r) => {
                    server.answered.fetch_add(1, Ordering::Relaxed);
                    *server.health.lock().unwrap() = (0, None, String::new());
                    return self.decide(&assembled, &r);
                }
                Attempt::Fatal(why) => return Verdict::error(format!("{}: {why}", server.url)),
                Attempt::Failover(why, at_least) => {
                    self.inner.counters.lock().unwrap().failovers += 1;
                    tracing::warn!(
                        "verifier server {} failed ({why}); moving the job",
                        server.url
                    );
                    let mut h = server.health.lock().unwrap();
                    h.0 += 1;
                    let exp = self
                        .inner
                        .cfg
                        .backoff_min
                        .saturating_mul(1u32 << h.0.saturating_sub(1).min(16))
                        .min(self.inner.cfg.backoff_max);
                    let wait = at_least.map_or(exp, |a| a.max(exp));
                    h.1 = Some(Instant::now() + wait);
                    h.2 = why;
                    drop(h);
                    if started.elapsed() >= self.inner.cfg.give_up_after {
                        return Verdict::error(format!(
                            "no verifier server answered within {:.0} s: {}",
                            self.inner.cfg.give_up_after.as_secs_f64(),
                            self.failures_summary()
                        ));
                    }
                }
            }
        }
    }

    /// The server with the fewest requests in flight among those not backing off.
    fn pick(&self) -> Option<usize> {
        let now = Instant::now();
        let n = self.inner.servers.len();
        let start = self.inner.next.load(Ordering::Relaxed) % n;
        (0..n)
            .map(|i| (start + i) % n)
            .filter(|&k| {
                let h = self.inner.servers[k].health.lock().unwrap();
                h.1.is_none_or(|t| t <= now)
            })
            .min_by_key(|&k| self.inner.servers[k].in_flight.load(Ordering::Relaxed))
    }

    fn until_next_up(&self) -> Duration {
        let now = Instant::now();
        self.inner
            .servers
            .iter()
            .filter_map(|s| s.health.lock().unwrap().1)
            .map(|t| t.saturating_duration_since(now))
            .min()
            .unwrap_or(self.inner.cfg.backoff_min)
            .max(Duration::from_millis(10))
    }

    fn failures_summary(&self) -> String {
        self.inner
            .servers
            .iter()
            .map(|s| format!("{}: {}", s.url, s.health.lock().unwrap().2))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, url: &str, body: &ProveRequest) -> Attempt {
        let cfg = &self.inner.cfg;
        let mut req = self
            .inner
            .http
            .post(format!("{url}/prove"))
            .timeout(cfg.job_timeout * 2 + Duration::from_secs(30))
            .json(body);
        if let Some(key) = &cfg.api_key {
            req = req.bearer_auth(key);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Failover(format!("{e}"), None),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(60.0)));
        if status.as_u16() == 429 || status.is_server_error() {
            return Attempt::Failover(format!("HTTP {status}"), retry_after);
        }
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Attempt::Failover(format!("reading the reply: {e}"), None),
        };
        if !status.is_success() {
            let preview: String = text.chars().take(300).collect();
            return Attempt::Fatal(format!("HTTP {status}: {preview}"));
        }
        let parsed: ProveResponse = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                return Attempt::Failover(format!("not a /prove response ({e})"), None);
            }
        };
        match parsed.results.into_iter().next() {
            Some(r) if r.retryable => Attempt::Failover(
                format!(
                    "the server gave up on the job: {}",
                    r.reason.unwrap_or_default()
                ),
                None,
            ),
            Some(r) => Attempt::Answer(Box::new(r)),
            None => Attempt::Failover("an empty /prove response".into(), None),
        }
    }

    /// The verdict from a server's report: the local post-checks over what Lean said, and the
    /// server's verdict only ever as a second, stricter opinion.
    fn decide(&self, a: &Assembled, r: &ProveResult) -> Verdict {
        if r.verdict == "error" {
            let mut v = Verdict::error(r.reason.clone().unwrap_or_else(|| "remote error".into()));
            v.messages = r.messages.clone();
            return v;
        }
        let out = lean_output(r);
        let (status, theorems) = post_check(&out, &a.theorems, self.inner.cfg.axioms);
        let status = match (status, r.verdict.as_str()) {
            (Status::Accepted, "accepted") => Status::Accepted,
            (Status::Accepted, "rejected") => Status::Rejected {
                reason: r
                    .reason
                    .clone()
                    .unwrap_or_else(|| "rejected by the verifier server".into()),
            },
            (Status::Accepted, other) => Status::Error {
                reason: format!("the verifier server answered an unknown verdict {other:?}"),
            },
            (rejected, remote) => {
                if remote == "accepted" {
                    self.inner.counters.lock().unwrap().overruled += 1;
                }
                rejected
            }
        };
        Verdict {
            status,
            messages: r.messages.clone(),
            theorems,
            seconds: 0.0,
            cached: false,
        }
    }
}

/// Lean's output as the server reported it, in the form the post-checks read: each found
/// theorem's axioms turned back into the sentence `#print axioms` prints.
fn lean_output(r: &ProveResult) -> LeanOutput {
    let axiom_messages = r
        .theorems
        .iter()
        .filter(|t| t.found)
        .map(|t| {
            let text = if t.axioms.is_empty() {
                format!("'{}' does not depend on any axioms", t.name)
            } else {
                format!("'{}' depends on axioms: [{}]", t.name, t.axioms.join(", "))
            };
            let msg = LeanMessage {
                severity: Severity::Info,
                line: 1,
                column: 0,
                text,
            };
            (t.name.clone(), vec![msg])
        })
        .collect();
    LeanOutput {
        messages: r.messages.clone(),
        sorries: 0,
        axiom_messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::lean::wire::WireTheorem;

    fn result(verdict: &str, axioms: &[&str], found: bool) -> ProveResult {
        ProveResult {
            id: 0.into(),
            verdict: verdict.into(),
            reason: None,
            axioms: vec![],
            seconds: 0.0,
            messages: vec![],
            theorems: vec![WireTheorem {
                name: "t".into(),
                found,
                axioms: axioms.iter().map(|s| s.to_string()).collect(),
            }],
            retryable: false,
        }
    }

    fn pool() -> RemotePool {
        RemotePool::new(RemoteConfig::new(
            vec!["http://127.0.0.1:9".into()],
            Duration::from_secs(1),
        ))
        .unwrap()
    }

    fn assembled() -> Assembled {
        assemble("", "theorem t : True := by sorry", "trivial").unwrap()
    }

    #[test]
    fn a_remote_accept_is_overruled_by_the_local_post_checks() {
        let p = pool();
        let a = assembled();
        let ok = p.decide(&a, &result("accepted", &["propext"], true));
        assert_eq!(ok.status, Status::Accepted);
        // the server accepted, but the proof uses an axiom the client does not allow
        let v = p.decide(&a, &result("accepted", &["propext", "my_axiom"], true));
        assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
        // the theorem is not in the final environment
        let v = p.decide(&a, &result("accepted", &[], false));
        assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
        // a sorry warning in the messages
        let mut r = result("accepted", &["sorryAx"], true);
        r.messages.push(LeanMessage {
            severity: Severity::Warning,
            line: 1,
            column: 0,
            text: "declaration uses 'sorry'".into(),
        });
        assert!(matches!(p.decide(&a, &r).status, Status::Rejected { .. }));
        assert_eq!(p.metrics().overruled, 3);
        // a remote rejection stands even when the report looks clean
        let v = p.decide(&a, &result("rejected", &["propext"], true));
        assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
    }

    #[test]
    fn bad_urls_are_refused() {
        let e = RemotePool::new(RemoteConfig::new(
            vec!["ftp://x".into()],
            Duration::from_secs(1),
        ));
        assert!(e.is_err());
        let e = RemotePool::new(RemoteConfig::new(vec![], Duration::from_secs(1)));
        assert!(e.is_err());
    }
}
