//! The sandbox every Lean worker process runs in. Code in a proof can run during elaboration
//! (the guard refuses the constructs it knows, this layer assumes some got through), so the
//! process that runs it gets:
//!
//! | mechanism | what it stops | needs |
//! |---|---|---|
//! | new network namespace (`unshare(CLONE_NEWNET)`, plus `CLONE_NEWUSER` when not root) | any network access (only a down loopback exists) | user namespaces, or root |
//! | Landlock (filesystem) | writes anywhere but the worker's private temp dir (`TMPDIR`), `/dev/null` and the configured writable paths; reads stay allowed everywhere | Linux ≥ 5.13 with Landlock enabled |
//! | Landlock (TCP, ABI ≥ 4) | TCP bind/connect, even where no network namespace could be made | Linux ≥ 6.7 |
//! | Landlock (scopes, ABI ≥ 6) | signals to processes outside the sandbox, abstract Unix sockets | Linux ≥ 6.12 |
//! | `RLIMIT_AS`, `RLIMIT_FSIZE`, `RLIMIT_CPU` | memory, file size, CPU seconds | any Linux |
//! | `RLIMIT_NPROC` | fork bombs | a non-root user: the kernel exempts root, so a root parent should set `run_as_uid` |
//!
//! What this kernel supports is probed once per process ([`support`]); every mechanism that is
//! asked for and missing is warned about once (`tracing::warn`) and listed in
//! [`SandboxSupport::missing`] (part of the pool metrics), never skipped silently.
//!
//! Everything the child does between `fork` and `exec` is a raw, async-signal-safe system call
//! on values prepared in the parent (the Landlock ruleset is built in the parent; the child
//! only calls `landlock_restrict_self` on its descriptor).
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde::Serialize;

/// What the sandbox should enforce. Defaults: see [`SandboxConfig::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Master switch (default on). Off: only the process group and `RLIMIT_AS` remain.
    pub enabled: bool,
    /// A new network namespace (default on).
    pub network: bool,
    /// Landlock filesystem/TCP/scope rules (default on).
    pub landlock: bool,
    /// Extra paths (files or directories) the worker may write beneath, besides its own temp
    /// dir and `/dev/null`.
    pub writable_paths: Vec<PathBuf>,
    /// `RLIMIT_FSIZE`: the largest file the worker may write (default 256 MiB).
    pub max_file_bytes: Option<u64>,
    /// `RLIMIT_CPU`: CPU seconds over the worker's whole life (default 4 h; a worker that uses
    /// them up is killed by the kernel, its job is retried once on a fresh worker).
    pub cpu_seconds: Option<u64>,
    /// `RLIMIT_NPROC`: processes and threads of the worker's user (default 4096). The kernel
    /// does not apply it to root; see `run_as_uid`.
    pub max_processes: Option<u64>,
    /// Run the worker as this uid (and gid), dropping root. Only possible when started as
    /// root; the toolchain and project must be readable by that user. Default: none.
    pub run_as_uid: Option<u32>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: true,
            network: true,
            landlock: true,
            writable_paths: Vec::new(),
            max_file_bytes: Some(256 << 20),
            cpu_seconds: Some(4 * 3600),
            max_processes: Some(4096),
            run_as_uid: None,
        }
    }
}

