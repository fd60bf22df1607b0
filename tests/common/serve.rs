//! Starting `prover serve` backed by the simulated REPL, on a free loopback port.
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `prover serve`; killed when dropped.
pub struct Served {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Everything it printed on stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Served {
    /// SIGKILL, as a machine dying would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful shutdown); returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child, which has not been reaped yet
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `prover serve --port 0 --repl-cmd "repl-standin --sim STANDIN_ARGS" ARGS` and wait
/// for its "listening on" line.
pub fn serve_standin(standin_args: &str, args: &[&str], env: &[(&str, &str)]) -> Served {
    let repl = format!(
        "{} --sim {standin_args}",
        env!("CARGO_BIN_EXE_repl-standin")
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prover"));
    cmd.args([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--repl-cmd",
        &repl,
    ])
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start prover serve");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(url);
                }
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("prover serve did not start: {}", log.lock().unwrap()));
    Served { child, url, log }
}
