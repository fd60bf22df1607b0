//! `lsp-standin`: a stand-in for `lean --server`, for tests on machines without Lean.
//!
//! Speaks LSP over stdin/stdout (`Content-Length` framing): answers `initialize`; on
//! `textDocument/didOpen` checks the URI the way Lean's file worker needs it (an absolute
//! `file:///` URI, percent-decoded, naming a file in an existing directory) and publishes
//! diagnostics (tagged with the document version) plus `$/lean/fileProgress` with nothing left
//! to process; `textDocument/didChange` (full text) publishes the new version's; answers
//! `textDocument/waitForDiagnostics` and `shutdown`; exits on `exit` or end of input.
//!
//! Simulated Lean, line by line of the opened text:
//! - `#print axioms NAME`: information "'NAME' depends on axioms: [propext, Classical.choice,
//!   Quot.sound]" (plus `Lean.ofReduceBool` when the text uses `native_decide`) if the text
//!   declares `theorem NAME`, else the error "unknown constant 'NAME'";
//! - a line containing `SIM_ERROR`: an error there;
//! - `SIM_UNFINISHED` anywhere: the parse error Lean reports for an unfinished last declaration,
//!   at the next token, which is the first appended `#print axioms` line (error severity);
//! - `sorry`: the warning "declaration uses 'sorry'" on that line;
//! - `#check (N : Nat)` (the driver's sentinel): information "N : Nat".
//!
//! Options:
//! - `--stderr-flood-mb N`: write N MiB to stderr before each reply, as a crashing or tracing
//!   file worker does (this blocks once the pipe is full unless the client drains it);
//! - `--grow-mb N`: on didOpen start a child (`lsp-standin --hog N`, like a file worker) that
//!   holds N MiB, and never answer waitForDiagnostics (a long elaboration);
//! - `--echo-uri`: also report the document's URI as an information message on line 0
//!   ("lsp-standin: document URI …"), so a test reads what the driver sent (a file would need
//!   a write outside the worker's sandbox);
//! - `--hog N`: be that child: allocate and touch N MiB, then sleep.
use std::io::{BufRead, Write};

use serde_json::{json, Value};

struct Opts {
    flood_mb: usize,
    grow_mb: usize,
    echo_uri: bool,
}

fn read_message(input: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0u8; length?];
    input.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn send(out: &mut impl Write, opts: &Opts, msg: Value) {
    if opts.flood_mb > 0 {
        let line = [b'!'; 1023];
        let mut err = std::io::stderr().lock();
        for _ in 0..opts.flood_mb * 1024 {
            let _ = err.write_all(&line);
            let _ = err.write_all(b"\n");
        }
        let _ = err.flush();
    }
    let body = msg.to_string();
    let _ = write!(out, "Content-Length: {}\r\n\r\n{body}", body.len());
    let _ = out.flush();
}

fn diag(line: usize, severity: u8, message: &str) -> Value {
    json!({"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 1}},
           "severity": severity, "message": message})
}

fn declares(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        ["theorem ", "lemma "].iter().any(|kw| {
            l.strip_prefix(kw).is_some_and(|rest| {
                rest.starts_with(name)
                    && rest[name.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| c.is_whitespace() || c == ':' || c == '(')
            })
        })
    })
}

/// Why Lean could not use `uri` for a document, if it could not.
fn uri_problem(uri: &str) -> Option<String> {
    let parsed = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(e) => return Some(format!("not a URI ({e})")),
    };
    if parsed.scheme() != "file" || parsed.host_str().is_some_and(|h| !h.is_empty()) {
        return Some(format!(
            "not a local file URI (scheme {}, host {:?})",
            parsed.scheme(),
            parsed.host_str()
        ));
    }
    let Ok(path) = parsed.to_file_path() else {
        return Some("not a file path".into());
    };
    match path.parent() {
        Some(dir) if dir.is_dir() => None,
        _ => Some(format!(
            "{} is not in an existing directory",
            path.display()
        )),
    }
}

