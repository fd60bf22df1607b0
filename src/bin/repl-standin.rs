//! `repl-standin`: a stand-in for the leanprover-community REPL, for tests and benchmarks on
//! machines without Lean. It reads requests exactly like the REPL (lines up to a blank line,
//! each line right-trimmed and concatenated, so a raw newline inside the JSON disappears;
//! queries starting with `#` or `--` are skipped; malformed JSON ends the process with an
//! uncaught-exception message on stderr and exit code 1) and answers in the REPL's framing
//! (JSON followed by a blank line).
//!
//! Modes:
//! - `repl-standin --replay DIR [DIR...]`: answer from recorded transcripts (`X.in` requests,
//!   `X.expected.out` replies). The reply is the recorded one of the transcript whose request
//!   history matches this session's (falling back to any recording of the same request),
//!   byte for byte. Pickle/unpickle and `path` requests are answered from the recordings; no
//!   file is read or written.
//! - `repl-standin [--sim] [--state-dir DIR] [--delay-ms MS]` (default): a simulated Lean
//!   (`--delay-ms`: every header or proof command takes MS milliseconds). Commands get an
//!   env id; `#print axioms NAME` answers `'NAME' depends on axioms: [propext,
//!   Classical.choice, Quot.sound]` if `theorem NAME` was declared in that env chain (plus
//!   `Lean.ofReduceBool` if its text uses `native_decide`, `sorryAx` if it uses `sorry`, and any
//!   `axiom X` declared), else an error. Text containing `sorry` gets the sorry warning.
//!   Magic words in a command trigger faults:
//!   `SIM_ERROR` (an error message on its line), `SIM_HANG` (sleeps forever, after starting a `sleep`
//!   grandchild whose pid goes to `$STANDIN_PID_FILE`, and appending a line to
//!   `$STANDIN_HANG_LOG`), `SIM_CRASH` (half a reply, then
//!   exit 134), `SIM_CRASH_ONCE:KEY` (crash unless `--state-dir/KEY` exists; creates it),
//!   `SIM_GARBAGE` (a non-JSON reply), `SIM_FLOOD` (endless output), `SIM_GROW:MB` (allocate
//!   and keep MB mebibytes), `SIM_BAD_HEADER` (an error in an import command), `SIM_REFUSE`
//!   (a `{"message"}` reply).
//!   A channel forger: `SIM_FORGE` prints a clean-looking forged reply frame before the real
//!   one (whose error says the proof failed), `SIM_FORGE_LATE` prints it after the real reply,
//!   `SIM_FORGE_SENTINEL` prints a guessed sentinel reply (`0 : Nat`) before the real one.
//!   Sandbox probes (each reported as an error message saying what happened):
//!   `SIM_WRITE:PATH` (create and write PATH), `SIM_WRITE_TMP` (write a file in `$TMPDIR`),
//!   `SIM_CONNECT:IP:PORT` (a TCP connection), `SIM_FORK:N` (start N `sleep` children, count
//!   how many started, kill them).
//!
//! Both modes answer the pool's sentinel `#check (NONCE : Nat)` the way the REPL does: one info
//! message `NONCE : Nat` at 1:0–1:6 and a new env (the shape of `#check` replies in the
//! recorded transcripts `def_eval` and `dup_msg`).
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Read one query the way the REPL's `getLines` does. `None` at end of input.
fn get_query(input: &mut impl BufRead) -> Option<String> {
    let mut query = String::new();
    loop {
        let mut line = String::new();
        let n = input.read_line(&mut line).ok()?;
        if n == 0 {
            return if query.is_empty() { None } else { Some(query) };
        }
        if line.trim().is_empty() {
            if query.is_empty() {
                continue;
            }
            return Some(query);
        }
        query.push_str(line.trim_end());
    }
}

/// The next JSON request on stdin, comment queries (`#…`, `--…`) skipped; malformed JSON
/// ends the process as the REPL does.
fn next_request(input: &mut impl BufRead) -> Option<Value> {
    loop {
        let q = get_query(input)?;
        if q.starts_with('#') || q.starts_with("--") {
            continue;
        }
        return Some(match serde_json::from_str(&q) {
            Ok(v) => v,
            Err(e) => die_malformed(&q, &e.to_string()),
        });
    }
}

fn die_malformed(query: &str, err: &str) -> ! {
    eprintln!(
        "uncaught exception: {}",
        json!({"message": format!("Could not parse JSON:\n{err}")})
    );
    let _ = query;
    std::process::exit(1);
}

struct Transcript {
    name: String,
    requests: Vec<Value>,
    replies: Vec<String>,
}

