//! `GET /metrics` in the Prometheus text format (version 0.0.4): the server's request and job
//! counters and job-latency histogram, the admission queue, and the pool's own counters
//! (workers, restarts, recycles, timeouts, cache hits, channel anomalies).
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::verify::lean::PoolMetrics;

/// Upper bounds of the job-latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Default)]
struct Inner {
    /// (endpoint, HTTP status) → requests.
    requests: BTreeMap<(String, u16), u64>,
    /// (endpoint, verdict) → jobs.
    jobs: BTreeMap<(String, String), u64>,
    /// Per bucket (non-cumulative), plus +Inf last.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Count one answered request.
    pub fn request(&self, endpoint: &str, status: u16) {
        let mut m = self.inner.lock().unwrap();
        *m.requests
            .entry((endpoint.to_string(), status))
            .or_default() += 1;
    }

    /// Count one job's verdict and latency.
    pub fn job(&self, endpoint: &str, verdict: &str, seconds: f64) {
        let mut m = self.inner.lock().unwrap();
        *m.jobs
            .entry((endpoint.to_string(), verdict.to_string()))
            .or_default() += 1;
        let k = LATENCY_BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        m.buckets[k] += 1;
        m.sum += seconds.max(0.0);
        m.count += 1;
    }

    /// The exposition text.
    pub fn render(&self, queue_depth: usize, queue_capacity: usize, pool: &PoolMetrics) -> String {
        let m = self.inner.lock().unwrap();
        let mut s = String::new();
        let head = |s: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut s,
            "prover_serve_requests_total",
            "counter",
            "HTTP requests answered, by endpoint and status.",
        );
        for ((e, st), n) in &m.requests {
            let _ = writeln!(
                s,
                "prover_serve_requests_total{{endpoint=\"{e}\",status=\"{st}\"}} {n}"
            );
        }
        head(
            &mut s,
            "prover_serve_jobs_total",
            "counter",
            "Jobs answered, by endpoint and verdict.",
        );
        for ((e, v), n) in &m.jobs {
            let _ = writeln!(
                s,
                "prover_serve_jobs_total{{endpoint=\"{e}\",verdict=\"{v}\"}} {n}"
            );
        }
        head(
            &mut s,
            "prover_serve_job_seconds",
            "histogram",
            "Seconds from admission to verdict per job.",
        );
        let mut cum = 0;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            cum += m.buckets[i];
            let _ = writeln!(s, "prover_serve_job_seconds_bucket{{le=\"{b}\"}} {cum}");
        }
        cum += m.buckets[LATENCY_BUCKETS.len()];
        let _ = writeln!(s, "prover_serve_job_seconds_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(s, "prover_serve_job_seconds_sum {}", m.sum);
        let _ = writeln!(s, "prover_serve_job_seconds_count {}", m.count);
        head(
            &mut s,
            "prover_serve_queue_depth",
            "gauge",
            "Jobs admitted and not yet answered.",
        );
        let _ = writeln!(s, "prover_serve_queue_depth {queue_depth}");
        head(
            &mut s,
            "prover_serve_queue_capacity",
            "gauge",
            "Jobs admitted at most (--max-queue); more get 429.",
        );
        let _ = writeln!(s, "prover_serve_queue_capacity {queue_capacity}");
        let gauges: [(&str, &str, f64); 3] = [
            (
                "prover_pool_workers",
                "Lean worker processes configured.",
                pool.workers as f64,
            ),
            (
                "prover_pool_queue_depth",
                "Jobs waiting for a worker.",
                pool.queue_depth as f64,
            ),
            (
                "prover_pool_in_flight",
                "Jobs a worker is running.",
                pool.in_flight as f64,
            ),
        ];
        for (name, help, v) in gauges {
            head(&mut s, name, "gauge", help);
            let _ = writeln!(s, "{name} {v}");
        }
        let counters: [(&str, &str, u64); 7] = [
            (
                "prover_pool_restarts_total",
                "Workers replaced after a crash, timeout or protocol error.",
                pool.restarts,
            ),
            (
                "prover_pool_recycles_total",
                "Workers restarted on purpose (job count, memory).",
                pool.recycles,
            ),
            (
                "prover_pool_timeouts_total",
                "Job attempts that hit the timeout.",
                pool.timeouts,
            ),
            (
                "prover_pool_spawned_total",
                "Worker processes started.",
                pool.spawned,
            ),
            (
                "prover_pool_cache_hits_total",
                "Verdicts answered from the cache.",
                pool.cache_hits,
            ),
            (
                "prover_pool_channel_anomalies_total",
                "Jobs whose REPL channel carried a forged frame.",
                pool.channel_anomalies,
            ),
            (
                "prover_pool_jobs_total",
                "Verdicts the pool returned.",
                pool.completed,
            ),
        ];
        for (name, help, v) in counters {
            head(&mut s, name, "counter", help);
            let _ = writeln!(s, "{name} {v}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_every_job() {
        let m = Metrics::default();
        for s in [0.001, 0.2, 0.2, 7.0, 1e6] {
            m.job("/prove", "accepted", s);
        }
        let text = m.render(0, 8, &PoolMetrics::default());
        assert!(
            text.contains("prover_serve_job_seconds_bucket{le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("prover_serve_job_seconds_bucket{le=\"0.25\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("prover_serve_job_seconds_bucket{le=\"10\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("prover_serve_job_seconds_bucket{le=\"+Inf\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("prover_serve_job_seconds_count 5\n"),
            "{text}"
        );
        assert!(
            text.contains("prover_serve_jobs_total{endpoint=\"/prove\",verdict=\"accepted\"} 5\n")
        );
    }
}
