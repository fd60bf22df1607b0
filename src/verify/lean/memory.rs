//! Memory of Lean workers: what is measured, which limit applies where, and how many workers
//! fit in the machine.
//!
//! A worker is a process group (we `setsid` before exec), not one process: `lake env repl`
//! runs the REPL as a child of `lake`, and `lean --server` runs one `lean --worker` child per
//! file. So memory is summed over every process whose process group is the worker's, read
//! from `/proc/PID/stat` (field 5, `pgrp`) and `/proc/PID/status`.
//!
//! Why sum over the group rather than resolve `lake env` once and start `repl` directly: the
//! sum works for any command prover is given (`lake env …`, a `--repl-cmd` wrapper script,
//! `lean --server` and its file workers) with one code path, and prover never has to copy
//! Lake's environment (`LEAN_PATH`, `LD_LIBRARY_PATH`, …, computed per workspace and Lake
//! version). The cost is a few `/proc` reads per check. (A command that runs Lean on another
//! machine, `ssh …`, is outside either approach: its memory is the remote side's to limit.)
//!
//! Two numbers per group:
//! - `rss_bytes`: Σ `VmRSS`, everything resident, including pages of files the processes map.
//! - `private_bytes`: Σ `RssAnon` (`VmRSS` on kernels older than 4.5, which lack it): the
//!   anonymous memory (heap, stacks). This is what grows with every environment the REPL keeps
//!   and what a restart gives back. The `.olean` files `import Mathlib` maps are file-backed
//!   pages, shared through the page cache by every worker on the machine and not freed by a
//!   restart, so they should not trigger one. (That rests on reading Lean's source, not on
//!   running it: `lean_read_module_data_parts` in `src/library/module.cpp` maps each `.olean`
//!   `PROT_READ, MAP_PRIVATE` at the base address in its header, and only if any mapping fails
//!   reads them all into one `malloc`ed buffer, which then counts as private. The first-real-run
//!   checklist in lean/README.md records both numbers after `import Mathlib` to confirm.)
//!
//! Which limit applies where:
//! - Pool (REPL workers): after each job, a worker whose group `private_bytes` exceeds
//!   `PoolConfig::max_rss_bytes` (8 GiB) is recycled; during a job, a group above
//!   `PoolConfig::rss_limit_bytes` (12 GiB) is killed (a verifier error, retried once).
//! - LSP (`prover verify --backend lsp`): the same during-job limit over the server and its
//!   file workers.
//! - `RLIMIT_AS` (`PoolConfig::memory_limit_bytes`, per process, inherited by children): off by
//!   default. It caps address space, not memory: `import Mathlib` maps several GB of `.olean`
//!   files and glibc reserves 64 MiB of address space per malloc arena (up to 8 × cores
//!   arenas), so a cap that looks generous can fail the import. Workers get
//!   `MALLOC_ARENA_MAX=2`, which bounds the arenas. Check a cap before using it with the
//!   one-liner in lean/README.md (`ulimit -v … ; … import Mathlib`).
//!
//! Default worker count: `min(cores − 1, RAM / 8 GiB)`, at least 1, where RAM is `MemTotal`
//! or the cgroup's `memory.max` when that is lower (each worker imports Mathlib).
use std::time::Duration;

/// Memory each worker is budgeted when choosing the default worker count.
pub const RAM_PER_WORKER_BYTES: u64 = 8 << 30;

/// Environment variables every Lean worker gets (unless the command sets them itself).
/// `MALLOC_ARENA_MAX=2`: glibc otherwise creates up to 8 × cores malloc arenas, each reserving
/// 64 MiB of address space and keeping freed memory per thread.
pub(crate) const WORKER_ENV: [(&str, &str); 1] = [("MALLOC_ARENA_MAX", "2")];

/// Memory of one process group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupMemory {
    /// Processes found in the group.
    pub processes: usize,
    /// Σ `VmRSS`.
    pub rss_bytes: u64,
    /// Σ `RssAnon` (or `VmRSS` where the kernel lacks `RssAnon`).
    pub private_bytes: u64,
}