impl SandboxConfig {
    /// The defaults, adjusted by the environment: `PROVER_LEAN_SANDBOX=off` turns the sandbox
    /// off (for a `--repl-cmd` that runs Lean elsewhere, e.g. over `ssh`, which needs the
    /// network; sandbox the remote side there), `PROVER_LEAN_RUN_AS_UID=N` drops root to uid N.
    /// A value that cannot be read is warned about and ignored (the sandbox stays on).
    pub fn from_env() -> Self {
        let mut c = SandboxConfig::default();
        if let Ok(v) = std::env::var("PROVER_LEAN_SANDBOX") {
            match v.trim() {
                "off" | "0" | "false" => c.enabled = false,
                "on" | "1" | "true" | "" => {}
                other => tracing::warn!(
                    "PROVER_LEAN_SANDBOX={other:?} not understood (use on or off); the sandbox stays on"
                ),
            }
        }
        if let Ok(v) = std::env::var("PROVER_LEAN_RUN_AS_UID") {
            match v.trim().parse::<u32>() {
                Ok(uid) => c.run_as_uid = Some(uid),
                Err(_) => tracing::warn!(
                    "PROVER_LEAN_RUN_AS_UID={v:?} is not a numeric uid; workers keep the current user"
                ),
            }
        }
        c
    }

    /// No sandbox at all (a process group and `RLIMIT_AS` only).
    pub fn disabled() -> Self {
        SandboxConfig {
            enabled: false,
            ..Default::default()
        }
    }
}

/// What this kernel lets us enforce (probed once per process).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SandboxSupport {
    /// A new network namespace can be created.
    pub network_namespace: bool,
    /// The namespace needs `CLONE_NEWUSER` too (not root).
    pub needs_user_namespace: bool,
    /// Landlock ABI version (0: not available).
    pub landlock_abi: u32,
    /// Running as root (then `RLIMIT_NPROC` needs `run_as_uid`).
    pub root: bool,
}

/// What a worker actually got, with the mechanisms that were asked for and are missing.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SandboxReport {
    /// Kernel support.
    pub support: SandboxSupport,
    /// Each mechanism configured but not enforced here, with why.
    pub missing: Vec<String>,
}

static SUPPORT: OnceLock<SandboxSupport> = OnceLock::new();
static WARNED: OnceLock<()> = OnceLock::new();

/// Probe the kernel once: Landlock's ABI version, and whether a forked child can enter a new
/// network namespace.
pub fn support() -> &'static SandboxSupport {
    SUPPORT.get_or_init(|| {
        // SAFETY: plain syscalls; geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let landlock_abi = landlock_abi();
        let flags = netns_flags(root);
        SandboxSupport {
            network_namespace: probe_unshare(flags),
            needs_user_namespace: !root,
            landlock_abi,
            root,
        }
    })
}

fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the documented way to ask for the ABI version: no ruleset, size 0.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION as libc::c_ulong,
        )
    };
    if v < 0 {
        0
    } else {
        v as u32
    }
}

fn netns_flags(root: bool) -> libc::c_int {
    if root {
        libc::CLONE_NEWNET
    } else {
        libc::CLONE_NEWUSER | libc::CLONE_NEWNET
    }
}

