//! Model specs: what `--model` accepts and where its files are.
//!
//! * `DIR` — an HF checkpoint directory (`config.json`, `tokenizer.json`, weights as
//!   `model.safetensors` or `model.safetensors.index.json` + shards; optional
//!   `tokenizer_config.json`, `generation_config.json`, `chat_template.jinja`). A directory
//!   without safetensors but with exactly one `.gguf` is that GGUF.
//! * `FILE.gguf` — a GGUF file; tokenizer, chat template and config come from its metadata.
//! * `hf:ORG/NAME[@REV]` — an HF hub repository (safetensors layout), fetched through the HF
//!   cache with `hf-hub`; `hf:ORG/NAME[@REV]/FILE.gguf` picks a GGUF file in the repository.
//!   `HF_HUB_OFFLINE=1` uses the local cache only; `HF_HOME` and `HF_ENDPOINT` are honoured.
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Errors of parsing or resolving a model spec.
#[derive(Debug, Error)]
pub enum SpecError {
    /// The spec string is malformed.
    #[error("model spec {spec:?}: {msg}")]
    Parse {
        /// The spec as given.
        spec: String,
        /// What is wrong and the accepted forms.
        msg: String,
    },
    /// A local path does not exist or lacks a required file.
    #[error("{path}: {msg}")]
    Missing {
        /// The missing path.
        path: PathBuf,
        /// What was expected there.
        msg: String,
    },
    /// The hub could not provide a file.
    #[error("hf:{repo}: {msg}")]
    Hub {
        /// `ORG/NAME`.
        repo: String,
        /// What failed and how to fix it.
        msg: String,
    },
}

/// A parsed `--model` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A local HF checkpoint directory.
    HfDir(PathBuf),
    /// A local GGUF file.
    Gguf(PathBuf),
    /// A repository on the HF hub.
    Hub {
        /// `ORG/NAME`.
        repo: String,
        /// Branch, tag or commit (default `main`).
        revision: Option<String>,
        /// A `.gguf` file inside the repository, if the spec names one.
        file: Option<String>,
    },
}

const FORMS: &str =
    "expected a model directory, a .gguf file, or hf:ORG/NAME[@REVISION][/FILE.gguf]";

impl ModelSpec {
    /// Parses a spec string (does not touch the file system except to tell a `.gguf` from a
    /// directory by its extension).
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        let err = |msg: &str| SpecError::Parse {
            spec: spec.to_owned(),
            msg: format!("{msg}; {FORMS}"),
        };
        if spec.trim().is_empty() {
            return Err(err("empty"));
        }
        if let Some(rest) = spec.strip_prefix("hf:") {
            let mut parts = rest.splitn(3, '/');
            let org = parts.next().unwrap_or_default();
            let name_rev = parts
                .next()
                .ok_or_else(|| err("missing /NAME after the organisation"))?;
            let file = parts.next().map(str::to_owned);
            let (name, revision) = match name_rev.split_once('@') {
                Some((n, r)) => (n, Some(r.to_owned())),
                None => (name_rev, None),
            };
            let ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            };
            if !ok(org) || !ok(name) {
                return Err(err(
                    "ORG and NAME must be non-empty and use only letters, digits, '-', '_', '.'",
                ));
            }
            if revision.as_deref() == Some("") {
                return Err(err("empty revision after '@'"));
            }
            if let Some(f) = &file {
                if !f.ends_with(".gguf") {
                    return Err(err("a file inside a hub repository must be a .gguf"));
                }
            }
            return Ok(Self::Hub {
                repo: format!("{org}/{name}"),
                revision,
                file,
            });
        }
        let path = PathBuf::from(spec);
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            Ok(Self::Gguf(path))
        } else {
            Ok(Self::HfDir(path))
        }
    }
}

/// The on-disk form of the weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelFiles {
    /// HF safetensors checkpoint.
    Safetensors {
        /// The checkpoint directory.
        dir: PathBuf,
        /// `config.json`.
        config: PathBuf,
        /// The weight files (one file, or the shards of the index, in index order).
        weights: Vec<PathBuf>,
    },
    /// A GGUF file (weights, tokenizer, template and hyper-parameters in one).
    Gguf {
        /// The file.
        file: PathBuf,
    },
}

