//! Progress of a long command on stderr, one helper for `train`, `eval` and `verify`.
//!
//! Rules:
//! - stderr is a terminal → an indicatif bar with a short message, redrawn in place;
//! - stderr is not a terminal (a log file under nohup, Slurm or CI) → plain lines, at most one
//!   per interval (default 10 s, `--progress-interval`), the first at once (or, for
//!   [`Progress::delayed`], only once the interval has passed: small inputs print nothing),
//!   and always the last one;
//! - `--quiet` ([`set_quiet`]) → nothing.
//!
//! Event lines ([`Progress::event`], e.g. `eval step 10: 27.0% (27/100)`) are printed in both
//! visible modes, above the bar on a terminal. Each plain line ends with the elapsed time and
//! the ETA `elapsed / done · (len − pos)`, where `done` counts the items finished since this
//! progress was created (a resumed run does not count the steps done before).
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static QUIET: AtomicBool = AtomicBool::new(false);
static INTERVAL_MS: AtomicU64 = AtomicU64::new(10_000);

/// Silences every progress bar and line of this process (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// The least time between two plain progress lines (`--progress-interval`; 0 = every item).
pub fn set_interval(every: Duration) {
    INTERVAL_MS.store(every.as_millis() as u64, Ordering::Relaxed);
}

fn interval() -> Duration {
    Duration::from_millis(INTERVAL_MS.load(Ordering::Relaxed))
}

/// Decides when a plain line is due: the first at once (delayed: after `every`), then at most
/// one per `every`, and always the last item's (delayed: only when a line was printed before).
#[derive(Debug, Clone)]
pub struct Throttle {
    every: Duration,
    start: Instant,
    last: Option<Instant>,
    delayed: bool,
}

impl Throttle {
    /// A throttle started at `start`; `delayed`: the first line only after `every`.
    pub fn new(every: Duration, start: Instant, delayed: bool) -> Self {
        Throttle {
            every,
            start,
            last: None,
            delayed,
        }
    }

    /// Whether a line is due at `now`; `last_item`: this is the final item. Records the line.
    pub fn due(&mut self, now: Instant, last_item: bool) -> bool {
        let since = self.last.unwrap_or(self.start);
        let due = (last_item && (!self.delayed || self.last.is_some()))
            || (self.last.is_none() && !self.delayed)
            || now.saturating_duration_since(since) >= self.every;
        if due {
            self.last = Some(now);
        }
        due
    }

    /// Whether any line was printed.
    pub fn printed(&self) -> bool {
        self.last.is_some()
    }
}

/// Where plain lines go (stderr, or a buffer in tests).
pub type Sink = Arc<Mutex<dyn Write + Send>>;

enum Output {
    Bar(indicatif::ProgressBar),
    Lines { sink: Sink, throttle: Throttle },
    Hidden,
}

/// The progress of one task of `len` items.
pub struct Progress {
    out: Output,
    len: u64,
    start: Instant,
    pos0: u64,
}

/// `1h02m`, `4m05s`, `12s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    /// Progress of `len` items, `pos` of them already done; `unit` names them in the bar
    /// ("steps", "problems"). Hidden when `show` is false or the process is quiet.
    pub fn new(show: bool, len: u64, pos: u64, unit: &str) -> Self {
        Self::auto(show, len, pos, unit, false)
    }

    /// Like [`Progress::new`], but plain lines start only after one interval, so that a short
    /// run prints none (`prover verify` on a small file).
    pub fn delayed(show: bool, len: u64, pos: u64, unit: &str) -> Self {
        Self::auto(show, len, pos, unit, true)
    }

    fn auto(show: bool, len: u64, pos: u64, unit: &str, delayed: bool) -> Self {
        if !show || QUIET.load(Ordering::Relaxed) {
            return Self::hidden();
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(len);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{bar:30}} {{pos}}/{{len}} {unit}  [{{elapsed_precise}} < {{eta}}]  {{msg}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_position(pos);
            Progress {
                out: Output::Bar(bar),
                len,
                start: Instant::now(),
                pos0: pos,
            }
        } else {
            Self::lines(
                Arc::new(Mutex::new(std::io::stderr())),
                interval(),
                len,
                pos,
                delayed,
            )
        }
    }

    /// Plain lines into `sink` at most one per `every` (what a non-terminal stderr gets).
    pub fn lines(sink: Sink, every: Duration, len: u64, pos: u64, delayed: bool) -> Self {
        let start = Instant::now();
        Progress {
            out: Output::Lines {
                sink,
                throttle: Throttle::new(every, start, delayed),
            },
            len,
            start,
            pos0: pos,
        }
    }

    /// Shows nothing.
    pub fn hidden() -> Self {
        Progress {
            out: Output::Hidden,
            len: 0,
            start: Instant::now(),
            pos0: 0,
        }
    }

    /// `pos` items are done: the bar moves and shows `msg`; a plain line (`line()` followed by
    /// the elapsed time and the ETA) is printed when due.
    pub fn tick(&mut self, pos: u64, msg: &str, line: impl FnOnce() -> String) {
        let (elapsed, len, pos0) = (self.start.elapsed(), self.len, self.pos0);
        match &mut self.out {
            Output::Bar(b) => {
                b.set_position(pos);
                b.set_message(msg.to_string());
            }
            Output::Lines { sink, throttle } => {
                if throttle.due(Instant::now(), pos >= len) {
                    let mut text = line();
                    text.push_str(&format!("  elapsed {}", format_duration(elapsed)));
                    if let Some(eta) =
                        eta(elapsed, pos.saturating_sub(pos0), len.saturating_sub(pos))
                    {
                        text.push_str(&format!("  eta {}", format_duration(eta)));
                    }
                    write_line(sink, &text);
                }
            }
            Output::Hidden => {}
        }
    }

    /// Measures elapsed time and ETA from now on (after a one-off phase, e.g. the evaluation
    /// before training, that would skew the rate of the items).
    pub fn restart_clock(&mut self) {
        self.start = Instant::now();
        if let Output::Bar(b) = &self.out {
            b.reset_eta();
        }
    }

    /// A line that reports an event (printed whenever progress is visible).
    pub fn event(&self, line: &str) {
        match &self.out {
            Output::Bar(b) => b.println(line),
            Output::Lines { sink, .. } => write_line(sink, line),
            Output::Hidden => {}
        }
    }

    /// Whether anything is shown.
    pub fn is_visible(&self) -> bool {
        !matches!(self.out, Output::Hidden)
    }

    /// Whether this writes plain lines (stderr is not a terminal).
    pub fn is_lines(&self) -> bool {
        matches!(self.out, Output::Lines { .. })
    }

    /// Whether a plain line was printed.
    pub fn printed_lines(&self) -> bool {
        matches!(&self.out, Output::Lines { throttle, .. } if throttle.printed())
    }

    /// Done: the bar stays (`keep`) or is cleared.
    pub fn finish(&self, keep: bool) {
        if let Output::Bar(b) = &self.out {
            if keep {
                b.finish();
            } else {
                b.finish_and_clear();
            }
        }
    }

    /// Stopped by an error: the bar stays where it was.
    pub fn abandon(&self) {
        if let Output::Bar(b) = &self.out {
            b.abandon();
        }
    }
}