fn diagnostics(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut unfinished = text.contains("SIM_UNFINISHED");
    for (i, l) in text.lines().enumerate() {
        if let Some(name) = l.strip_prefix("#print axioms ") {
            let name = name.trim();
            if std::mem::take(&mut unfinished) {
                out.push(diag(i, 1, "unexpected token '#print'; expected term"));
            }
            if declares(text, name) {
                let mut axioms = vec!["propext", "Classical.choice", "Quot.sound"];
                if text.contains("native_decide") {
                    axioms.push("Lean.ofReduceBool");
                }
                out.push(diag(
                    i,
                    3,
                    &format!("'{name}' depends on axioms: [{}]", axioms.join(", ")),
                ));
            } else {
                out.push(diag(i, 1, &format!("unknown constant '{name}'")));
            }
            continue;
        }
        // the driver's sentinel (`#check (NONCE : Nat)`, see lsp_worker's sealing): Lean reports
        // the term and its type, as the REPL transcripts show for `#check`
        if let Some(n) = l
            .strip_prefix("#check (")
            .and_then(|r| r.strip_suffix(" : Nat)"))
        {
            out.push(diag(i, 3, &format!("{n} : Nat")));
            continue;
        }
        if l.contains("SIM_ERROR") {
            out.push(diag(i, 1, "linarith failed to find a contradiction"));
        }
        if l.contains("sorry") {
            out.push(diag(i, 2, "declaration uses 'sorry'"));
        }
    }
    out
}

fn hog(mb: usize) -> ! {
    let mut block = vec![0u8; mb << 20];
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        std::hint::black_box(&block);
    }
}

fn serve(opts: Opts) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut hogs = Vec::new();
    while let Some(m) = read_message(&mut input) {
        let id = m.get("id").cloned();
        match m.get("method").and_then(Value::as_str) {
            Some("initialize") => send(
                &mut out,
                &opts,
                json!({"jsonrpc": "2.0", "id": id, "result": {"capabilities": {}}}),
            ),
            Some(method @ ("textDocument/didOpen" | "textDocument/didChange")) => {
                let opened = method == "textDocument/didOpen";
                let doc = &m["params"]["textDocument"];
                let uri = doc["uri"].as_str().unwrap_or("").to_string();
                let version = doc["version"].as_i64().unwrap_or(1);
                let text = if opened {
                    doc["text"].as_str().unwrap_or("")
                } else {
                    m["params"]["contentChanges"][0]["text"]
                        .as_str()
                        .unwrap_or("")
                };
                let mut diags = match uri_problem(&uri) {
                    Some(why) => vec![diag(
                        0,
                        1,
                        &format!("lsp-standin: bad document URI {uri}: {why}"),
                    )],
                    None => diagnostics(text),
                };
                if opts.echo_uri {
                    diags.push(diag(0, 3, &format!("lsp-standin: document URI {uri}")));
                }
                if opened && opts.grow_mb > 0 {
                    if let Ok(exe) = std::env::current_exe() {
                        if let Ok(c) = std::process::Command::new(exe)
                            .args(["--hog", &opts.grow_mb.to_string()])
                            .spawn()
                        {
                            hogs.push(c);
                        }
                    }
                }
                send(
                    &mut out,
                    &opts,
                    json!({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                           "params": {"uri": uri, "version": version, "diagnostics": diags}}),
                );
                send(
                    &mut out,
                    &opts,
                    json!({"jsonrpc": "2.0", "method": "$/lean/fileProgress",
                           "params": {"textDocument": {"uri": uri, "version": version}, "processing": []}}),
                );
            }
            Some("textDocument/waitForDiagnostics") if opts.grow_mb == 0 => send(
                &mut out,
                &opts,
                json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            ),
            Some("shutdown") => send(
                &mut out,
                &opts,
                json!({"jsonrpc": "2.0", "id": id, "result": null}),
            ),
            Some("exit") => break,
            _ => {}
        }
    }
    for mut h in hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Opts {
        flood_mb: 0,
        grow_mb: 0,
        echo_uri: false,
    };
    let num = |i: usize| -> usize {
        match args.get(i).and_then(|s| s.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("lsp-standin: `{}` needs a number", args[i - 1]);
                std::process::exit(2);
            }
        }
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--stderr-flood-mb" => {
                i += 1;
                opts.flood_mb = num(i);
            }
            "--grow-mb" => {
                i += 1;
                opts.grow_mb = num(i);
            }
            "--echo-uri" => opts.echo_uri = true,
            "--hog" => hog(num(i + 1)),
            other => {
                eprintln!("lsp-standin: unknown argument `{other}` (use --stderr-flood-mb N, --grow-mb N, --echo-uri, --hog N)");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    serve(opts);
}
