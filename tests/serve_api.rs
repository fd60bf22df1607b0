//! `prover serve`'s HTTP API in-process, backed by the simulated REPL (`repl-standin --sim`):
//! Kimina's JSON shapes, the sound `/prove` endpoint rejecting proofs Kimina would call valid,
//! the API key (401), malformed JSON (400 naming line and column), the body cap (413), a full
//! queue (429 + Retry-After), `/metrics`, and graceful shutdown (a running job is answered as
//! a retryable error, never dropped).
use std::time::Duration;

use prover::serve::{self, ServeConfig};
use prover::verify::lean::{LeanCommand, Pool, PoolConfig};
use serde_json::{json, Value};
use tokio::sync::oneshot;

const HEADER: &str = "import Mathlib\n\n";
const STATEMENT: &str = "theorem t (x : ℕ) : x + 0 = x := by sorry";

struct Server {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(cfg: ServeConfig, workers: usize, timeout_s: u64) -> Server {
    let mut pc = PoolConfig::new(LeanCommand {
        program: env!("CARGO_BIN_EXE_repl-standin").into(),
        args: vec!["--sim".into()],
        cwd: None,
        env: Vec::new(),
    });
    pc.workers = workers;
    pc.timeout = Duration::from_secs(timeout_s);
    pc.axioms.allow_native_decide = true;
    pc.queue_capacity = cfg.max_queue;
    let app = serve::app(Pool::new(pc), cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve::serve(listener, app, async move {
        let _ = rx.await;
    }));
    Server {
        url,
        stop: Some(tx),
        task,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let r = client().post(url).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn file(proof: &str) -> String {
    format!(
        "{HEADER}{}\n  {proof}",
        STATEMENT.replace(":= by sorry", ":= by")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kimina_endpoints_answer_in_kimina_shape() {
    let s = start(ServeConfig::default(), 2, 10).await;
    let h: Value = client()
        .get(format!("{}/health", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok", "{h}");

    let (st, r) = post(
        &format!("{}/api/check", s.url),
        json!({"snippets": [
            {"id": "good", "code": file("simp")},
            {"id": "sorry", "code": file("sorry")},
            {"id": "bad", "code": file("exact SIM_ERROR")},
        ], "timeout": 20}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let res = r["results"].as_array().unwrap();
    assert_eq!(res.len(), 3);
    let by_id = |id: &str| res.iter().find(|x| x["id"] == id).unwrap().clone();
    let good = by_id("good");
    assert!(good.get("error").is_none(), "{good}");
    let msgs = good["response"]["messages"].as_array().unwrap();
    assert!(msgs.iter().all(|m| m["severity"] != "error"), "{good}");
    assert_eq!(good["response"]["sorries"], json!([]));
    assert_eq!(good["verdict"], "accepted");
    assert!(good["time"].as_f64().unwrap() >= 0.0);
    let sorry = by_id("sorry");
    assert!(
        !sorry["response"]["sorries"].as_array().unwrap().is_empty(),
        "{sorry}"
    );
    let bad = by_id("bad");
    let errs: Vec<&Value> = bad["response"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["severity"] == "error")
        .collect();
    assert!(!errs.is_empty(), "{bad}");
    // positions point into the snippet's own lines: SIM_ERROR is on line 4
    assert_eq!(errs[0]["pos"]["line"], 4, "{bad}");

    for path in ["/verify", "/one_pass_verify_batch"] {
        let (st, r) = post(
            &format!("{}{path}", s.url),
            json!({"codes": [{"custom_id": 7, "proof": file("simp")}, {"custom_id": "x", "code": file("exact SIM_ERROR")}], "timeout": 60}),
        )
        .await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["results"][0]["custom_id"], 7);
        assert!(r["results"][0]["response"]["time"].is_number(), "{r}");
        assert_eq!(r["results"][1]["custom_id"], "x");
        assert_eq!(r["results"][1]["verdict"], "rejected");
    }
    let (st, r) = post(&format!("{}/api/check", s.url), json!({"snippets": []})).await;
    assert_eq!(st, 400, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prove_rejects_cheats_that_kimina_would_call_valid() {
    let s = start(ServeConfig::default(), 2, 10).await;
    let prove = format!("{}/prove", s.url);
    let check = format!("{}/api/check", s.url);
    // a changed statement: Lean alone is happy (no error, no sorry)
    let swapped = format!("{HEADER}theorem t : True := by\n  trivial");
    let (_, k) = post(&check, json!({"snippets": [{"id": "s", "code": swapped}]})).await;
    let kr = &k["results"][0]["response"];
    assert!(
        kr["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["severity"] != "error")
            && kr["sorries"] == json!([]),
        "Kimina's rule calls this valid: {k}"
    );
    // native_decide: Lean is happy, the axioms are not the standard ones
    let (_, r) = post(
        &prove,
        json!({"items": [
            {"id": 1, "formal_statement": STATEMENT, "header": HEADER, "proof": "simp"},
            {"id": 2, "formal_statement": STATEMENT, "header": HEADER, "code": swapped},
            {"id": 3, "formal_statement": STATEMENT, "header": HEADER, "proof": "native_decide"},
            {"id": 4, "formal_statement": STATEMENT, "header": HEADER, "proof": "native_decide", "allow_native_decide": true},
            {"id": 5, "formal_statement": STATEMENT, "header": HEADER, "proof": "simp\ntheorem u : False := by sorry"},
            {"id": 6, "formal_statement": STATEMENT, "proof": "simp", "code": "x"},
        ]}),
    )
    .await;
    let res = r["results"].as_array().unwrap();
    let verdicts: Vec<&str> = res.iter().map(|x| x["verdict"].as_str().unwrap()).collect();
    assert_eq!(
        verdicts,
        ["accepted", "rejected", "rejected", "accepted", "rejected", "error"],
        "{r}"
    );
    assert_eq!(res[0]["id"], 1);
    assert_eq!(
        res[0]["axioms"],
        json!(["propext", "Classical.choice", "Quot.sound"])
    );
    assert_eq!(res[0]["reason"], Value::Null);
    assert!(
        res[2]["reason"]
            .as_str()
            .unwrap()
            .contains("Lean.ofReduceBool"),
        "{r}"
    );
    assert!(res[0]["theorems"][0]["found"].as_bool().unwrap(), "{r}");
    for x in res {
        assert!(x["seconds"].is_number(), "{x}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_body_cap_and_malformed_json() {
    let cfg = ServeConfig {
        api_key: Some("k1".into()),
        max_body_bytes: 4096,
        ..ServeConfig::default()
    };
    let s = start(cfg, 1, 10).await;
    let url = format!("{}/api/check", s.url);
    let body = json!({"snippets": [{"id": "a", "code": file("simp")}]});
    let send = |auth: Option<&'static str>, body: String| {
        let mut r = client()
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(send(None, body.to_string()).await.unwrap().status(), 401);
    assert_eq!(
        send(Some("Bearer k2"), body.to_string())
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        send(Some("Bearer k1"), body.to_string())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(Some("k1"), body.to_string()).await.unwrap().status(),
        200
    );
    let h = client()
        .get(format!("{}/health", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200, "health stays open for load balancers");

    let r = send(
        Some("Bearer k1"),
        "{\"snippets\": [\n  {\"id\": \"a\", \"code\": }\n]}".into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(2), Some(23)),
        "{e}"
    );
    assert!(
        e["error"].as_str().unwrap().contains("line 2, column 23"),
        "{e}"
    );

    let big = json!({"snippets": [{"id": "a", "code": "x".repeat(10_000)}]});
    let r = send(Some("Bearer k1"), big.to_string()).await.unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("too large"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after_and_metrics_count_it() {
    let cfg = ServeConfig {
        max_queue: 1,
        ..ServeConfig::default()
    };
    let s = start(cfg, 1, 30).await;
    let url = format!("{}/api/check", s.url);
    let hang = tokio::spawn({
        let url = url.clone();
        async move {
            post(
                &url,
                json!({"snippets": [{"id": "h", "code": file("exact SIM_HANG")}], "timeout": 2}),
            )
            .await
        }
    });
    // wait until the hanging job is admitted
    let mut admitted = false;
    for _ in 0..100 {
        let m = client()
            .get(format!("{}/metrics", s.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if m.contains("prover_serve_queue_depth 1\n") {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted);
    let r = client()
        .post(&url)
        .json(&json!({"snippets": [{"id": "b", "code": file("simp")}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let (st, h) = hang.await.unwrap();
    assert_eq!(st, 200);
    let err = h["results"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("timed out") || err.contains("did not answer"),
        "{h}"
    );
    let m = client()
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "prover_serve_requests_total{endpoint=\"/api/check\",status=\"429\"} 1",
        "prover_serve_jobs_total{endpoint=\"/api/check\",verdict=\"error\"} 1",
        "prover_serve_job_seconds_bucket{le=\"+Inf\"} 1",
        "prover_serve_queue_depth 0",
        "prover_pool_restarts_total",
        "prover_pool_cache_hits_total",
        "prover_pool_channel_anomalies_total 0",
    ] {
        assert!(m.contains(needle), "{needle} not in\n{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_running_jobs_and_refuses_new_ones() {
    let cfg = ServeConfig {
        grace: Duration::from_millis(500),
        ..ServeConfig::default()
    };
    let mut s = start(cfg, 2, 30).await;
    let prove = format!("{}/prove", s.url);
    let running = tokio::spawn({
        let prove = prove.clone();
        async move {
            post(
                &prove,
                json!([{"id": "h", "formal_statement": STATEMENT, "header": HEADER, "proof": "exact SIM_HANG"}]),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.stop.take().unwrap().send(()).unwrap();
    let (st, r) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the running job is answered within the grace period")
        .unwrap();
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["results"][0]["verdict"], "error", "{r}");
    assert_eq!(r["results"][0]["retryable"], true, "{r}");
    tokio::time::timeout(Duration::from_secs(10), s.task)
        .await
        .expect("the server stops once every request is answered")
        .unwrap()
        .unwrap();
    // nothing listens any more: a new request fails to connect (a client moves it elsewhere)
    assert!(client().post(&prove).json(&json!([])).send().await.is_err());
}
