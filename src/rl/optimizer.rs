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
//!
//! On the CPU the step is one fused pass per parameter ([`AdamWKernel`]): it reads `θ`, `g`,
//! `m`, `v` once and writes `θ`, `m`, `v` in place, with no temporary tensors (the chain of
//! tensor ops it replaces allocated and faulted in about ten parameter-sized buffers per step).
//! The moments of CPU parameters live in plain `Vec<f32>`s; on other devices the same formulas
//! run as tensor ops.
use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use candle_core::{
    backprop::GradStore, CpuStorage, DType, Device, InplaceOp2, Layout, Storage, Tensor, Var,
};
use rayon::prelude::*;

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

/// First and second moments of one parameter.
enum Moments {
    /// A CPU parameter: plain buffers, updated in place by [`AdamWKernel`].
    Host { m: Vec<f32>, v: Vec<f32> },
    /// Any other device: tensors, updated by tensor ops.
    Device { m: Tensor, v: Tensor },
}

/// AdamW with f32 state.
pub struct AdamW {
    params: Vec<(String, Var)>,
    moments: Vec<Moments>,
    t: u64,
    /// Hyper-parameters.
    pub hp: AdamWParams,
}

impl AdamW {
    /// An optimizer over named f32 parameters (names must be unique).
    pub fn new(params: Vec<(String, Var)>, hp: AdamWParams) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        let mut moments = Vec::new();
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
            moments.push(if var.device().is_cpu() {
                let n = var.elem_count();
                Moments::Host {
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            } else {
                Moments::Device {
                    m: var.zeros_like()?,
                    v: var.zeros_like()?,
                }
            });
        }
        Ok(AdamW {
            params,
            moments,
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
                sq += match host_f32(g, |g| {
                    g.par_chunks(CHUNK)
                        .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
                        .sum::<f64>()
                }) {
                    Some(s) => s,
                    None => g
                        .to_dtype(DType::F64)?
                        .sqr()?
                        .sum_all()?
                        .to_scalar::<f64>()?,
                };
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
            if g.dims() != var.dims() {
                bail!(
                    "gradient of {name} has shape {:?}, parameter has {:?}",
                    g.dims(),
                    var.dims()
                );
            }
            match &mut self.moments[i] {
                Moments::Host { m, v } => {
                    // f32 on the parameter's device (GradAccumulator); the kernel checks both
                    let g = g.contiguous()?;
                    let kernel = AdamWKernel {
                        m: Mutex::new(m),
                        v: Mutex::new(v),
                        clip: clip as f32,
                        beta1: b1 as f32,
                        beta2: b2 as f32,
                        inv_bc1: (1.0 / bc1) as f32,
                        inv_bc2: (1.0 / bc2) as f32,
                        eps: self.hp.eps as f32,
                        lr: lr as f32,
                        decay: (1.0 - lr * self.hp.weight_decay) as f32,
                    };
                    var.as_tensor().inplace_op2(&g, &kernel)?;
                }
                Moments::Device { m, v } => {
                    let g = (g * clip)?;
                    let m_new = ((&*m * b1)? + (&g * (1.0 - b1))?)?;
                    let v_new = ((&*v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let denom = ((&v_new / bc2)?.sqrt()? + self.hp.eps)?;
                    let update = ((&m_new / bc1)? / denom)?;
                    let theta = var.as_tensor();
                    let decayed = (theta * (1.0 - lr * self.hp.weight_decay))?;
                    let new = (decayed - (update * lr)?)?;
                    var.set(&new)?;
                    *m = m_new;
                    *v = v_new;
                }
            }
        }
        Ok(StepStats {
            grad_norm: norm,
            lr,
        })
    }

    /// The state as named tensors (`m.NAME`, `v.NAME`) and the step count.
    pub fn state(&self) -> (Vec<(String, Tensor)>, u64) {
        let mut out = Vec::new();
        for (i, (name, var)) in self.params.iter().enumerate() {
            let (m, v) = match &self.moments[i] {
                Moments::Host { m, v } => {
                    let t = |x: &Vec<f32>| {
                        Tensor::from_slice(x, var.shape(), &Device::Cpu)
                            .expect("moment buffers have the parameter's element count")
                    };
                    (t(m), t(v))
                }
                Moments::Device { m, v } => (m.clone(), v.clone()),
            };
            out.push((format!("m.{name}"), m));
            out.push((format!("v.{name}"), v));
        }
        (out, self.t)
    }

    /// Restores a state written by [`AdamW::state`]; every parameter must be present with
    /// its shape.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, t: u64) -> Result<()> {
        for (i, (name, var)) in self.params.iter().enumerate() {
            let load = |k: &str| -> Result<Tensor> {
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
                Ok(x.to_dtype(DType::F32)?.to_device(var.device())?)
            };
            let (m, v) = (load("m")?, load("v")?);
            self.moments[i] = match self.moments[i] {
                Moments::Host { .. } => Moments::Host {
                    m: m.flatten_all()?.to_vec1()?,
                    v: v.flatten_all()?.to_vec1()?,
                },
                Moments::Device { .. } => Moments::Device { m, v },
            };
        }
        self.t = t;
        Ok(())
    }
}

/// Elements per parallel work item of the fused CPU passes.
const CHUNK: usize = 1 << 14;

/// Runs `f` on the contiguous f32 elements of a CPU tensor; `None` for any other tensor.
fn host_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    let (storage, layout) = t.storage_and_layout();
    let (start, end) = layout.contiguous_offsets()?;
    match &*storage {
        Storage::Cpu(CpuStorage::F32(x)) => Some(f(&x[start..end])),
        _ => None,
    }
}