fn load_transcripts(dirs: &[PathBuf]) -> Vec<Transcript> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            eprintln!("repl-standin: cannot read {}", dir.display());
            continue;
        };
        let mut names: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "in"))
            .collect();
        names.sort();
        for p in names {
            let out_path = p.with_extension("expected.out");
            let (Ok(inp), Ok(expected)) = (
                std::fs::read_to_string(&p),
                std::fs::read_to_string(&out_path),
            ) else {
                continue;
            };
            let mut reader = std::io::Cursor::new(inp.into_bytes());
            let mut requests = Vec::new();
            while let Some(q) = get_query(&mut reader) {
                if q.starts_with('#') || q.starts_with("--") {
                    continue;
                }
                match serde_json::from_str::<Value>(&q) {
                    Ok(v) => requests.push(v),
                    Err(_) => break,
                }
            }
            let replies: Vec<String> = expected
                .split("\n\n")
                .filter(|r| !r.trim().is_empty())
                .map(|r| r.to_string())
                .collect();
            out.push(Transcript {
                name: p.display().to_string(),
                requests,
                replies,
            });
        }
    }
    out
}

fn replay(dirs: &[PathBuf]) {
    let transcripts = load_transcripts(dirs);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut history: Vec<Value> = Vec::new();
    while let Some(v) = next_request(&mut input) {
        if let Some(reply) = check_reply(&v, history.len() as u64) {
            // the sentinel is not part of any transcript: answer it, keep the history as is
            let text = serde_json::to_string_pretty(&reply).unwrap();
            let _ = out.write_all(text.as_bytes());
            let _ = out.write_all(b"\n\n");
            let _ = out.flush();
            continue;
        }
        let k = history.len();
        let exact = transcripts.iter().find(|t| {
            t.requests.len() > k
                && t.replies.len() > k
                && t.requests[..k] == history[..]
                && t.requests[k] == v
        });
        let reply = match exact {
            Some(t) => t.replies[k].clone(),
            None => transcripts
                .iter()
                .find_map(|t| {
                    t.requests
                        .iter()
                        .position(|r| *r == v)
                        .and_then(|i| t.replies.get(i).cloned())
                })
                .unwrap_or_else(|| {
                    format!(
                        "{{\"message\": \"repl-standin: no recorded reply for this request ({} transcripts)\"}}",
                        transcripts.len()
                    )
                }),
        };
        let _ = exact.map(|t| &t.name);
        history.push(v);
        let _ = out.write_all(reply.as_bytes());
        let _ = out.write_all(b"\n\n");
        let _ = out.flush();
    }
}

/// The reply to `#check (TERM : TYPE)` (no recorded or simulated elaboration: the term is
/// echoed, as Lean prints a literal with its ascribed type), or `None` for other requests.
fn check_reply(v: &Value, env: u64) -> Option<Value> {
    let cmd = v.get("cmd")?.as_str()?;
    let inner = cmd.strip_prefix("#check (")?.strip_suffix(')')?;
    let (term, ty) = inner.split_once(" : ")?;
    if term.is_empty() || !term.chars().all(|c| c.is_ascii_digit()) || ty != "Nat" {
        return None;
    }
    // the message spans the `#check` keyword (1:0–1:6), as in the recorded transcripts
    let m = json!({"severity": "info", "pos": {"line": 1, "column": 0},
                   "endPos": {"line": 1, "column": 6}, "data": format!("{term} : {ty}")});
    Some(json!({"messages": [m], "env": env}))
}

struct SimEnv {
    parent: Option<u64>,
    text: String,
}

fn msg(severity: &str, line: u64, col: u64, data: &str) -> Value {
    json!({"severity": severity, "pos": {"line": line, "column": col},
           "endPos": {"line": line, "column": col + 1}, "data": data})
}

fn declares(text: &str, name: &str) -> bool {
    ["theorem ", "lemma "].iter().any(|kw| {
        text.match_indices(kw).any(|(i, _)| {
            let rest = &text[i + kw.len()..];
            rest.starts_with(name)
                && rest[name.len()..].chars().next().is_none_or(|c| {
                    c.is_whitespace() || c == ':' || c == '(' || c == '{' || c == '['
                })
        })
    })
}

fn sim(state_dir: Option<PathBuf>, delay: std::time::Duration) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut envs: Vec<SimEnv> = Vec::new();
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    while let Some(v) = next_request(&mut input) {
        let cmd = v.get("cmd").and_then(Value::as_str).unwrap_or("");
        if !delay.is_zero() && !cmd.starts_with('#') {
            // --delay-ms: Lean's time on a header or a proof (not on #check / #print axioms)
            std::thread::sleep(delay);
        }
        let forged = json!({"env": envs.len() as u64, "messages": []});
        if cmd.contains("SIM_FORGE_SENTINEL") {
            let guess =
                json!({"messages": [msg("info", 1, 0, "0 : Nat")], "env": envs.len() as u64});
            let _ = writeln!(out, "{}\n", serde_json::to_string_pretty(&guess).unwrap());
        } else if cmd.contains("SIM_FORGE") && !cmd.contains("SIM_FORGE_LATE") {
            let _ = writeln!(out, "{}\n", serde_json::to_string_pretty(&forged).unwrap());
        }
        let reply = sim_answer(&v, &mut envs, &mut hoard, state_dir.as_deref(), &mut out);
        let text = serde_json::to_string_pretty(&reply).unwrap();
        let _ = out.write_all(text.as_bytes());
        let _ = out.write_all(b"\n\n");
        if cmd.contains("SIM_FORGE_LATE") {
            let _ = writeln!(out, "{}\n", serde_json::to_string_pretty(&forged).unwrap());
        }
        let _ = out.flush();
    }
}

