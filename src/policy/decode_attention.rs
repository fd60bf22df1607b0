//! Attention for sampling on the CPU, in one pass and without a graph: for queries
//! `q [B, H, T, d]` (rotated and already scaled by `1/√d`), cached keys and values
//! `k, v [B, kvh, S, d]` (any strides: the KV cache hands out views of its buffers) and an
//! additive bias `[B, T, S]` shared by all heads,
//!
//! `y[b, t, h, :] = Σ_j softmax_j(q[b, h, t]·k[b, g, j] + bias[b, t, j]) · v[b, g, j, :]`,
//! `g = h / (H / kvh)` (grouped key/value heads), `softmax(s) = exp(s − max s) / Σ exp(s − max s)`,
//!
//! returned as `[B, T, H·d]`, the layout the output projection reads. Same formula as
//! [`crate::policy::model::Attention`] with the fused [`crate::policy::ops::MaskedSoftmaxOp`];
//! it replaces two batched matmuls of tiny matrices (`rep·T × d` by `d × S` per group), the
//! softmax pass and two transposes, whose fixed costs dominate a decoding step's attention.
//! The batch rows run in parallel. No backward: only for detached (sampling) tensors.
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape};
use rayon::prelude::*;

/// `Σ a_i b_i` in 16 independent partial sums (vectorizes; the order differs from a plain
/// left-to-right sum only by rounding).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Bias values at or below this are masked keys (see [`crate::policy::model::MASK_VALUE`]).
const MASKED: f32 = crate::policy::model::MASK_VALUE * 0.5;

/// The op; `bias` is row-major `[B, T, S]`.
pub struct DecodeAttentionOp {
    pub bias: Arc<Vec<f32>>,
}

/// A 4-d f32 view: the data, its first element and its strides.
struct View<'a> {
    data: &'a [f32],
    start: usize,
    stride: [usize; 4],
}

impl<'a> View<'a> {
    fn new(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<Self> {
        let CpuStorage::F32(data) = s else {
            candle_core::bail!("decode-attention: {what} must be f32");
        };
        let st = l.stride();
        if st.len() != 4 {
            candle_core::bail!("decode-attention: {what} must be 4-d, got {:?}", l.shape());
        }
        Ok(Self {
            data,
            start: l.start_offset(),
            stride: [st[0], st[1], st[2], st[3]],
        })
    }

    /// The `d` values at `[a, b, c, ..]` (unit stride along the last dimension required).
    fn row(&self, a: usize, b: usize, c: usize, d: usize) -> &[f32] {
        let o = self.start + a * self.stride[0] + b * self.stride[1] + c * self.stride[2];
        &self.data[o..o + d]
    }
}

impl CustomOp3 for DecodeAttentionOp {
    fn name(&self) -> &'static str {
        "decode-attention"
    }

    fn cpu_fwd(
        &self,
        sq: &CpuStorage,
        lq: &Layout,
        sk: &CpuStorage,
        lk: &Layout,
        sv: &CpuStorage,
        lv: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, h, t, d) = lq.shape().dims4()?;
        let (bk, kvh, s, dk) = lk.shape().dims4()?;
        if lv.shape() != lk.shape() || bk != b || dk != d || kvh == 0 || h % kvh != 0 {
            candle_core::bail!(
                "decode-attention: q {:?}, k {:?}, v {:?} do not fit",
                lq.shape(),
                lk.shape(),
                lv.shape()
            );
        }
        if self.bias.len() != b * t * s {
            candle_core::bail!("decode-attention: bias does not fit [{b}, {t}, {s}]");
        }
        let (q, k, v) = (
            View::new(sq, lq, "q")?,
            View::new(sk, lk, "k")?,
            View::new(sv, lv, "v")?,
        );
        if [q.stride[3], k.stride[3], v.stride[3]] != [1, 1, 1] {
            candle_core::bail!("decode-attention: the last dimension must be contiguous");
        }
        let rep = h / kvh;
        let mut y = vec![0f32; b * t * h * d];
        y.par_chunks_mut(t * h * d)
            .enumerate()
            .for_each(|(bi, yb)| {
                // the `rep` query heads of a key/value group share each key and value row
                let mut p = vec![0f32; rep * s];
                for g in 0..kvh {
                    for ti in 0..t {
                        let bias = &self.bias[(bi * t + ti) * s..(bi * t + ti + 1) * s];
                        for (j, &c) in bias.iter().enumerate() {
                            if c <= MASKED {
                                // a masked key (padding, or the future in a prefill): its
                                // score is the mask value whatever q·k is (|q·k| is far below
                                // the mask's last place), so the dot product is skipped
                                for r in 0..rep {
                                    p[r * s + j] = c;
                                }
                                continue;
                            }
                            let kr = k.row(bi, g, j, d);
                            for r in 0..rep {
                                p[r * s + j] = dot(q.row(bi, g * rep + r, ti, d), kr) + c;
                            }
                        }
                        for pr in p.chunks_mut(s) {
                            let m = pr.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                            let mut sum = 0f32;
                            for x in pr.iter_mut() {
                                // exp underflows to 0 below −103 (and libm's slow path
                                // handles it): give 0 at once
                                *x = if *x - m < -104.0 { 0.0 } else { (*x - m).exp() };
                                sum += *x;
                            }
                            let inv = 1.0 / sum;
                            pr.iter_mut().for_each(|x| *x *= inv);
                        }
                        let out = &mut yb[(ti * h + g * rep) * d..(ti * h + (g + 1) * rep) * d];
                        for j in 0..s {
                            if (0..rep).all(|r| p[r * s + j] == 0.0) {
                                continue; // no weight on this value row
                            }
                            let vr = v.row(bi, g, j, d);
                            for (r, o) in out.chunks_mut(d).enumerate() {
                                let w = p[r * s + j];
                                for (a, &vv) in o.iter_mut().zip(vr) {
                                    *a += w * vv;
                                }
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(y), Shape::from((b, t, h * d))))
    }
}
