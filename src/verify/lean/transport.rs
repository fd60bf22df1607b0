//! Framing over a byte stream (a child's stdio, or an in-memory pipe in tests).
//!
//! - REPL framing: a request is one line of JSON followed by a blank line; a reply is any
//!   number of non-blank lines ended by a blank line.
//! - LSP framing: `Content-Length: N\r\n\r\n` followed by N bytes of JSON.
//!
//! Both readers cap how much they buffer, so a peer that floods output cannot exhaust memory.
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What can go wrong on the wire.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// The peer closed its output (it exited or crashed); `partial` is what it sent of the
    /// unfinished reply.
    #[error("the Lean process closed its output{}", if partial.is_empty() { String::new() } else { format!(" in the middle of a reply ({} bytes)", partial.len()) })]
    Closed { partial: String },
    /// A reply grew past the limit without ending.
    #[error("reply exceeded {limit} bytes without ending (flooding output?)")]
    TooLarge { limit: usize },
    /// The reply was not UTF-8.
    #[error("reply is not valid UTF-8")]
    InvalidUtf8,
    /// A malformed LSP header.
    #[error("bad LSP header: {0}")]
    BadHeader(String),
    /// An I/O error on the pipe.
    #[error("pipe I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Read one line (including its `\n`, if any) into `buf`, never buffering more than `limit`