/// A model spec resolved to local files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The spec as the user wrote it.
    pub spec: String,
    /// The weights.
    pub files: ModelFiles,
    /// `tokenizer.json` (None for GGUF).
    pub tokenizer_json: Option<PathBuf>,
    /// `tokenizer_config.json`, if present.
    pub tokenizer_config: Option<PathBuf>,
    /// `generation_config.json`, if present.
    pub generation_config: Option<PathBuf>,
    /// `chat_template.jinja`, if present.
    pub chat_template: Option<PathBuf>,
}

impl ResolvedModel {
    /// What the weights loader takes: the checkpoint directory or the `.gguf` file.
    pub fn weights_path(&self) -> &std::path::Path {
        match &self.files {
            ModelFiles::Safetensors { dir, .. } => dir,
            ModelFiles::Gguf { file } => file,
        }
    }
}

/// How hub specs are fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubOptions {
    /// Use only the local cache (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Hub cache directory (default: `$HF_HOME/hub` or `~/.cache/huggingface/hub`).
    pub cache_dir: Option<PathBuf>,
    /// Hub URL (`HF_ENDPOINT`, default `https://huggingface.co`).
    pub endpoint: Option<String>,
    /// Show download progress bars.
    pub progress: bool,
}

impl HubOptions {
    /// Reads `HF_HUB_OFFLINE`, `HF_HOME` and `HF_ENDPOINT`.
    pub fn from_env() -> Self {
        let offline = std::env::var("HF_HUB_OFFLINE")
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false);
        Self {
            offline,
            cache_dir: std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")),
            endpoint: std::env::var("HF_ENDPOINT").ok(),
            progress: false,
        }
    }

    fn cache(&self) -> hf_hub::Cache {
        match &self.cache_dir {
            Some(d) => hf_hub::Cache::new(d.clone()),
            None => hf_hub::Cache::from_env(),
        }
    }
}

fn optional(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = dir.join(name);
    p.is_file().then_some(p)
}

/// Shard file names of a `model.safetensors.index.json`, in first-appearance order.
pub fn index_shards(index: &Path) -> Result<Vec<String>, SpecError> {
    let bad = |msg: String| SpecError::Missing {
        path: index.to_owned(),
        msg,
    };
    let text = std::fs::read_to_string(index).map_err(|e| bad(format!("cannot read: {e}")))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no \"weight_map\" object".into()))?;
    let mut shards: Vec<String> = Vec::new();
    for v in map.values() {
        let f = v
            .as_str()
            .ok_or_else(|| bad(format!("weight_map value {v} is not a file name")))?;
        if !shards.iter().any(|s| s == f) {
            shards.push(f.to_owned());
        }
    }
    Ok(shards)
}

fn resolve_dir(spec: &str, dir: &Path) -> Result<ResolvedModel, SpecError> {
    if !dir.exists() {
        return Err(SpecError::Missing {
            path: dir.to_owned(),
            msg: format!("no such file or directory; {FORMS}"),
        });
    }
    if !dir.is_dir() {
        return Err(SpecError::Missing {
            path: dir.to_owned(),
            msg: format!("not a directory and not a .gguf file; {FORMS}"),
        });
    }
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    let weights = if single.is_file() {
        vec![single]
    } else if index.is_file() {
        let shards = index_shards(&index)?;
        let paths: Vec<PathBuf> = shards.iter().map(|s| dir.join(s)).collect();
        if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
            return Err(SpecError::Missing {
                path: missing.clone(),
                msg: format!("shard listed in {} is missing", index.display()),
            });
        }
        paths
    } else {
        let ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
                    .collect()
            })
            .unwrap_or_default();
        if ggufs.len() == 1 {
            return resolve_gguf(spec, &ggufs[0]);
        }
        return Err(SpecError::Missing {
            path: dir.to_owned(),
            msg: if ggufs.len() > 1 {
                format!("holds several .gguf files and no safetensors; pass one of them: {ggufs:?}")
            } else {
                "no model.safetensors, model.safetensors.index.json or .gguf file here; \
                 is this an HF model directory?"
                    .into()
            },
        });
    };
    let config = dir.join("config.json");
    if !config.is_file() {
        return Err(SpecError::Missing {
            path: config,
            msg: "missing: an HF checkpoint needs config.json beside its weights".into(),
        });
    }
    let tokenizer = dir.join("tokenizer.json");
    if !tokenizer.is_file() {
        return Err(SpecError::Missing {
            path: tokenizer,
            msg: "missing: copy the tokenizer.json of this checkpoint into the directory".into(),
        });
    }
    Ok(ResolvedModel {
        spec: spec.to_owned(),
        files: ModelFiles::Safetensors {
            dir: dir.to_owned(),
            config,
            weights,
        },
        tokenizer_json: Some(tokenizer),
        tokenizer_config: optional(dir, "tokenizer_config.json"),
        generation_config: optional(dir, "generation_config.json"),
        chat_template: optional(dir, "chat_template.jinja"),
    })
}

