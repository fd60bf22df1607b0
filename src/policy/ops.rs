//! Fused CPU f32 kernels with their own backward pass, for the layers whose chain of primitive
//! ops would keep many full-size intermediates alive for `backward()` (candle records every
//! op's inputs). Each op keeps only its inputs; its backward is written with tensor ops on
//! detached tensors. Other dtypes/devices use the primitive-op formulas in `model.rs`.
//!
//! - [`RmsNormOp`]: `y = x·r·w`, `r = (mean(x²) + eps)^(-1/2)`;
//!   `∂x = r·(g·w − x·r²·mean(g·w·x))`, `∂w = Σ_rows g·x·r`.
//! - [`MaskedSoftmaxOp`]: `y = softmax(s + bias)` over the last dim; `∂s = y·(g − Σ g·y)`.
//! - [`RotaryOp`]: `scale ·` rotation of halves by `θ`; its backward is `scale ·` rotation by `−θ`.
//! - [`SwiGluOp`]: `y = silu(a)·b`; `∂a = g·b·σ(a)·(1 + a·(1 − σ(a)))`, `∂b = g·silu(a)`.
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    match s {
        CpuStorage::F32(v) => match l.contiguous_offsets() {
            Some((a, b)) => Ok(&v[a..b]),
            None => candle_core::bail!("{op}: input must be contiguous"),
        },
        _ => candle_core::bail!("{op}: only f32 is supported"),
    }
}

/// Whether the fused kernels apply to `t` (f32 on the CPU).
pub fn fused_ok(t: &Tensor) -> bool {
    t.dtype() == candle_core::DType::F32 && t.device().is_cpu()
}

/// RMSNorm over the last dimension with weight `w`.
pub struct RmsNormOp {
    /// Epsilon added to the mean square.
    pub eps: f64,
}