/// The process group of a process, from the text of `/proc/PID/stat`. The second field (the
/// command name) is in parentheses and may itself contain spaces and parentheses, so fields are
/// counted from the last `)`.
pub(crate) fn pgrp_from_stat(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // after the name: state, ppid, pgrp
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// `(VmRSS, RssAnon)` in bytes from the text of `/proc/PID/status`.
pub(crate) fn rss_from_status(status: &str) -> (Option<u64>, Option<u64>) {
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// Sum the memory of every process in process group `pgid` (`None`: no such process, or no
/// `/proc`). The group leader is the worker's first process (we `setsid` it), so the group is
/// found by walking the leader's descendants (`/proc/PID/task/TID/children`, a few reads per
/// process) and keeping those still in the group; where the kernel lacks `children` files, or
/// the leader is gone, every process in `/proc` is checked instead (about 100× the reads).
/// A process that left the leader's tree (an orphan re-parented to init) is only seen by the
/// full scan; `kill(-pgid)` still reaches it.
pub fn group_memory(pgid: i32) -> Option<GroupMemory> {
    if pgid <= 0 {
        return None;
    }
    let tree = if has_children_files() {
        descendants_in_group(pgid)
    } else {
        None
    };
    let pids = match tree {
        Some(p) => p,
        None => scan_group(pgid)?,
    };
    let mut m = GroupMemory::default();
    for pid in pids {
        // a process may exit between the listing and the read: skip it
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let (rss, anon) = rss_from_status(&status);
        m.processes += 1;
        m.rss_bytes += rss.unwrap_or(0);
        m.private_bytes += anon.or(rss).unwrap_or(0);
    }
    (m.processes > 0).then_some(m)
}

fn has_children_files() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::path::Path::new("/proc/thread-self/children").exists())
}

fn pgrp_of(pid: i32) -> Option<i32> {
    pgrp_from_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The leader `pgid` and its descendants that are in group `pgid`; `None` if the leader is
/// gone or not in its group any more.
fn descendants_in_group(pgid: i32) -> Option<Vec<i32>> {
    if pgrp_of(pgid)? != pgid {
        return None;
    }
    let mut found = vec![pgid];
    let mut k = 0;
    while k < found.len() && found.len() < 10_000 {
        let pid = found[k];
        k += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in list
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                if !found.contains(&child) && pgrp_of(child) == Some(pgid) {
                    found.push(child);
                }
            }
        }
    }
    Some(found)
}

/// Every process in `/proc` whose group is `pgid`.
fn scan_group(pgid: i32) -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pgrp_of(pid) == Some(pgid) {
            out.push(pid);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Resolve when process group `pgid` holds more than `limit` private bytes (polled every
/// `every`); returns what was measured. Never resolves while the group stays under the limit
/// (or has gone).
pub(crate) async fn exceeds(pgid: i32, limit: u64, every: Duration) -> GroupMemory {
    // the first check after `every`: short jobs never pay for one
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(m) = group_memory(pgid) {
            if m.private_bytes > limit {
                return m;
            }
        }
    }
}

/// How often the during-job limit is checked.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(200);

/// Bytes as GiB with one decimal, for messages.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The default worker count and what it was chosen from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerChoice {
    /// Workers to start.
    pub workers: usize,
    /// CPU cores available to this process.
    pub cores: usize,
    /// Usable RAM, if known.
    pub ram_bytes: Option<u64>,
}

impl WorkerChoice {
    /// `min(cores − 1, RAM / 8 GiB)`, at least 1; cores alone when RAM is unknown.
    pub fn from(cores: usize, ram_bytes: Option<u64>) -> Self {
        let by_cores = cores.saturating_sub(1).max(1);
        let by_ram = ram_bytes.map(|r| (r / RAM_PER_WORKER_BYTES) as usize);
        let workers = by_ram.map_or(by_cores, |m| by_cores.min(m)).max(1);
        WorkerChoice {
            workers,
            cores,
            ram_bytes,
        }
    }

    /// The choice for this machine.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        WorkerChoice::from(cores, usable_ram_bytes())
    }
}