fn resolve_gguf(spec: &str, file: &Path) -> Result<ResolvedModel, SpecError> {
    if !file.is_file() {
        return Err(SpecError::Missing {
            path: file.to_owned(),
            msg:
                "GGUF file not found (scripts/fetch-model.sh puts SmolLM2-135M-Instruct in models/)"
                    .into(),
        });
    }
    Ok(ResolvedModel {
        spec: spec.to_owned(),
        files: ModelFiles::Gguf {
            file: file.to_owned(),
        },
        tokenizer_json: None,
        tokenizer_config: None,
        generation_config: None,
        chat_template: None,
    })
}

/// Fetches hub files one by one, from the cache only when offline.
struct HubFetcher {
    repo: String,
    revision: String,
    opts: HubOptions,
    api: Option<hf_hub::api::sync::ApiRepo>,
}

enum Fetch {
    Found(PathBuf),
    NotInRepo,
}

impl HubFetcher {
    fn new(repo: &str, revision: Option<&str>, opts: &HubOptions) -> Result<Self, SpecError> {
        let revision = revision.unwrap_or("main").to_owned();
        let api = if opts.offline {
            None
        } else {
            let mut b = hf_hub::api::sync::ApiBuilder::from_cache(opts.cache())
                .with_progress(opts.progress);
            if let Some(e) = &opts.endpoint {
                b = b.with_endpoint(e.clone());
            }
            let api = b.build().map_err(|e| SpecError::Hub {
                repo: repo.to_owned(),
                msg: format!("cannot set up the hub client: {e}"),
            })?;
            Some(api.repo(hf_hub::Repo::with_revision(
                repo.to_owned(),
                hf_hub::RepoType::Model,
                revision.clone(),
            )))
        };
        Ok(Self {
            repo: repo.to_owned(),
            revision,
            opts: opts.clone(),
            api,
        })
    }

    fn fetch(&self, file: &str) -> Result<Fetch, SpecError> {
        let cache_repo = self.opts.cache().repo(hf_hub::Repo::with_revision(
            self.repo.clone(),
            hf_hub::RepoType::Model,
            self.revision.clone(),
        ));
        if let Some(p) = cache_repo.get(file) {
            return Ok(Fetch::Found(p));
        }
        let Some(api) = &self.api else {
            return Err(SpecError::Hub {
                repo: self.repo.clone(),
                msg: format!(
                    "{file} (revision {}) is not in the local hub cache {} and HF_HUB_OFFLINE is set; \
                     unset HF_HUB_OFFLINE on a machine with network access to download it, or pass \
                     a local model directory / .gguf file to --model",
                    self.revision,
                    self.opts.cache().path().display()
                ),
            });
        };
        match api.get(file) {
            Ok(p) => Ok(Fetch::Found(p)),
            Err(hf_hub::api::sync::ApiError::RequestError(e))
                if matches!(*e, ureq::Error::Status(404, _)) =>
            {
                Ok(Fetch::NotInRepo)
            }
            Err(e) => Err(SpecError::Hub {
                repo: self.repo.clone(),
                msg: format!(
                    "cannot download {file} (revision {}) from {}: {e}. Without network access, \
                     download the model elsewhere and pass its directory or .gguf file to --model, \
                     or set HF_HUB_OFFLINE=1 to use files already in the cache {}",
                    self.revision,
                    self.opts
                        .endpoint
                        .as_deref()
                        .unwrap_or("https://huggingface.co"),
                    self.opts.cache().path().display()
                ),
            }),
        }
    }