impl CustomOp2 for RmsNormOp {
    fn name(&self) -> &'static str {
        "rms-norm-fused"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let w = f32_slice(s2, l2, self.name())?;
        let h = w.len();
        if l1.shape().dims().last() != Some(&h) {
            candle_core::bail!("rms-norm: weight of {h} for input {:?}", l1.shape());
        }
        let mut y = vec![0f32; x.len()];
        let eps = self.eps as f32;
        y.par_chunks_mut(h)
            .zip(x.par_chunks(h))
            .for_each(|(yr, xr)| {
                let ms = xr.iter().map(|v| v * v).sum::<f32>() / h as f32;
                let r = 1.0 / (ms + eps).sqrt();
                for ((o, &a), &b) in yr.iter_mut().zip(xr).zip(w) {
                    *o = a * r * b;
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let h = w.dim(0)?;
        let n = x.elem_count() / h;
        let x2 = x.detach().reshape((n, h))?;
        let g2 = g.detach().contiguous()?.reshape((n, h))?;
        let w = w.detach();
        let r = x2
            .sqr()?
            .mean_keepdim(D::Minus1)?
            .affine(1.0, self.eps)?
            .sqrt()?
            .recip()?;
        let gw = g2.broadcast_mul(&w)?;
        let dot = (&gw * &x2)?.mean_keepdim(D::Minus1)?;
        let gx = (gw - x2.broadcast_mul(&(r.sqr()? * dot)?)?)?.broadcast_mul(&r)?;
        let gwt = (g2 * x2.broadcast_mul(&r)?)?.sum(0)?;
        Ok((Some(gx.reshape(x.shape())?), Some(gwt)))
    }
}

/// `softmax(s + bias)` over the last dim of scores `[B, G, T, S]`, with a constant additive
/// bias `[B, T, S]` shared by the `G` heads.
pub struct MaskedSoftmaxOp {
    /// Row-major `[B, T, S]` bias.
    pub bias: Arc<Vec<f32>>,
    /// `T` (queries).
    pub t: usize,
}

impl CustomOp1 for MaskedSoftmaxOp {
    fn name(&self) -> &'static str {
        "masked-softmax-fused"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let (b, g, t, sl) = l.shape().dims4()?;
        if t != self.t || self.bias.len() != b * t * sl {
            candle_core::bail!("masked-softmax: bias does not fit scores {:?}", l.shape());
        }
        let mut y = vec![0f32; x.len()];
        let bias = &self.bias;
        y.par_chunks_mut(sl)
            .zip(x.par_chunks(sl))
            .enumerate()
            .for_each(|(row, (yr, xr))| {
                let bi = row / (g * t);
                let ti = row % t;
                let br = &bias[(bi * t + ti) * sl..(bi * t + ti + 1) * sl];
                let mut m = f32::NEG_INFINITY;
                for ((o, &a), &c) in yr.iter_mut().zip(xr).zip(br) {
                    *o = a + c;
                    m = m.max(*o);
                }
                let mut sum = 0f32;
                for o in yr.iter_mut() {
                    *o = (*o - m).exp();
                    sum += *o;
                }
                let inv = 1.0 / sum;
                for o in yr.iter_mut() {
                    *o *= inv;
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let y = res.detach();
        let g = g.detach();
        let dot = (&g * &y)?.sum_keepdim(D::Minus1)?;
        Ok(Some((g.broadcast_sub(&dot)? * y)?))
    }
}

/// Rotary embedding of `x [B, H, T, d]` (halves convention) with per-row tables
/// `cos, sin [B, T, d/2]`; `sign = -1` rotates backwards.
#[derive(Clone)]
pub struct RotaryOp {
    /// `cos θ`, row-major `[B, T, d/2]`.
    pub cos: Arc<Vec<f32>>,
    /// `sin θ`, row-major `[B, T, d/2]`.
    pub sin: Arc<Vec<f32>>,
    /// `1` forward, `-1` inverse rotation.
    pub sign: f32,
    /// Output scale (e.g. `1/√d` folded into the queries).
    pub scale: f32,
}

impl CustomOp1 for RotaryOp {
    fn name(&self) -> &'static str {
        "rotary-fused"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let (b, h, t, d) = l.shape().dims4()?;
        let half = d / 2;
        if self.cos.len() != b * t * half {
            candle_core::bail!("rotary: tables do not fit {:?}", l.shape());
        }
        let mut y = vec![0f32; x.len()];
        let (cos, sin, sg, sc) = (&self.cos, &self.sin, self.sign, self.scale);
        y.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .enumerate()
            .for_each(|(row, (yr, xr))| {
                let bi = row / (h * t);
                let ti = row % t;
                let off = (bi * t + ti) * half;
                for i in 0..half {
                    let (c, sn) = (sc * cos[off + i], sc * sg * sin[off + i]);
                    let (x1, x2) = (xr[i], xr[i + half]);
                    yr[i] = x1 * c - x2 * sn;
                    yr[i + half] = x2 * c + x1 * sn;
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let inv = RotaryOp {
            sign: -self.sign,
            ..self.clone()
        };
        Ok(Some(g.detach().contiguous()?.apply_op1_no_bwd(&inv)?))
    }
}

/// `silu(a) · b` (the SwiGLU gate).
pub struct SwiGluOp;

impl CustomOp2 for SwiGluOp {
    fn name(&self) -> &'static str {
        "swiglu-fused"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let a = f32_slice(s1, l1, self.name())?;
        let b = f32_slice(s2, l2, self.name())?;
        if a.len() != b.len() {
            candle_core::bail!("swiglu: shapes {:?} and {:?}", l1.shape(), l2.shape());
        }
        let mut y = vec![0f32; a.len()];
        y.par_chunks_mut(4096)
            .zip(a.par_chunks(4096).zip(b.par_chunks(4096)))
            .for_each(|(yc, (ac, bc))| {
                for ((o, &x), &u) in yc.iter_mut().zip(ac).zip(bc) {
                    *o = x / (1.0 + (-x).exp()) * u;
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (a, b, g) = (a.detach(), b.detach(), g.detach());
        let sig = (a.neg()?.exp()? + 1.0)?.recip()?;
        let silu = (&a * &sig)?;
        let dsilu = (&sig * ((&a * (1.0 - &sig)?)? + 1.0)?)?;
        let ga = ((&g * &b)? * dsilu)?;
        let gb = (g * silu)?;
        Ok((Some(ga), Some(gb)))
    }
}
