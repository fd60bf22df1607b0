//! Checkpoints: trainable weights (or adapters), optimizer state, RNG / data cursor / step
//! and per-task reward state, written atomically.
//!
//! Layout: `RUN/checkpoints/step-NNNNNNNN/{weights.safetensors, optimizer.safetensors,
//! state.json}` and `RUN/checkpoints/latest` (one line: the directory name). A checkpoint is
//! written into a temporary directory beside its final place, every file is fsynced, the
//! directory is renamed into place and the parent fsynced; `latest` is replaced the same way
//! (temp file + fsync + rename). A crash at any point leaves the previous checkpoint and
//! pointer intact.
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Everything but tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed training steps.
    pub step: u64,
    /// Optimizer steps taken.
    pub optimizer_steps: u64,
    /// Tasks consumed from the training order.
    pub data_cursor: u64,
    /// Run seed; every random draw of step `s` derives from `(seed, s)`, so this and `step`
    /// are the whole RNG state.
    pub seed: u64,
    /// Shortest correct length per task (length reward history).
    pub reward_history: BTreeMap<String, usize>,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// Trainable weights by name.
    pub weights: HashMap<String, Tensor>,
    /// Optimizer tensors by name.
    pub optimizer: HashMap<String, Tensor>,
    /// The rest.
    pub state: TrainState,
}

fn checkpoints_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

/// Where the checkpoint of `step` lives (`RUN/checkpoints/step-NNNNNNNN`), saved or not.
pub fn checkpoint_dir(run_dir: &Path, step: u64) -> PathBuf {
    checkpoints_dir(run_dir).join(format!("step-{step:08}"))
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync {}", dir.display()))
}

fn fsync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync {}", path.display()))
}

/// Kept at this path for the trainer's callers; the one implementation is in `util`.
pub use crate::util::write_atomic;

fn save_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let map: HashMap<String, Tensor> = tensors.iter().cloned().collect();
    candle_core::safetensors::save(&map, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    fsync_file(path)
}

/// Saves a checkpoint of step `state.step` and points `latest` at it. Returns its directory.
pub fn save(
    run_dir: &Path,
    weights: &[(String, Tensor)],
    optimizer: &[(String, Tensor)],
    state: &TrainState,
) -> Result<PathBuf> {
    let root = checkpoints_dir(run_dir);
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let fin = checkpoint_dir(run_dir, state.step);
    let name = fin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    save_tensors(&tmp.join("weights.safetensors"), weights)?;
    save_tensors(&tmp.join("optimizer.safetensors"), optimizer)?;
    let json = serde_json::to_vec_pretty(state)?;
    {
        let p = tmp.join("state.json");
        let mut f = File::create(&p)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    fsync_dir(&tmp)?;
    if fin.exists() {
        // same step saved again (e.g. final save right after a periodic one): replace it
        let old = root.join(format!(".{name}.old-{}", std::process::id()));
        fs::rename(&fin, &old)?;
        fs::rename(&tmp, &fin)?;
        fs::remove_dir_all(&old)?;
    } else {
        fs::rename(&tmp, &fin)?;
    }
    fsync_dir(&root)?;
    write_atomic(&root.join("latest"), format!("{name}\n").as_bytes())?;
    Ok(fin)
}

/// The directory `latest` points to, if any.
pub fn latest(run_dir: &Path) -> Result<Option<PathBuf>> {
    let p = checkpoints_dir(run_dir).join("latest");
    match fs::read_to_string(&p) {
        Ok(s) => {
            let name = s.trim();
            if name.is_empty() || name.contains('/') {
                bail!("{}: malformed checkpoint pointer {name:?}", p.display());
            }
            Ok(Some(checkpoints_dir(run_dir).join(name)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

/// Loads the checkpoint in `dir`.
pub fn load(dir: &Path) -> Result<Checkpoint> {
    let rd = |n: &str| -> Result<HashMap<String, Tensor>> {
        let p = dir.join(n);
        candle_core::safetensors::load(&p, &Device::Cpu)
            .with_context(|| format!("cannot read {}", p.display()))
    };
    let sp = dir.join("state.json");
    let state: TrainState = serde_json::from_slice(
        &fs::read(&sp).with_context(|| format!("cannot read {}", sp.display()))?,
    )
    .with_context(|| format!("{}: malformed checkpoint state", sp.display()))?;
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        weights: rd("weights.safetensors")?,
        optimizer: rd("optimizer.safetensors")?,
        state,
    })
}

/// Removes all but the newest `keep` checkpoints (never the one `latest` points to).
pub fn prune(run_dir: &Path, keep: usize) -> Result<()> {
    prune_keeping(run_dir, keep, None)
}

/// [`prune`], also keeping the checkpoint of step `also` (the best held-out evaluation).
pub fn prune_keeping(run_dir: &Path, keep: usize, also: Option<u64>) -> Result<()> {
    if keep == 0 {
        return Ok(());
    }
    let root = checkpoints_dir(run_dir);
    let current = latest(run_dir)?;
    let protected = also.map(|s| checkpoint_dir(run_dir, s));
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .with_context(|| format!("cannot list {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("step-"))
        })
        .collect();
    dirs.sort();
    let n = dirs.len();
    for d in dirs.into_iter().take(n.saturating_sub(keep)) {
        if Some(&d) != current.as_ref() && Some(&d) != protected.as_ref() {
            fs::remove_dir_all(&d).with_context(|| format!("cannot remove {}", d.display()))?;
        }
    }
    Ok(())
}