    fn required(&self, file: &str) -> Result<PathBuf, SpecError> {
        match self.fetch(file)? {
            Fetch::Found(p) => Ok(p),
            Fetch::NotInRepo => Err(SpecError::Hub {
                repo: self.repo.clone(),
                msg: format!(
                    "the repository (revision {}) has no {file}; is it an HF transformers checkpoint?",
                    self.revision
                ),
            }),
        }
    }

    fn optional(&self, file: &str) -> Result<Option<PathBuf>, SpecError> {
        if self.api.is_none() {
            // Offline: an absent optional file may simply not exist in the repository.
            return Ok(match self.fetch(file) {
                Ok(Fetch::Found(p)) => Some(p),
                _ => None,
            });
        }
        match self.fetch(file)? {
            Fetch::Found(p) => Ok(Some(p)),
            Fetch::NotInRepo => Ok(None),
        }
    }
}

fn resolve_hub(
    spec: &str,
    repo: &str,
    revision: Option<&str>,
    file: Option<&str>,
    opts: &HubOptions,
) -> Result<ResolvedModel, SpecError> {
    let hub = HubFetcher::new(repo, revision, opts)?;
    if let Some(f) = file {
        let path = hub.required(f)?;
        return resolve_gguf(spec, &path);
    }
    let config = hub.required("config.json")?;
    let tokenizer = hub.required("tokenizer.json")?;
    let weights = match hub.optional("model.safetensors")? {
        Some(p) => vec![p],
        None => {
            let index = hub.required("model.safetensors.index.json")?;
            index_shards(&index)?
                .iter()
                .map(|s| hub.required(s))
                .collect::<Result<_, _>>()?
        }
    };
    let dir = config
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(ResolvedModel {
        spec: spec.to_owned(),
        files: ModelFiles::Safetensors {
            dir,
            config,
            weights,
        },
        tokenizer_json: Some(tokenizer),
        tokenizer_config: hub.optional("tokenizer_config.json")?,
        generation_config: hub.optional("generation_config.json")?,
        chat_template: hub.optional("chat_template.jinja")?,
    })
}

/// Resolves a spec string to local files (downloading hub files as needed).
pub fn resolve(spec: &str, hub: &HubOptions) -> Result<ResolvedModel, SpecError> {
    match ModelSpec::parse(spec)? {
        ModelSpec::HfDir(dir) => resolve_dir(spec, &dir),
        ModelSpec::Gguf(file) => resolve_gguf(spec, &file),
        ModelSpec::Hub {
            repo,
            revision,
            file,
        } => resolve_hub(spec, &repo, revision.as_deref(), file.as_deref(), hub),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(
            ModelSpec::parse("hf:HuggingFaceTB/SmolLM2-135M-Instruct").unwrap(),
            ModelSpec::Hub {
                repo: "HuggingFaceTB/SmolLM2-135M-Instruct".into(),
                revision: None,
                file: None
            }
        );
        assert_eq!(
            ModelSpec::parse("hf:Qwen/Qwen2.5-0.5B@v1.0/q4.gguf").unwrap(),
            ModelSpec::Hub {
                repo: "Qwen/Qwen2.5-0.5B".into(),
                revision: Some("v1.0".into()),
                file: Some("q4.gguf".into())
            }
        );
        assert_eq!(
            ModelSpec::parse("models/x/M.Q4_1.gguf").unwrap(),
            ModelSpec::Gguf("models/x/M.Q4_1.gguf".into())
        );
        assert_eq!(
            ModelSpec::parse("some/dir").unwrap(),
            ModelSpec::HfDir("some/dir".into())
        );
        for bad in [
            "",
            "hf:",
            "hf:org",
            "hf:org/",
            "hf:/name",
            "hf:o/n@",
            "hf:o/n/x.bin",
            "hf:o r/n",
        ] {
            let e = ModelSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("hf:ORG/NAME"), "{bad}: {e}");
        }
    }
}
