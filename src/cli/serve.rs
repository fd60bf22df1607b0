//! `prover serve`: parse the flags, start the pool and the server, print where it listens.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use crate::serve::ServeConfig;
use crate::verify::lean::launch::{self, LeanSettings};

/// Serve the sound Lean verifier over HTTP, compatible with Kimina Lean Server's API.
///
/// Endpoints: GET /health; POST /api/check {"snippets": [{"id", "code"}], "timeout"} and POST
/// /verify {"codes": [{"custom_id", "proof"}]} answer in Kimina's JSON, so kimina-client and
/// scripts written for Kimina work unchanged; POST /prove {"items": [{"id",
/// "formal_statement", "header"?, "proof" | "code"}]} is prover's sound endpoint: each item
/// gets {"id", "verdict": accepted | rejected | error, "reason", "axioms", "seconds"}, after
/// the same checks as training and `prover verify --against` (the statement is the
/// reference's, no sorry, no axiom beyond propext / Classical.choice / Quot.sound). GET
/// /metrics is Prometheus text. Kimina calls a proof valid when Lean prints no error and no
/// sorry; prover's endpoints also refuse foreign axioms, a changed statement and code the
/// guard does not allow (on /api/check as an extra error message "prover: REASON").
///
/// Examples:
///   prover serve --port 8000 --workers 8
///   curl -s localhost:8000/api/check -d '{"snippets":[{"id":"a","code":"import Mathlib\ntheorem t : 1 + 1 = 2 := by norm_num"}]}'
///   prover eval minif2f --lean-server http://a:8000 --lean-server http://b:8000 …
///
/// On SIGTERM the server stops accepting, answers new requests 503, lets admitted jobs finish
/// for --grace seconds and answers the rest as errors; every admitted job gets an answer.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 for every interface: then set --api-key-env).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Lean worker processes (default: min(cores − 1, RAM / 8 GiB)).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// The Lake project with Mathlib and the REPL built (default: ./lean or
    /// $PROVER_LEAN_PROJECT).
    #[arg(long, value_name = "DIR", conflicts_with = "repl_cmd")]
    pub lean_project: Option<PathBuf>,
    /// Or a command line that starts one leanprover-community REPL.
    #[arg(long, value_name = "CMD")]
    pub repl_cmd: Option<String>,
    /// Longest a job may take, seconds (header import + proof + axiom queries); a request's
    /// own smaller "timeout" also applies.
    #[arg(long, default_value_t = 300.0, value_name = "S")]
    pub timeout: f64,
    /// Jobs admitted and not yet answered; beyond it requests get 429 with Retry-After.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_queue: usize,
    /// Largest request body, MiB (larger: 413).
    #[arg(long, default_value_t = 64, value_name = "MB")]
    pub max_body_mb: usize,
    /// Require the key in this environment variable in `Authorization: Bearer KEY` (or
    /// `Authorization: KEY`); /health stays open. Unset or empty variable: an error.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Accept native_decide's axioms on /api/check and /verify (/prove items choose with
    /// "allow_native_decide").
    #[arg(long)]
    pub allow_native_decide: bool,
    /// Seconds admitted jobs may still run after SIGTERM before they are answered as errors.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub grace: f64,
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let api_key = match &args.api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Some(k.trim().to_string()),
            _ => bail!("--api-key-env {var}: the variable is unset or empty; export {var}=KEY"),
        },
    };
    if !(args.grace.is_finite() && args.grace >= 0.0) {
        bail!("--grace {}: expected seconds ≥ 0", args.grace);
    }
    let settings = LeanSettings {
        repl_cmd: args.repl_cmd.clone(),
        project: args.lean_project.clone(),
        workers: args.workers,
        // the pool accepts native_decide's axioms; each endpoint applies its own policy
        allow_native_decide: true,
        queue_capacity: Some(args.max_queue.max(1)),
        ..LeanSettings::repl(args.timeout)
    };
    let cmd = launch::lean_command(&settings).map_err(|e| anyhow!(e))?;
    let (workers, choice) = settings.worker_count();
    if let Some(c) = choice {
        eprintln!("{c} (set --workers to override)");
    }
    let (rt, pool) =
        launch::start_pool(&settings, cmd, workers).context("cannot start the async runtime")?;
    let cfg = ServeConfig {
        max_queue: args.max_queue.max(1),
        max_body_bytes: args.max_body_mb.max(1) << 20,
        api_key,
        axioms: crate::verify::lean::AxiomPolicy {
            allow_native_decide: args.allow_native_decide,
        },
        grace: Duration::from_secs_f64(args.grace),
    };
    let auth = if cfg.api_key.is_some() { "on" } else { "off" };
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "prover serve: listening on http://{addr} ({workers} workers, queue {}, auth {auth})",
            cfg.max_queue
        );
        let app = crate::serve::app(pool, cfg);
        crate::serve::serve(listener, app, crate::serve::drain::signal()).await?;
        eprintln!("prover serve: every admitted request answered; stopped");
        anyhow::Ok(())
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    result.map(|()| 0)
}