/// Fork a child that tries `unshare(flags)` and reports by exit status.
fn probe_unshare(flags: libc::c_int) -> bool {
    // SAFETY: the child only calls unshare and _exit (async-signal-safe).
    unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return false;
        }
        if pid == 0 {
            let ok = libc::unshare(flags) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
        let mut status = 0;
        if libc::waitpid(pid, &mut status, 0) != pid {
            return false;
        }
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

/// The mechanisms `cfg` asks for that this kernel (or user) cannot give.
pub fn missing(cfg: &SandboxConfig) -> Vec<String> {
    let s = support();
    let mut out = Vec::new();
    if !cfg.enabled {
        out.push("sandbox disabled by configuration".to_string());
        return out;
    }
    if cfg.network && !s.network_namespace {
        out.push(format!(
            "network namespace: unshare({}) is refused here; workers can reach the network{}",
            if s.needs_user_namespace {
                "CLONE_NEWUSER|CLONE_NEWNET"
            } else {
                "CLONE_NEWNET"
            },
            if s.landlock_abi >= 4 && cfg.landlock {
                " except TCP (Landlock)"
            } else {
                ""
            }
        ));
    }
    if cfg.landlock {
        if s.landlock_abi == 0 {
            out.push(
                "Landlock: not available in this kernel; workers can write anywhere their user can"
                    .into(),
            );
        } else {
            if s.landlock_abi < 4 && !(cfg.network && s.network_namespace) {
                out.push(format!(
                    "Landlock TCP rules need ABI 4, this kernel has {}",
                    s.landlock_abi
                ));
            }
            if s.landlock_abi < 6 {
                out.push(format!(
                    "Landlock signal/socket scoping needs ABI 6, this kernel has {}",
                    s.landlock_abi
                ));
            }
        }
    }
    if cfg.max_processes.is_some() && s.root && cfg.run_as_uid.is_none() {
        out.push(
            "RLIMIT_NPROC: not enforced for root; set run_as_uid to drop to another user".into(),
        );
    }
    if cfg.run_as_uid.is_some() && !s.root {
        out.push("run_as_uid: only root can change user; workers run as the current user".into());
    }
    out
}

/// The report for `cfg`; the first call with something missing logs one warning.
pub fn report(cfg: &SandboxConfig) -> SandboxReport {
    let missing = missing(cfg);
    if !missing.is_empty() && WARNED.set(()).is_ok() {
        tracing::warn!(
            "Lean worker sandbox incomplete on this machine: {}",
            missing.join("; ")
        );
    }
    SandboxReport {
        support: support().clone(),
        missing,
    }
}

/// A worker's private temp dir, removed when dropped.
#[derive(Debug)]
pub(crate) struct SandboxDir(Option<PathBuf>);

impl SandboxDir {
    /// The directory (none when the sandbox is off).
    pub fn path(&self) -> Option<&Path> {
        self.0.as_deref()
    }
}

impl Drop for SandboxDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Everything the child needs, prepared in the parent.
pub(crate) struct ChildPlan {
    rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    unshare_flags: libc::c_int,
    landlock_fd: Option<OwnedFd>,
    uid: Option<u32>,
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// Make the worker's temp dir and the child plan. `memory_limit_bytes` is `RLIMIT_AS`.
pub(crate) fn prepare(
    cfg: &SandboxConfig,
    memory_limit_bytes: Option<u64>,
) -> std::io::Result<(SandboxDir, ChildPlan)> {
    let mut plan = ChildPlan {
        rlimits: Vec::new(),
        unshare_flags: 0,
        landlock_fd: None,
        uid: None,
    };
    if let Some(b) = memory_limit_bytes {
        plan.rlimits.push((libc::RLIMIT_AS, b));
    }
    if !cfg.enabled {
        return Ok((SandboxDir(None), plan));
    }
    let s = support();
    let _ = report(cfg);
    let dir = std::env::temp_dir().join(format!(
        "prover-lean-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir)?;
    let guard = SandboxDir(Some(dir.clone()));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    if let Some(b) = cfg.max_file_bytes {
        plan.rlimits.push((libc::RLIMIT_FSIZE, b));
    }
    if let Some(c) = cfg.cpu_seconds {
        plan.rlimits.push((libc::RLIMIT_CPU, c));
    }
    if let Some(n) = cfg.max_processes {
        plan.rlimits.push((libc::RLIMIT_NPROC, n));
    }
    if cfg.network && s.network_namespace {
        plan.unshare_flags = netns_flags(s.root);
    }
    if s.root {
        if let Some(uid) = cfg.run_as_uid {
            let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: plain syscall on a valid C string.
            if unsafe { libc::chown(c.as_ptr(), uid, uid) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            plan.uid = Some(uid);
        }
    }
    if cfg.landlock && s.landlock_abi > 0 {
        plan.landlock_fd = landlock_ruleset(&dir, &cfg.writable_paths, s.landlock_abi)
            .map_err(|e| std::io::Error::other(format!("Landlock ruleset: {e:#}")))?;
    }
    Ok((guard, plan))
}

/// Read and execute everywhere; write only beneath `tmp`, `/dev/null` and `writable`; no TCP;
/// no signals or abstract sockets outside the sandbox (each as far as `abi` allows).
fn landlock_ruleset(tmp: &Path, writable: &[PathBuf], abi: u32) -> anyhow::Result<Option<OwnedFd>> {
    use landlock::{
        Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
        Scope, ABI,
    };
    let abi_v = match abi {
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        _ => ABI::V6,
    };
    let mut rs = Ruleset::default().handle_access(AccessFs::from_all(abi_v))?;
    if abi >= 4 {
        rs = rs.handle_access(AccessNet::from_all(abi_v))?;
    }
    if abi >= 6 {
        rs = rs.scope(Scope::from_all(abi_v))?;
    }
    let path_rule = |p: &Path, access| -> anyhow::Result<_> {
        let fd = PathFd::new(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        Ok(PathBeneath::new(fd, access))
    };
    let mut created = rs
        .create()?
        .add_rule(path_rule(Path::new("/"), AccessFs::from_read(abi_v))?)?
        .add_rule(path_rule(tmp, AccessFs::from_all(abi_v))?)?;
    if Path::new("/dev/null").exists() {
        created = created.add_rule(path_rule(
            Path::new("/dev/null"),
            AccessFs::from_file(abi_v),
        )?)?;
    }
    for w in writable {
        let access = if w.is_dir() {
            AccessFs::from_all(abi_v)
        } else {
            AccessFs::from_file(abi_v)
        };
        created = created.add_rule(path_rule(w, access)?)?;
    }
    Ok(created.into())
}

impl ChildPlan {
    /// The worker's environment additions (`TMPDIR` and friends point at its private dir).
    pub fn env(dir: &SandboxDir) -> Vec<(&'static str, PathBuf)> {
        match dir.path() {
            Some(p) => vec![
                ("TMPDIR", p.to_path_buf()),
                ("TMP", p.to_path_buf()),
                ("TEMP", p.to_path_buf()),
            ],
            None => Vec::new(),
        }
    }

    /// Apply the plan in the forked child, before `exec`.
    ///
    /// # Safety
    /// Call only between `fork` and `exec`: it makes raw system calls and allocates nothing.
    pub unsafe fn apply_in_child(&self) -> std::io::Result<()> {
        let err = std::io::Error::last_os_error;
        for &(res, v) in &self.rlimits {
            let lim = libc::rlimit {
                rlim_cur: v as libc::rlim_t,
                rlim_max: v as libc::rlim_t,
            };
            if libc::setrlimit(res, &lim) != 0 {
                return Err(err());
            }
        }
        if self.unshare_flags != 0 && libc::unshare(self.unshare_flags) != 0 {
            return Err(err());
        }
        if let Some(fd) = &self.landlock_fd {
            // variadic calls: pass full-width zeros (the kernel checks the unused arguments)
            let (one, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) != 0 {
                return Err(err());
            }
            let no_flags: libc::c_uint = 0;
            if libc::syscall(
                libc::SYS_landlock_restrict_self,
                fd.as_raw_fd() as libc::c_long,
                no_flags as libc::c_long,
            ) != 0
            {
                return Err(err());
            }
        }
        if let Some(uid) = self.uid {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(err());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_lists_every_configured_gap_and_nothing_when_disabled_parts_are_off() {
        let off = SandboxConfig::disabled();
        assert_eq!(missing(&off), ["sandbox disabled by configuration"]);
        let none = SandboxConfig {
            network: false,
            landlock: false,
            max_processes: None,
            ..Default::default()
        };
        assert!(missing(&none).is_empty(), "{:?}", missing(&none));
        let s = support();
        let all = missing(&SandboxConfig::default());
        assert_eq!(
            all.iter().any(|m| m.starts_with("network namespace")),
            !s.network_namespace
        );
        assert_eq!(all.iter().any(|m| m.starts_with("RLIMIT_NPROC")), s.root);
    }
}
