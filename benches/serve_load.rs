//! Load on `prover serve`: N checks (default 20 000) through `POST /api/check`, one snippet per
//! request, from C concurrent connections (default 64), against a server with W stand-in
//! workers (default 4; `repl-standin --sim`), with crashes (`SIM_CRASH`, 1 in 200) and hangs
//! (`SIM_HANG`, 1 in 2 000; the pool's timeout is 1 s, retried once) injected. Every request
//! must be answered exactly once: no id lost, none duplicated. Prints throughput and the
//! client-side p50/p99 latency, and the pool's restarts and timeouts.
//!
//! `cargo bench --bench serve_load` (release). Settings: `SERVE_LOAD_N`, `SERVE_LOAD_CONC`,
//! `SERVE_LOAD_WORKERS`, `SERVE_LOAD_TIMEOUT` (the request's `timeout`, default 2 s); `SERVE_LOAD_URL=http://HOST:PORT` sends the same load to another
//! server speaking Kimina's `/api/check` (e.g. Kimina Lean Server) instead of an in-process one.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prover::serve::{self, ServeConfig};
use prover::verify::lean::{LeanCommand, Pool, PoolConfig};
use serde_json::{json, Value};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn snippet(i: usize) -> String {
    let fault = if i % 2000 == 1999 {
        "exact SIM_HANG"
    } else if i % 200 == 101 {
        "exact SIM_CRASH"
    } else {
        "omega"
    };
    format!("import Mathlib\n\ntheorem t{i} (x : ℕ) : x + {i} = {i} + x := by\n  {fault}")
}

fn main() {
    let n = env_usize("SERVE_LOAD_N", 20_000);
    let conc = env_usize("SERVE_LOAD_CONC", 64);
    let workers = env_usize("SERVE_LOAD_WORKERS", 4);
    // the request's own "timeout" (seconds); the in-process pool's is 1 s (plus one retry)
    let request_timeout = env_usize("SERVE_LOAD_TIMEOUT", 2);
    let external = std::env::var("SERVE_LOAD_URL").ok();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (url, app) = match external {
            Some(u) => (u, None),
            None => {
                let standin = std::env::var("SERVE_LOAD_STANDIN").unwrap_or_else(|_| {
                    let exe = std::env::current_exe().unwrap();
                    // target/release/deps/serve_load-HASH → target/release/repl-standin
                    exe.parent()
                        .and_then(|d| d.parent())
                        .map(|d| d.join("repl-standin").display().to_string())
                        .unwrap()
                });
                let mut pc = PoolConfig::new(LeanCommand {
                    program: standin,
                    args: vec!["--sim".into()],
                    cwd: None,
                    env: Vec::new(),
                });
                pc.workers = workers;
                pc.timeout = Duration::from_secs(1);
                pc.axioms.allow_native_decide = true;
                pc.queue_capacity = 4096;
                let cfg = ServeConfig {
                    max_queue: 4096,
                    ..ServeConfig::default()
                };
                let app = serve::app(Pool::new(pc), cfg);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}", listener.local_addr().unwrap());
                tokio::spawn(serve::serve(listener, app.clone(), std::future::pending()));
                (url, Some(app))
            }
        };
        eprintln!("serve_load: {n} checks, {conc} connections, {workers} workers, {url}");
        let next = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..conc {
            let next = next.clone();
            let url = format!("{url}/api/check");
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let mut seen: Vec<(String, Value)> = Vec::new();
                let mut lat = Vec::new();
                let mut retried_429 = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let body = json!({"snippets": [{"id": format!("c{i}"), "code": snippet(i)}], "timeout": request_timeout});
                    let s = Instant::now();
                    loop {
                        let r = client.post(&url).json(&body).send().await;
                        match r {
                            Ok(r) if r.status().as_u16() == 429 => {
                                retried_429 += 1;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let v: Value = r.json().await.unwrap_or(Value::Null);
                                assert_eq!(status, 200, "request {i}: {v}");
                                for res in v["results"].as_array().into_iter().flatten() {
                                    let id = res["id"].as_str().unwrap_or("").to_string();
                                    let kind = if res.get("error").is_some_and(|e| !e.is_null()) {
                                        "error"
                                    } else {
                                        "response"
                                    };
                                    seen.push((id, json!(kind)));
                                }
                                break;
                            }
                            Err(e) => panic!("request {i} failed: {e}"),
                        }
                    }
                    lat.push(s.elapsed().as_secs_f64());
                }
                (seen, lat, retried_429)
            }));
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut lat = Vec::new();
        let mut errors = 0;
        let mut retried = 0;
        for t in tasks {
            let (seen, l, r) = t.await.unwrap();
            for (id, kind) in seen {
                if kind == "error" {
                    errors += 1;
                }
                *ids.entry(id).or_default() += 1;
            }
            lat.extend(l);
            retried += r;
        }
        let secs = t0.elapsed().as_secs_f64();
        let missing = (0..n).filter(|i| !ids.contains_key(&format!("c{i}"))).count();
        let duplicated = ids.values().filter(|&&c| c > 1).count();
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize] * 1e3;
        println!(
            "serve_load: {n} checks in {secs:.1} s = {:.0} checks/s; latency p50 {:.1} ms, p99 {:.1} ms; \
             {errors} error results (injected crashes/hangs: {}), {retried} 429 retries; \
             missing ids {missing}, duplicated ids {duplicated}",
            n as f64 / secs,
            pct(0.5),
            pct(0.99),
            (0..n).filter(|&i| i % 2000 == 1999 || i % 200 == 101).count(),
        );
        if let Some(app) = app {
            let m = app.pool.metrics();
            println!(
                "pool: restarts {}, timeouts {}, spawned {}, cache hits {}, mean overhead {:.2} ms",
                m.restarts, m.timeouts, m.spawned, m.cache_hits, m.mean_overhead_ms
            );
        }
        assert_eq!((missing, duplicated), (0, 0), "every request answered exactly once");
    });
}