impl std::fmt::Display for WorkerChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by_cores = self.cores.saturating_sub(1).max(1);
        match self.ram_bytes {
            Some(r) => write!(
                f,
                "{} Lean worker(s) = min(cores − 1 = {by_cores}, RAM {} / 8 GiB = {}), at least 1",
                self.workers,
                gib(r),
                r / RAM_PER_WORKER_BYTES
            ),
            None => write!(
                f,
                "{} Lean worker(s) = cores − 1 (RAM unknown: no /proc/meminfo)",
                self.workers
            ),
        }
    }
}

/// `MemTotal` from the text of `/proc/meminfo`, in bytes.
pub(crate) fn mem_total(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// RAM this process may use: `MemTotal`, lowered to the cgroup v2 `memory.max` when one is set.
pub fn usable_ram_bytes() -> Option<u64> {
    let total = mem_total(&std::fs::read_to_string("/proc/meminfo").ok()?)?;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    Some(cgroup.map_or(total, |c| c.min(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn worker_count_is_the_smaller_of_cores_and_ram() {
        let w = |cores, ram| WorkerChoice::from(cores, ram).workers;
        assert_eq!(w(64, Some(64 * GIB)), 8); // memory-bound
        assert_eq!(w(8, Some(512 * GIB)), 7); // core-bound
        assert_eq!(w(16, Some(8 * GIB - 1)), 1); // less than one worker's RAM: still 1
        assert_eq!(w(1, Some(64 * GIB)), 1);
        assert_eq!(w(0, None), 1);
        assert_eq!(w(12, None), 11); // RAM unknown: cores alone
        assert_eq!(w(32, Some(100 * GIB)), 12);
        let text = WorkerChoice::from(64, Some(64 * GIB)).to_string();
        assert!(
            text.contains("8 Lean worker(s)") && text.contains("cores − 1 = 63"),
            "{text}"
        );
    }

    #[test]
    fn proc_text_parses() {
        // a command name with spaces and parentheses must not shift the fields
        let stat = "4242 (lake (env) x) S 17 4200 4200 0 -1 4194560 1 0 0 0";
        assert_eq!(pgrp_from_stat(stat), Some(4200));
        assert_eq!(pgrp_from_stat("garbage"), None);
        let status =
            "Name:\trepl\nVmRSS:\t  204800 kB\nRssAnon:\t  102400 kB\nRssFile:\t 102400 kB\n";
        assert_eq!(rss_from_status(status), (Some(200 << 20), Some(100 << 20)));
        assert_eq!(rss_from_status("Name: x\n"), (None, None));
        assert_eq!(
            mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24576000 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
    }

    #[test]
    fn the_tree_walk_and_the_full_scan_find_the_same_group() {
        use std::os::unix::process::CommandExt as _;
        // a shell (leader of a new group) with two children in its group
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let mut tree = Vec::new();
        for _ in 0..200 {
            tree = descendants_in_group(pgid).unwrap_or_default();
            if tree.len() == 3 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut scan = scan_group(pgid).unwrap_or_default();
        tree.sort();
        scan.sort();
        // SAFETY: plain syscall on the group we started
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = child.wait();
        assert_eq!(tree.len(), 3, "{tree:?}");
        assert_eq!(tree, scan);
        // killed children linger as zombies (no memory) until reaped
        for _ in 0..200 {
            if group_memory(pgid).is_none_or(|m| m.rss_bytes == 0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(group_memory(pgid).is_none_or(|m| m.rss_bytes == 0));
    }

    #[test]
    fn group_memory_sums_the_processes_of_a_group() {
        // this test process is in some group; its own group has at least this process
        // SAFETY: plain syscall
        let pgid = unsafe { libc::getpgrp() };
        let m = group_memory(pgid).expect("own process group is visible in /proc");
        assert!(m.processes >= 1);
        assert!(m.rss_bytes > 0 && m.private_bytes > 0, "{m:?}");
        assert_eq!(group_memory(0), None);
        assert_eq!(group_memory(i32::MAX), None);
    }
}