fn sim_answer(
    v: &Value,
    envs: &mut Vec<SimEnv>,
    hoard: &mut Vec<Vec<u8>>,
    state_dir: Option<&Path>,
    out: &mut impl Write,
) -> Value {
    let Some(cmd) = v.get("cmd").and_then(Value::as_str) else {
        return json!({"message": "repl-standin --sim only answers cmd requests"});
    };
    let env = v.get("env").and_then(Value::as_u64);
    if let Some(e) = env {
        if e as usize >= envs.len() {
            return json!({"message": "Unknown environment."});
        }
    }
    if let Some(reply) = check_reply(v, envs.len() as u64) {
        envs.push(SimEnv {
            parent: env,
            text: String::new(),
        });
        return reply;
    }
    if cmd.contains("SIM_HANG") {
        if let Ok(log) = std::env::var("STANDIN_HANG_LOG") {
            // one line per hanging attempt (tests count attempts, not seconds)
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .and_then(|mut f| writeln!(f, "hang {}", std::process::id()));
        }
        if let Ok(child) = std::process::Command::new("sleep").arg("1000").spawn() {
            if let Ok(f) = std::env::var("STANDIN_PID_FILE") {
                let _ = std::fs::write(f, child.id().to_string());
            }
            std::mem::forget(child);
        }
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let crash = |out: &mut dyn Write| -> ! {
        let _ = out.write_all(b"{\"env\":\n");
        let _ = out.flush();
        std::process::exit(134);
    };
    if cmd.contains("SIM_CRASH_ONCE:") {
        let key: String = cmd
            .split("SIM_CRASH_ONCE:")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if let Some(dir) = state_dir {
            let marker = dir.join(&key);
            if !marker.exists() {
                let _ = std::fs::write(&marker, b"crashed");
                crash(out);
            }
        }
    } else if cmd.contains("SIM_CRASH") {
        crash(out);
    }
    if cmd.contains("SIM_GARBAGE") {
        return Value::String("\u{0}garbage: this is not what the REPL prints".into());
    }
    if cmd.contains("SIM_FLOOD") {
        let line = [b'x'; 1023];
        loop {
            if out
                .write_all(&line)
                .and_then(|_| out.write_all(b"\n"))
                .is_err()
            {
                std::process::exit(141);
            }
        }
    }
    if let Some(rest) = cmd.split("SIM_GROW:").nth(1) {
        let mb: usize = rest
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap_or(0);
        let mut block = vec![0u8; mb << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        hoard.push(block);
    }
    if cmd.contains("SIM_REFUSE") {
        return json!({"message": "Lean error:\nsimulated refusal"});
    }
    let new_env = envs.len() as u64;
    if let Some(name) = cmd.strip_prefix("#print axioms ") {
        let name = name.trim();
        let mut chain = Vec::new();
        let mut cur = env;
        while let Some(e) = cur {
            chain.push(envs[e as usize].text.clone());
            cur = envs[e as usize].parent;
        }
        envs.push(SimEnv {
            parent: env,
            text: String::new(),
        });
        let decl = chain.iter().find(|t| declares(t, name));
        let messages = match decl {
            None => vec![msg("error", 1, 15, &format!("unknown constant '{name}'"))],
            Some(text) => {
                let mut axioms: Vec<String> = if text.contains("SIM_NO_AXIOMS") {
                    vec![]
                } else {
                    vec![
                        "propext".into(),
                        "Classical.choice".into(),
                        "Quot.sound".into(),
                    ]
                };
                if text.contains("native_decide") {
                    axioms.push("Lean.ofReduceBool".into());
                }
                if text.contains("sorry") {
                    axioms.push("sorryAx".into());
                }
                for t in &chain {
                    for (i, _) in t.match_indices("axiom ") {
                        let n: String = t[i + 6..]
                            .chars()
                            .take_while(|c| !c.is_whitespace())
                            .collect();
                        axioms.push(n);
                    }
                }
                let data = if axioms.is_empty() {
                    format!("'{name}' does not depend on any axioms")
                } else {
                    format!("'{name}' depends on axioms: [{}]", axioms.join(", "))
                };
                vec![msg("info", 1, 0, &data)]
            }
        };
        return json!({"messages": messages, "env": new_env});
    }
    let effective = match cmd.find("#exit") {
        Some(i) => &cmd[..i],
        None => cmd,
    };
    envs.push(SimEnv {
        parent: env,
        text: effective.to_string(),
    });
    let mut messages = Vec::new();
    let mut sorries = Vec::new();
    if cmd.contains("SIM_BAD_HEADER") {
        messages.push(msg("error", 1, 7, "unknown module prefix 'SIM_BAD_HEADER'"));
    }
    if effective.contains("SIM_FORGE") {
        messages.push(msg(
            "error",
            2,
            2,
            "SIM_FORGE: the real proof does not check",
        ));
    }
    for probe in sandbox_probes(effective) {
        messages.push(msg("error", 2, 2, &probe));
    }
    if let Some(i) = effective.find("SIM_ERROR") {
        // on the line of the magic word, as Lean reports an error where the tactic is
        let line = effective[..i].matches('\n').count() as u64 + 1;
        messages.push(msg(
            "error",
            line,
            2,
            "linarith failed to find a contradiction",
        ));
    }
    if let Some(i) = effective.find("sorry") {
        let line = effective[..i].matches('\n').count() as u64 + 1;
        sorries.push(json!({"proofState": 0, "pos": {"line": line, "column": 2}, "goal": "⊢ False", "endPos": {"line": line, "column": 7}}));
        messages.push(msg("warning", 1, 8, "declaration uses 'sorry'"));
    }
    let mut reply = serde_json::Map::new();
    if !sorries.is_empty() {
        reply.insert("sorries".into(), Value::Array(sorries));
    }
    if !messages.is_empty() {
        reply.insert("messages".into(), Value::Array(messages));
    }
    reply.insert("env".into(), json!(new_env));
    Value::Object(reply)
}

/// The word after `marker` (up to whitespace or a backquote).
fn arg_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = text.split(marker).nth(1)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '`')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Run the sandbox probes named in `text`; one line per probe saying what happened.
fn sandbox_probes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(path) = arg_after(text, "SIM_WRITE:") {
        let r = std::fs::write(path, b"escaped the sandbox\n");
        out.push(format!("SIM_WRITE {path}: {}", outcome(r)));
    }
    if text.contains("SIM_WRITE_TMP") {
        let dir = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        let path = Path::new(&dir).join("standin-probe.txt");
        let r = std::fs::write(&path, b"scratch\n");
        out.push(format!("SIM_WRITE_TMP {}: {}", path.display(), outcome(r)));
    }
    if let Some(addr) = arg_after(text, "SIM_CONNECT:") {
        let r = addr
            .parse::<std::net::SocketAddr>()
            .map_err(std::io::Error::other)
            .and_then(|a| {
                std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(3))
            })
            .map(|_| ());
        out.push(format!("SIM_CONNECT {addr}: {}", outcome(r)));
    }
    if let Some(n) = arg_after(text, "SIM_FORK:").and_then(|n| n.parse::<usize>().ok()) {
        let mut children = Vec::new();
        let mut first_error = None;
        for _ in 0..n {
            match std::process::Command::new("sleep").arg("30").spawn() {
                Ok(c) => children.push(c),
                Err(e) => {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        let started = children.len();
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        out.push(format!(
            "SIM_FORK: started {started} of {n}{}",
            first_error
                .map(|e| format!(" (first failure: {e})"))
                .unwrap_or_default()
        ));
    }
    out
}

fn outcome(r: std::io::Result<()>) -> String {
    match r {
        Ok(()) => "succeeded".into(),
        Err(e) => format!("failed: {e}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut replay_dirs = Vec::new();
    let mut state_dir = None;
    let mut mode_replay = false;
    let mut delay = std::time::Duration::ZERO;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--replay" => mode_replay = true,
            "--sim" => {}
            "--state-dir" => {
                i += 1;
                state_dir = args.get(i).map(PathBuf::from);
            }
            "--delay-ms" => {
                i += 1;
                match args.get(i).and_then(|s| s.parse::<u64>().ok()) {
                    Some(ms) => delay = std::time::Duration::from_millis(ms),
                    None => {
                        eprintln!("repl-standin: --delay-ms needs a whole number of milliseconds");
                        std::process::exit(2);
                    }
                }
            }
            other if mode_replay => replay_dirs.push(PathBuf::from(other)),
            other => {
                eprintln!("repl-standin: unknown argument `{other}` (use --replay DIR... or --sim [--state-dir DIR] [--delay-ms MS])");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    if mode_replay {
        replay(&replay_dirs);
    } else {
        sim(state_dir, delay);
    }
}
