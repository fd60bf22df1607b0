//! AdamW over f32 master weights, global gradient-norm clipping and gradient accumulation.
//!
//! Config keys (`[optim]`): `lr` (η), `betas` (β₁, β₂), `eps` (ε), `weight_decay` (λ),
//! `grad_clip` (max global norm; 0 disables). For each parameter `θ` with gradient `g`
//! (after clipping) at step `t` (1-based):
//! - clipping: `n = sqrt(Σ_params Σ g²)` (reported pre-clip); if `n > grad_clip`,
//!   `g ← g · grad_clip / (n + 1e-6)`
//! - `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`
//! - `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`
//! - decoupled weight decay then the Adam step: `θ ← θ − η λ θ − η m̂ / (sqrt(v̂) + ε)`
//!
//! Moments and masters are f32 whatever dtype the model computes in (a bf16 model copies
//! from the masters after each step). The state (`m`, `v`, `t`) is saved and loaded by name.
use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use candle_core::{backprop::GradStore, DType, Tensor, Var};

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWParams {
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay λ.
    pub weight_decay: f64,
    /// Max global gradient norm (0 = no clipping).
    pub grad_clip: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            grad_clip: 1.0,
        }
    }
}

/// Accumulates gradients of named parameters over micro-batches (sums).
#[derive(Debug, Default)]
pub struct GradAccumulator {
    sums: HashMap<String, Tensor>,
}

impl GradAccumulator {
    /// Empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds the gradients in `grads` of each of `params` (missing gradients count as zero).
    pub fn add(&mut self, params: &[(String, Var)], grads: &GradStore) -> Result<()> {
        for (name, var) in params {
            if let Some(g) = grads.get(var.as_tensor()) {
                let g = g.to_dtype(DType::F32)?.detach();
                let sum = match self.sums.remove(name) {
                    Some(s) => (s + g)?,
                    None => g,
                };
                self.sums.insert(name.clone(), sum);
            }
        }
        Ok(())
    }
    /// The summed gradient of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.sums.get(name)
    }
    /// Forgets all gradients.
    pub fn clear(&mut self) {
        self.sums.clear();
    }
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

/// AdamW with f32 state.
pub struct AdamW {
    params: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    t: u64,
    /// Hyper-parameters.
    pub hp: AdamWParams,
}

impl AdamW {
    /// An optimizer over named f32 parameters (names must be unique).
    pub fn new(params: Vec<(String, Var)>, hp: AdamWParams) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        let mut m = Vec::new();
        let mut v = Vec::new();
        for (name, var) in &params {
            if !seen.insert(name.clone()) {
                bail!("duplicate parameter name {name}");
            }
            if var.dtype() != DType::F32 {
                bail!(
                    "parameter {name} is {:?}; master weights must be f32",
                    var.dtype()
                );
            }
            m.push(var.zeros_like()?);
            v.push(var.zeros_like()?);
        }
        Ok(AdamW {
            params,
            m,
            v,
            t: 0,
            hp,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The parameters, by name.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Global L2 norm of the accumulated gradients.
    pub fn grad_norm(&self, grads: &GradAccumulator) -> Result<f64> {
        let mut sq = 0f64;
        for (name, _) in &self.params {
            if let Some(g) = grads.get(name) {
                sq += g
                    .to_dtype(DType::F64)?
                    .sqr()?
                    .sum_all()?
                    .to_scalar::<f64>()?;
            }
        }
        Ok(sq.sqrt())
    }

    /// One AdamW step with learning rate `lr` from accumulated gradients (`scale` multiplies
    /// them first, e.g. 1 when the micro-batch losses already carry global normalizers).
    /// Fails without updating anything when the gradient norm is not finite.
    pub fn step(&mut self, grads: &GradAccumulator, lr: f64) -> Result<StepStats> {
        let norm = self.grad_norm(grads)?;
        if !norm.is_finite() {
            bail!("gradient norm is {norm}; no update applied");
        }
        let clip = if self.hp.grad_clip > 0.0 && norm > self.hp.grad_clip {
            self.hp.grad_clip / (norm + 1e-6)
        } else {
            1.0
        };
        self.t += 1;
        let (b1, b2) = (self.hp.beta1, self.hp.beta2);
        let bc1 = 1.0 - b1.powi(self.t as i32);
        let bc2 = 1.0 - b2.powi(self.t as i32);
        for (i, (name, var)) in self.params.iter().enumerate() {
            let Some(g) = grads.get(name) else { continue };
            let g = (g * clip)?;
            let m = ((&self.m[i] * b1)? + (&g * (1.0 - b1))?)?;
            let v = ((&self.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let denom = ((&v / bc2)?.sqrt()? + self.hp.eps)?;
            let update = ((&m / bc1)? / denom)?;
            let theta = var.as_tensor();
            let decayed = (theta * (1.0 - lr * self.hp.weight_decay))?;
            let new = (decayed - (update * lr)?)?;
            var.set(&new)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(StepStats {
            grad_norm: norm,
            lr,
        })
    }

    /// The state as named tensors (`m.NAME`, `v.NAME`) and the step count.
    pub fn state(&self) -> (Vec<(String, Tensor)>, u64) {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("m.{name}"), self.m[i].clone()));
            out.push((format!("v.{name}"), self.v[i].clone()));
        }
        (out, self.t)
    }

    /// Restores a state written by [`AdamW::state`]; every parameter must be present with
    /// its shape.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, t: u64) -> Result<()> {
        for (i, (name, var)) in self.params.iter().enumerate() {
            for (k, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("{k}.{name}");
                let x = tensors
                    .get(&key)
                    .with_context(|| format!("optimizer state lacks {key}"))?;
                if x.dims() != var.dims() {
                    bail!(
                        "optimizer state {key} has shape {:?}, parameter has {:?}",
                        x.dims(),
                        var.dims()
                    );
                }
                *slot = x.to_dtype(DType::F32)?.to_device(var.device())?;
            }
        }
        self.t = t;
        Ok(())
    }
}
