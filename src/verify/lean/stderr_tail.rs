//! A child's stderr, read continuously into a bounded tail.
//!
//! Rule: every Lean process we start with a piped stderr gets a drain. A pipe holds 64 KiB on
//! Linux; a process that writes more to a pipe nobody reads blocks in `write(2)` until the
//! reader's timeout fires (Lean's file workers print panics and traces there). The drain keeps
//! only the last [`TAIL_BYTES`] for error reports, so a flood costs no memory.
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of stderr kept for error reports (trimmed back to half when exceeded).
pub(crate) const TAIL_BYTES: usize = 4096;

/// The last few KiB a process wrote to stderr, and how much it wrote in all.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail {
    inner: Arc<Mutex<TailState>>,
}

#[derive(Debug, Default)]
struct TailState {
    tail: String,
    total_bytes: u64,
}

impl StderrTail {
    /// Spawn a task that reads `stream` to its end, keeping the tail. Call inside a tokio
    /// runtime.
    pub fn drain<R: AsyncRead + Unpin + Send + 'static>(mut stream: R) -> Self {
        let tail = StderrTail::default();
        let state = tail.inner.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                        s.total_bytes += n as u64;
                        s.tail.push_str(&String::from_utf8_lossy(&buf[..n]));
                        if s.tail.len() > TAIL_BYTES {
                            let cut = s.tail.len() - TAIL_BYTES / 2;
                            let cut = (cut..s.tail.len())
                                .find(|&i| s.tail.is_char_boundary(i))
                                .unwrap_or(s.tail.len());
                            s.tail.replace_range(..cut, "");
                        }
                    }
                }
            }
        });
        tail
    }

    /// The kept tail, trimmed.
    pub fn text(&self) -> String {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.tail.trim().to_string()
    }

    /// Bytes read so far.
    pub fn total_bytes(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .total_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_flood_is_drained_and_only_the_tail_is_kept() {
        // a pipe far smaller than what is written: the writer only finishes if we drain
        let (mut w, r) = tokio::io::duplex(1024);
        let tail = StderrTail::drain(r);
        let line = "é panic: something went wrong in a file worker\n".repeat(100);
        for _ in 0..200 {
            w.write_all(line.as_bytes()).await.unwrap();
        }
        w.write_all(b"LAST LINE\n").await.unwrap();
        drop(w);
        for _ in 0..200 {
            if tail.text().ends_with("LAST LINE") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(tail.text().ends_with("LAST LINE"), "{}", tail.text());
        assert!(tail.text().len() <= TAIL_BYTES);
        assert_eq!(tail.total_bytes(), (line.len() * 200 + 10) as u64);
    }
}
