//! Small shared helpers.
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// then an fsync of the folder so the rename itself survives a crash. A crash leaves either the
/// old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))?;
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync {}", dir.display()))
}

/// The SplitMix64 output function of state `x`: advances `x` by the golden-ratio increment and
/// mixes it. A seeded stream is `splitmix64(s), splitmix64(s + G), ...`; a seed derived from
/// several numbers nests calls. Fixed here so seeds and generated files do not depend on a
/// `rand` version.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(SPLITMIX64_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64's state increment (2^64 / golden ratio).
pub const SPLITMIX64_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Makes glibc keep freed memory in the process (no `mmap` for large blocks, no trimming), so
/// the big tensors of every step reuse pages instead of faulting in freshly zeroed ones from
/// the kernel. The resident size then stays at its peak. One arena for all threads: a worker
/// thread's arena lives in 64 MB heaps that glibc unmaps whenever one falls empty, so with
/// per-thread arenas a GRPO step (benches/grpo_step.rs) still faulted in ~1M pages and spent
/// ~20% of its CPU time in the kernel; with one arena, half of that. `PROVER_MALLOC_TUNE=0`
/// turns it off.
/// Returns whether it was applied. Call at start-up, before threads allocate.
pub fn tune_allocator() -> bool {
    if std::env::var("PROVER_MALLOC_TUNE").as_deref() == Ok("0") {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes glibc allocator parameters.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Runs `f` on a thread of rayon's global pool (at once when already on one). The parallel
/// loops inside `f` — ours, and gemm's matrix products — then start from a warm worker that
/// shares their work, instead of each waking the pool from outside: a decoding step or a
/// backward pass starts hundreds of them.
pub fn on_rayon_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    rayon::scope(|_| f())
}
