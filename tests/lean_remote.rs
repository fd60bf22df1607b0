//! Remote verifiers: the `prover serve` client ([`RemotePool`]) against real `prover serve`
//! processes backed by `repl-standin --sim`: jobs spread over two servers, one killed mid-run
//! (every job gets exactly one verdict, from the other); a lying server's "accepted" is
//! overruled by the local post-checks; a wrong key is an error verdict, not an endless retry;
//! `prover verify FILE.jsonl --lean --lean-server URL` and `prover eval minif2f --lean-server A
//! --lean-server B` with A killed mid-run (the results file has every problem once).
mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::serve::serve_standin;
use prover::verify::lean::remote::{RemoteConfig, RemotePool};
use prover::verify::lean::{Job, Status};
use serde_json::{json, Value};

const HEADER: &str = "import Mathlib\n\n";

fn job(i: usize) -> Job {
    Job::Proof {
        header: HEADER.into(),
        formal_statement: format!("theorem t{i} (x : ℕ) : x + {i} = {i} + x := by sorry"),
        proof: "omega".into(),
    }
}

fn remote(servers: Vec<String>) -> RemotePool {
    let mut cfg = RemoteConfig::new(servers, Duration::from_secs(20));
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(500);
    cfg.give_up_after = Duration::from_secs(60);
    RemotePool::new(cfg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_killed_mid_run_every_job_gets_one_verdict() {
    let mut a = serve_standin("--delay-ms 40", &["--workers", "2"], &[]);
    let b = serve_standin("--delay-ms 40", &["--workers", "2"], &[]);
    let pool = remote(vec![a.url.clone(), b.url.clone()]);
    let n = 120;
    let run = tokio::spawn({
        let pool = pool.clone();
        async move { pool.verify_batch((0..n).map(job).collect()).await }
    });
    // kill A once it has answered some jobs
    let t0 = Instant::now();
    while pool.metrics().answered[0] < 5 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{:?}",
            pool.metrics()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kill();
    let verdicts = run.await.unwrap();
    assert_eq!(verdicts.len(), n);
    for (i, v) in verdicts.iter().enumerate() {
        assert_eq!(v.status, Status::Accepted, "job {i}: {v:?}");
        assert_eq!(
            v.theorems[0].name,
            format!("t{i}"),
            "job {i} got its own verdict"
        );
    }
    let m = pool.metrics();
    assert_eq!(m.completed, n as u64);
    assert!(m.failovers >= 1, "{m:?}");
    assert!(m.answered[0] >= 5 && m.answered[1] > 0, "{m:?}");
    assert_eq!(
        m.answered[0] + m.answered[1],
        n as u64,
        "one answer per job: {m:?}"
    );
    assert_eq!(m.in_flight, [0, 0]);
}

/// A server that calls everything accepted, with the axioms it is told to report.
async fn lying_server(axioms: Vec<&'static str>, status: u16) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/prove",
        post(move |axum::Json(body): axum::Json<Value>| {
            let axioms = axioms.clone();
            async move {
                let id = body["items"][0]["id"].clone();
                let name = body["items"][0]["formal_statement"]
                    .as_str()
                    .and_then(|s| s.split_whitespace().nth(1))
                    .unwrap_or("t")
                    .to_string();
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(json!({"results": [{
                        "id": id, "verdict": "accepted", "reason": null, "axioms": axioms,
                        "seconds": 0.0, "messages": [],
                        "theorems": [{"name": name, "found": true, "axioms": axioms}],
                    }]})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_accepted_is_never_trusted() {
    let honest = lying_server(vec!["propext"], 200).await;
    let v = remote(vec![honest]).verify(job(1)).await;
    assert_eq!(v.status, Status::Accepted, "{v:?}");

    let liar = lying_server(vec!["propext", "cheat"], 200).await;
    let pool = remote(vec![liar]);
    let v = pool.verify(job(1)).await;
    assert!(
        matches!(&v.status, Status::Rejected { reason } if reason.contains("cheat")),
        "{v:?}"
    );
    assert_eq!(pool.metrics().overruled, 1);
    // the guard runs here first: a body that smuggles a command never leaves the machine
    let v = pool
        .verify(Job::Proof {
            header: HEADER.into(),
            formal_statement: "theorem t (x : ℕ) : x = x := by sorry".into(),
            proof: "rfl\naxiom cheat : False".into(),
        })
        .await;
    assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
    assert_eq!(pool.metrics().answered, [1], "refused locally, not sent");

    let unauthorized = lying_server(vec![], 401).await;
    let v = remote(vec![unauthorized]).verify(job(2)).await;
    assert!(
        matches!(&v.status, Status::Error { reason } if reason.contains("401")),
        "{v:?}"
    );
}

#[test]
fn verify_batch_cli_through_a_server() {
    let s = serve_standin("", &["--workers", "1"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    let st = "theorem t (x : ℕ) : x + 0 = x := by sorry";
    for (id, proof) in [
        ("ok", "simp"),
        ("bad", "exact SIM_ERROR"),
        ("native", "native_decide"),
    ] {
        writeln!(
            f,
            "{}",
            json!({"id": id, "header": HEADER, "formal_statement": st, "proof": proof})
        )
        .unwrap();
    }
    drop(f);
    let out = common::prover()
        .args(["verify", "--lean", "--lean-server", &s.url])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdicts: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["verdict"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(verdicts, ["accepted", "rejected", "rejected"], "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}

const PROBLEMS: usize = 16;

#[test]
fn eval_minif2f_moves_to_the_other_server_when_one_dies() {
    let Some(model) = common::tiny_model("tiny-llama") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("f.jsonl");
    let mut f = std::fs::File::create(&data).unwrap();
    for i in 0..PROBLEMS {
        let row = json!({"name": format!("p{i}"), "split": "valid", "header": HEADER,
                         "formal_statement": format!("theorem p{i} (x : ℕ) : x + {i} = {i} + x := by sorry")});
        writeln!(f, "{row}").unwrap();
    }
    drop(f);
    let mut a = serve_standin("--delay-ms 150", &["--workers", "1"], &[]);
    let b = serve_standin("--delay-ms 150", &["--workers", "1"], &[]);
    let out = dir.path().join("out");
    let eval = common::prover()
        .args(["--quiet", "eval", "minif2f", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .args([
            "--split",
            "valid",
            "--samples",
            "2",
            "--max-new-tokens",
            "4",
            "--deepseek-data",
            "none",
            "--lean-server",
            &a.url,
            "--lean-server",
            &b.url,
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // kill A after it has answered a job
    let t0 = Instant::now();
    loop {
        let m = reqwest::blocking_get_text(&format!("{}/metrics", a.url));
        if m.contains("prover_serve_jobs_total{endpoint=\"/prove\"") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "A never got a job");
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill();
    let done = eval.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&done.stdout);
    let pool: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pool"))
        .and_then(|j| serde_json::from_str(j.trim()).ok())
        .unwrap_or_else(|| panic!("no pool line: {stdout}"));
    assert!(pool["failovers"].as_u64() >= Some(1), "{pool}");
    assert_eq!(pool["in_flight"], json!([0, 0]), "{pool}");
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let mut names: Vec<String> = rows
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..PROBLEMS).map(|i| format!("p{i}")).collect();
    want.sort();
    assert_eq!(names, want, "every problem exactly once");
    let b_metrics = reqwest::blocking_get_text(&format!("{}/metrics", b.url));
    assert!(
        b_metrics.contains("prover_serve_jobs_total{endpoint=\"/prove\""),
        "{b_metrics}"
    );
}

mod reqwest {
    /// GET `url` as text from a thread without a runtime ("" on any failure).
    pub fn blocking_get_text(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            match ::reqwest::get(url).await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        })
    }
}