/// One fused AdamW update of a CPU parameter (the destination) from its gradient (the source),
/// with the moments borrowed mutably for the duration of the op. Per element:
/// `g ← clip·g; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// θ ← decay·θ − lr·(m/bc₁)/(sqrt(v/bc₂) + ε)` with `decay = 1 − lr·λ`.
struct AdamWKernel<'a> {
    m: Mutex<&'a mut Vec<f32>>,
    v: Mutex<&'a mut Vec<f32>>,
    clip: f32,
    beta1: f32,
    beta2: f32,
    inv_bc1: f32,
    inv_bc2: f32,
    eps: f32,
    lr: f32,
    decay: f32,
}

impl AdamWKernel<'_> {
    fn update(&self, theta: &mut [f32], g: &[f32]) -> candle_core::Result<()> {
        let mut m = self
            .m
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
        let mut v = self
            .v
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
        let n = theta.len();
        if g.len() != n || m.len() != n || v.len() != n {
            return Err(candle_core::Error::Msg(format!(
                "adamw: parameter has {n} elements, gradient {}, moments {}/{}",
                g.len(),
                m.len(),
                v.len()
            )));
        }
        let (b1, b2, c1, c2) = (self.beta1, self.beta2, 1.0 - self.beta1, 1.0 - self.beta2);
        theta
            .par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((th, g), m), v)| {
                for (((th, &g), m), v) in th.iter_mut().zip(g).zip(m).zip(v) {
                    let g = g * self.clip;
                    *m = b1 * *m + c1 * g;
                    *v = b2 * *v + c2 * g * g;
                    let step = (*m * self.inv_bc1) / ((*v * self.inv_bc2).sqrt() + self.eps);
                    *th = self.decay * *th - self.lr * step;
                }
            });
        Ok(())
    }
}

impl InplaceOp2 for AdamWKernel<'_> {
    fn name(&self) -> &'static str {
        "adamw"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        src: &CpuStorage,
        src_l: &Layout,
    ) -> candle_core::Result<()> {
        let (Some((d0, d1)), Some((s0, s1))) =
            (dst_l.contiguous_offsets(), src_l.contiguous_offsets())
        else {
            return Err(candle_core::Error::Msg(
                "adamw: parameter and gradient must be contiguous".into(),
            ));
        };
        match (dst, src) {
            (CpuStorage::F32(theta), CpuStorage::F32(g)) => {
                self.update(&mut theta[d0..d1], &g[s0..s1])
            }
            _ => Err(candle_core::Error::Msg(
                "adamw: parameter and gradient must be f32".into(),
            )),
        }
    }
}