/// bytes in total. Returns the number of bytes appended (0 at end of stream).
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, TransportError> {
    let start = buf.len();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(buf.len() - start);
        }
        let (take, done) = match memchr_newline(available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > limit {
            return Err(TransportError::TooLarge { limit });
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(buf.len() - start);
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// REPL framing over a reader and a writer.
pub(crate) struct ReplChannel<R, W> {
    reader: R,
    writer: W,
    max_reply_bytes: usize,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> ReplChannel<R, W> {
    /// Wrap a reader/writer pair; replies longer than `max_reply_bytes` are an error.
    pub fn new(reader: R, writer: W, max_reply_bytes: usize) -> Self {
        ReplChannel {
            reader,
            writer,
            max_reply_bytes,
        }
    }

    /// Send one request line followed by the blank line that ends it.
    pub async fn send(&mut self, line: &str) -> Result<(), TransportError> {
        debug_assert!(!line.contains('\n'), "a REPL request must be a single line");
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\n\n");
        self.writer.write_all(&bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Send raw bytes (tests use it to send what a user typed, including malformed input).
    #[cfg(test)]
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Receive one reply: the lines up to (not including) the blank line that ends it. The
    /// returned text keeps the newline of its last line, so `reply + "\n"` is exactly what the
    /// peer wrote. Leading blank lines are skipped.
    pub async fn recv(&mut self) -> Result<String, TransportError> {
        let mut buf = Vec::new();
        loop {
            let line_start = buf.len();
            let n = read_line_capped(&mut self.reader, &mut buf, self.max_reply_bytes).await?;
            if n == 0 {
                let partial = String::from_utf8_lossy(&buf).into_owned();
                return Err(TransportError::Closed { partial });
            }
            if is_blank(&buf[line_start..]) {
                if line_start == 0 {
                    buf.clear();
                    continue;
                }
                buf.truncate(line_start);
                return String::from_utf8(buf).map_err(|_| TransportError::InvalidUtf8);
            }
        }
    }
}

/// LSP (Content-Length) framing over a reader and a writer.
pub(crate) struct LspChannel<R, W> {
    reader: R,
    writer: W,
    max_message_bytes: usize,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> LspChannel<R, W> {
    /// Wrap a reader/writer pair; bodies longer than `max_message_bytes` are an error.
    pub fn new(reader: R, writer: W, max_message_bytes: usize) -> Self {
        LspChannel {
            reader,
            writer,
            max_message_bytes,
        }
    }

    /// Send one message body with its header.
    pub async fn send(&mut self, body: &str) -> Result<(), TransportError> {
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        self.writer.write_all(header.as_bytes()).await?;
        self.writer.write_all(body.as_bytes()).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Receive one message body.
    pub async fn recv(&mut self) -> Result<String, TransportError> {
        let mut length: Option<usize> = None;
        loop {
            let mut line = Vec::new();
            let n = read_line_capped(&mut self.reader, &mut line, 8192).await?;
            if n == 0 {
                return Err(TransportError::Closed {
                    partial: String::from_utf8_lossy(&line).into_owned(),
                });
            }
            let text = String::from_utf8(line).map_err(|_| TransportError::InvalidUtf8)?;
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if length.is_some() {
                    break;
                }
                continue;
            }
            let (name, value) = text
                .split_once(':')
                .ok_or_else(|| TransportError::BadHeader(text.to_string()))?;
            if name.trim().eq_ignore_ascii_case("content-length") {
                let n: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| TransportError::BadHeader(text.to_string()))?;
                length = Some(n);
            }
        }
        let n = length.unwrap_or(0);
        if n > self.max_message_bytes {
            return Err(TransportError::TooLarge {
                limit: self.max_message_bytes,
            });
        }
        let mut body = vec![0u8; n];
        match self.reader.read_exact(&mut body).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(TransportError::Closed {
                    partial: String::new(),
                })
            }
            Err(e) => return Err(e.into()),
        }
        String::from_utf8(body).map_err(|_| TransportError::InvalidUtf8)
    }
}

/// One end of an in-memory pipe (tests).
#[cfg(test)]
pub(crate) type MemoryEnd = (
    tokio::io::BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
    tokio::io::WriteHalf<tokio::io::DuplexStream>,
);

/// An in-memory duplex pair for tests: what one side writes the other reads (like
/// `lsp_server::Connection::memory()`).
#[cfg(test)]
pub(crate) fn memory_pair() -> (MemoryEnd, MemoryEnd) {
    let (a, b) = tokio::io::duplex(1 << 16);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    (
        (tokio::io::BufReader::new(ar), aw),
        (tokio::io::BufReader::new(br), bw),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn repl_framing_round_trip_and_raw_bytes() {
        let ((cr, cw), (sr, sw)) = memory_pair();
        let mut client = ReplChannel::new(cr, cw, 1 << 20);
        let mut server = ReplChannel::new(sr, sw, 1 << 20);
        client.send(r#"{"cmd": "def f := 1"}"#).await.unwrap();
        assert_eq!(server.recv().await.unwrap(), "{\"cmd\": \"def f := 1\"}\n");
        server.send_raw(b"{\"env\":\n 0}\n\n").await.unwrap();
        assert_eq!(client.recv().await.unwrap(), "{\"env\":\n 0}\n");
    }

    #[tokio::test]
    async fn repl_framing_reports_close_mid_reply_and_floods() {
        let ((cr, cw), (sr, mut sw)) = memory_pair();
        let mut client = ReplChannel::new(cr, cw, 64);
        sw.write_all(b"{\"env\":").await.unwrap();
        drop(sw);
        drop(sr); // both halves gone: the stream is closed
        match client.recv().await {
            Err(TransportError::Closed { partial }) => assert_eq!(partial, "{\"env\":"),
            other => panic!("expected Closed, got {other:?}"),
        }
        let ((cr, cw), (_sr, mut sw)) = memory_pair();
        let mut client = ReplChannel::new(cr, cw, 64);
        tokio::spawn(async move {
            let _ = sw.write_all(&[b'x'; 1000]).await;
        });
        assert!(matches!(
            client.recv().await,
            Err(TransportError::TooLarge { limit: 64 })
        ));
    }

    #[tokio::test]
    async fn lsp_framing_round_trip() {
        let ((cr, cw), (sr, sw)) = memory_pair();
        let mut client = LspChannel::new(cr, cw, 1 << 20);
        let mut server = LspChannel::new(sr, sw, 1 << 20);
        client.send("{\"a\":\"é\"}").await.unwrap();
        assert_eq!(server.recv().await.unwrap(), "{\"a\":\"é\"}");
        server.send("{}").await.unwrap();
        assert_eq!(client.recv().await.unwrap(), "{}");
    }
}