/// `elapsed / done · left`, or `None` before the first item or after the last.
fn eta(elapsed: Duration, done: u64, left: u64) -> Option<Duration> {
    if done == 0 || left == 0 {
        return None;
    }
    Some(elapsed.mul_f64(left as f64 / done as f64))
}

fn write_line(sink: &Sink, line: &str) {
    if let Ok(mut w) = sink.lock() {
        // progress is best effort: a closed stderr must not stop the work
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn throttle_prints_first_then_one_per_interval_and_the_last() {
        let t0 = Instant::now();
        let s = |ms: u64| t0 + Duration::from_millis(ms);
        let mut th = Throttle::new(Duration::from_secs(10), t0, false);
        assert!(th.due(s(100), false), "the first line is printed at once");
        assert!(!th.due(s(5_000), false));
        assert!(
            !th.due(s(10_099), false),
            "less than 10 s after the last line"
        );
        assert!(th.due(s(10_100), false));
        assert!(!th.due(s(10_200), false));
        assert!(th.due(s(10_300), true), "the last item always prints");
    }

    #[test]
    fn delayed_throttle_waits_one_interval() {
        let t0 = Instant::now();
        let mut th = Throttle::new(Duration::from_secs(10), t0, true);
        assert!(!th.due(t0 + Duration::from_secs(1), false));
        assert!(!th.printed());
        let mut small = th.clone();
        assert!(
            !small.due(t0 + Duration::from_secs(2), true),
            "a delayed progress that printed nothing stays silent at the end"
        );
        assert!(th.due(t0 + Duration::from_secs(10), false));
        assert!(th.printed());
        assert!(
            th.due(t0 + Duration::from_secs(11), true),
            "then the last line prints"
        );
    }

    #[test]
    fn zero_interval_prints_every_item() {
        let buf = Buf::default();
        let mut p = Progress::lines(
            Arc::new(Mutex::new(buf.clone())),
            Duration::ZERO,
            3,
            0,
            false,
        );
        for i in 1..=3 {
            p.tick(i, "m", || format!("item {i}/3"));
        }
        p.event("event line");
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("item 1/3  elapsed "), "{text}");
        assert!(lines[0].contains("  eta "), "{text}");
        assert!(
            !lines[2].contains("eta"),
            "no ETA after the last item: {text}"
        );
        assert_eq!(lines[3], "event line");
        assert!(p.printed_lines());
    }

    #[test]
    fn long_interval_prints_first_and_last_only() {
        let buf = Buf::default();
        let mut p = Progress::lines(
            Arc::new(Mutex::new(buf.clone())),
            Duration::from_secs(3600),
            5,
            0,
            false,
        );
        for i in 1..=5 {
            p.tick(i, "m", || format!("item {i}"));
        }
        let text = buf.text();
        let firsts: Vec<&str> = text
            .lines()
            .map(|l| l.split("  ").next().unwrap())
            .collect();
        assert_eq!(firsts, ["item 1", "item 5"], "{text}");
    }

    #[test]
    fn hidden_prints_nothing_and_eta_is_proportional() {
        let mut p = Progress::hidden();
        p.tick(1, "m", || panic!("a hidden progress formats no line"));
        assert!(!p.is_visible());
        assert_eq!(
            eta(Duration::from_secs(10), 2, 8),
            Some(Duration::from_secs(40))
        );
        assert_eq!(eta(Duration::from_secs(10), 0, 8), None);
        assert_eq!(eta(Duration::from_secs(10), 2, 0), None);
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h02m");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_duration(Duration::from_secs(9)), "9s");
    }
}
