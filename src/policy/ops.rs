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

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
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

/// Rows of the input up to which [`RowsMatmulOp`] beats the general gemm (decode steps:
/// one row per sequence).
pub const ROWS_MATMUL_MAX: usize = 64;
/// Output columns from which [`RowsMatmulOp`] beats gemm (narrower matrices fit the caches
/// that gemm's packing is built for).
pub const ROWS_MATMUL_MIN_COLS: usize = 1024;

/// `y = x·Wᵀ` for a few rows of `x: [M, K]` with `W: [N, K]` in its stored layout (inference
/// only: no backward). Decoding multiplies a handful of rows by every weight matrix, so the
/// cost is reading `W` once; a general gemm packs `W` on every call, which costs more than the
/// product. This kernel walks `W` four rows at a time (they stay in L1) against all `M` rows of
/// `x` (they stay in L2), 16-lane accumulators the compiler vectorizes, split over threads by
/// output column.
pub struct RowsMatmulOp;

const LANES: usize = 16;

/// The 4×4 block `Σ_k x_i[k]·w_j[k]` (i over four rows of `x`, j over four rows of `w`):
/// two passes of 2×4 explicit 16-lane accumulators (6 loads per 8 multiply-adds), which the
/// compiler keeps in vector registers.
#[inline(always)]
fn dot4x4(x: [&[f32]; 4], w: [&[f32]; 4]) -> [[f32; 4]; 4] {
    let a = dot2x4([x[0], x[1]], w);
    let b = dot2x4([x[2], x[3]], w);
    [a[0], a[1], b[0], b[1]]
}

#[inline(always)]
fn dot2x4(x: [&[f32]; 2], w: [&[f32]; 4]) -> [[f32; 4]; 2] {
    const L: usize = LANES;
    let z = [0f32; L];
    let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
    let (mut b0, mut b1, mut b2, mut b3) = (z, z, z, z);
    let chunks = x[0]
        .chunks_exact(L)
        .zip(x[1].chunks_exact(L))
        .zip(w[0].chunks_exact(L))
        .zip(w[1].chunks_exact(L))
        .zip(w[2].chunks_exact(L))
        .zip(w[3].chunks_exact(L));
    for (((((p, q), c0), c1), c2), c3) in chunks {
        for l in 0..L {
            a0[l] += p[l] * c0[l];
            a1[l] += p[l] * c1[l];
            a2[l] += p[l] * c2[l];
            a3[l] += p[l] * c3[l];
            b0[l] += q[l] * c0[l];
            b1[l] += q[l] * c1[l];
            b2[l] += q[l] * c2[l];
            b3[l] += q[l] * c3[l];
        }
    }
    let k = x[0].len();
    let n = k / L * L;
    let mut out = [
        [a0, a1, a2, a3].map(|v| v.iter().sum::<f32>()),
        [b0, b1, b2, b3].map(|v| v.iter().sum::<f32>()),
    ];
    for (oi, xr) in out.iter_mut().zip(x) {
        for (o, wr) in oi.iter_mut().zip(w) {
            for t in n..k {
                *o += xr[t] * wr[t];
            }
        }
    }
    out
}

/// `y[m, c] = Σ_k x[m, k]·w[c, k]` for the columns `c0..c1` into `block` (`[M, c1 − c0]`).
fn rows_matmul_block(x: &[f32], w: &[f32], k: usize, m: usize, c0: usize, c1: usize) -> Vec<f32> {
    let cols = c1 - c0;
    let mut block = vec![0f32; m * cols];
    let xrow = |r: usize| &x[r * k..(r + 1) * k];
    let wrow = |c: usize| &w[c * k..(c + 1) * k];
    let mut c = c0;
    while c < c1 {
        let cw = (c1 - c).min(4);
        // pad a short tail of columns / rows by repeating the last one (results dropped)
        let ws = [0, 1, 2, 3].map(|j| wrow(c + j.min(cw - 1)));
        let mut r = 0;
        while r < m {
            let rw = (m - r).min(4);
            let xs = [0, 1, 2, 3].map(|i| xrow(r + i.min(rw - 1)));
            let d = dot4x4(xs, ws);
            for (i, di) in d.iter().enumerate().take(rw) {
                let o = (r + i) * cols + (c - c0);
                block[o..o + cw].copy_from_slice(&di[..cw]);
            }
            r += 4;
        }
        c += 4;
    }
    block
}

/// `y[m, n] = Σ_k x[m, k]·w[n, k]` into `y` (`[M, N]`).
pub fn rows_matmul(x: &[f32], w: &[f32], k: usize, y: &mut [f32]) {
    let m = x.len() / k.max(1);
    let n = w.len() / k.max(1);
    if m == 0 || n == 0 {
        return;
    }
    // columns per task: a multiple of 4, a few tasks per thread
    let per = (n.div_ceil(rayon::current_num_threads() * 4))
        .div_ceil(4)
        .max(1)
        * 4;
    let starts: Vec<usize> = (0..n).step_by(per).collect();
    let blocks: Vec<(usize, Vec<f32>)> = starts
        .into_par_iter()
        .map(|c0| (c0, rows_matmul_block(x, w, k, m, c0, (c0 + per).min(n))))
        .collect();
    for (c0, block) in blocks {
        let cols = block.len() / m;
        for r in 0..m {
            y[r * n + c0..r * n + c0 + cols].copy_from_slice(&block[r * cols..(r + 1) * cols]);
        }
    }
}

impl CustomOp2 for RowsMatmulOp {
    fn name(&self) -> &'static str {
        "rows-matmul"
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
        let (m, k) = l1.shape().dims2()?;
        let (n, k2) = l2.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("rows-matmul: x is [{m}, {k}] but W is [{n}, {k2}]");
        }
        let mut y = vec![0f32; m * n];
        rows_matmul(x, w, k, &mut y);
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }
}

#[cfg(test)]
mod rows_matmul_tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_matmul_for_odd_shapes() {
        let dev = Device::Cpu;
        for &(m, k, n) in &[
            (1, 5, 3),
            (3, 16, 4),
            (7, 37, 9),
            (16, 576, 133),
            (64, 33, 70),
        ] {
            let x = Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap();
            let w = Tensor::randn(0f32, 1.0, (n, k), &dev).unwrap();
            let want = x.matmul(&w.t().unwrap()).unwrap();
            let got = x.apply_op2_no_bwd(&w, &RowsMatmulOp).unwrap();
            assert_eq!(got.dims(), &[m, n]);
            let diff = (got - want)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-3 * (k as f32).sqrt(), "({m},{k},{n}): {diff}");
        }
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::zeros((4, 5), candle_core::DType::F32, &dev).unwrap();
        assert!(x.apply_op2_no_bwd(&w, &RowsMatmulOp).is_err());
    }
}
