//! All model parameters as named `candle_core::Var`s (f32 master weights), with a
//! trainable/frozen flag per name and safetensors save/load.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use candle_core::{DType, Tensor, Var};

use super::LoadError;

/// Named parameters. Every parameter starts trainable; freeze by name pattern with
/// [`ParamStore::set_trainable`]. LoRA adapters (see `lora.rs`) live here too, under
/// `<linear>.lora_A.weight` / `<linear>.lora_B.weight`.
#[derive(Debug, Clone, Default)]
pub struct ParamStore {
    vars: BTreeMap<String, Var>,
    frozen: BTreeSet<String>,
    lora_scale: Option<f64>,
}

/// Glob match with `*` (any run of characters, including dots).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(k) => rest = &rest[k + part.len()..],
                None => return false,
            }
        }
    }
    true
}

impl ParamStore {
    /// Wraps tensors as f32 `Var`s (all trainable).
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> candle_core::Result<Self> {
        let mut vars = BTreeMap::new();
        for (name, t) in tensors {
            let t = if t.dtype() == DType::F32 {
                t
            } else {
                t.to_dtype(DType::F32)?
            };
            vars.insert(name, Var::from_tensor(&t)?);
        }
        Ok(Self {
            vars,
            frozen: BTreeSet::new(),
            lora_scale: None,
        })
    }

    /// Moves every parameter to `dev` (f32 masters stay f32; trainable/frozen flags and the
    /// LoRA scale are kept). A no-op when they are already there.
    pub fn to_device(&mut self, dev: &candle_core::Device) -> candle_core::Result<()> {
        for var in self.vars.values_mut() {
            if !var.device().same_device(dev) {
                *var = Var::from_tensor(&var.as_tensor().to_device(dev)?)?;
            }
        }
        Ok(())
    }

    /// The device the parameters are on (the CPU for an empty store).
    pub fn device(&self) -> candle_core::Device {
        self.vars
            .values()
            .next()
            .map_or(candle_core::Device::Cpu, |v| v.device().clone())
    }

    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars.get(name)
    }

    /// Adds (or replaces) a trainable variable.
    pub fn insert(&mut self, name: &str, var: Var) {
        self.frozen.remove(name);
        self.vars.insert(name.to_string(), var);
    }

    /// All names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.vars.keys().cloned().collect()
    }

    /// All `(name, var)` pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.vars.iter()
    }

    /// Number of parameters (scalars) in total.
    pub fn num_elements(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Whether `name` receives gradients.
    pub fn is_trainable(&self, name: &str) -> bool {
        self.vars.contains_key(name) && !self.frozen.contains(name)
    }

    /// Makes exactly the parameters matching any of `patterns` (glob with `*`, e.g.
    /// `"model.layers.*.mlp.*"`, `"*lora_*"`) trainable and freezes the rest. Returns how
    /// many are trainable.
    pub fn set_trainable(&mut self, patterns: &[&str]) -> usize {
        self.frozen.clear();
        let mut n = 0;
        for name in self.vars.keys() {
            if patterns.iter().any(|p| glob_match(p, name)) {
                n += 1;
            } else {
                self.frozen.insert(name.clone());
            }
        }
        n
    }

    /// Freezes the parameters matching any of `patterns` (others keep their state).
    pub fn freeze(&mut self, patterns: &[&str]) {
        for name in self.vars.keys() {
            if patterns.iter().any(|p| glob_match(p, name)) {
                self.frozen.insert(name.clone());
            }
        }
    }

    /// The trainable `(name, var)` pairs, sorted by name (hand the vars to the optimizer).
    pub fn trainable(&self) -> Vec<(String, Var)> {
        self.vars
            .iter()
            .filter(|(n, _)| !self.frozen.contains(*n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    /// The trainable vars, sorted by name.
    pub fn trainable_vars(&self) -> Vec<Var> {
        self.trainable().into_iter().map(|(_, v)| v).collect()
    }

    /// LoRA scale `alpha / rank` when adapters are attached.
    pub fn lora_scale(&self) -> Option<f64> {
        self.lora_scale
    }

    pub(crate) fn set_lora_scale(&mut self, s: Option<f64>) {
        self.lora_scale = s;
    }

    /// Saves the parameters whose names match any of `patterns` (all with `["*"]`) to a
    /// safetensors file, atomically (written to `path.tmp`, then renamed).
    pub fn save(&self, path: &Path, patterns: &[&str]) -> Result<usize, LoadError> {
        let map: HashMap<String, Tensor> = self
            .vars
            .iter()
            .filter(|(n, _)| patterns.iter().any(|p| glob_match(p, n)))
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect();
        let tmp = path.with_extension("safetensors.tmp");
        candle_core::safetensors::save(&map, &tmp).map_err(|e| LoadError::Format {
            path: tmp.display().to_string(),
            msg: e.to_string(),
        })?;
        std::fs::rename(&tmp, path).map_err(|e| LoadError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Ok(map.len())
    }

    /// Loads values from a safetensors file into the existing vars of the same names (shapes
    /// must match; names absent from the store are an error). Returns how many were set.
    pub fn load(&self, path: &Path) -> Result<usize, LoadError> {
        let ps = path.display().to_string();
        if !path.exists() {
            return Err(LoadError::Io {
                path: ps,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            });
        }
        let map = candle_core::safetensors::load(path, &candle_core::Device::Cpu).map_err(|e| {
            LoadError::Format {
                path: ps.clone(),
                msg: e.to_string(),
            }
        })?;
        for (name, t) in &map {
            let var = self.vars.get(name).ok_or_else(|| LoadError::Format {
                path: ps.clone(),
                msg: format!("tensor `{name}` is not a parameter of this model"),
            })?;
            if var.dims() != t.dims() {
                return Err(LoadError::Format {
                    path: ps.clone(),
                    msg: format!(
                        "tensor `{name}` has shape {:?}, the model expects {:?}",
                        t.dims(),
                        var.dims()
                    ),
                });
            }
            let t = t
                .to_dtype(DType::F32)
                .and_then(|t| t.to_device(var.device()))
                .and_then(|t| var.set(&t))
                .map_err(|e| LoadError::Format {
                    path: ps.clone(),
                    msg: e.to_string(),
                });
            t?;
        }
        Ok(map.len())
    }
}
