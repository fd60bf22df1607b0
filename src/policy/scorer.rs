//! Per-token log-probabilities of chosen tokens and entropies, differentiable, without ever
//! holding full-vocabulary logits for all positions.
//!
//! For a hidden state `h` (after the final norm), output matrix `W [V, H]`, temperature `τ`
//! and chosen token `y`: `z = W·h / τ`, `lse = log Σ_v exp z_v`,
//! - log-prob `log p(y) = z_y − lse`
//! - entropy `H = lse − Σ_v softmax(z)_v · z_v` (verl's formula)
//!
//! The fused op computes both in chunks of rows and, in its backward, recomputes each chunk's
//! logits: `∂log p(y)/∂z = onehot(y) − p`, `∂H/∂z = −p · (z − E_p[z])`; then
//! `∂/∂h = (∂/∂z)·W/τ` and `∂/∂W = (∂/∂z)ᵀ·h/τ`. Peak memory is one chunk of `[rows, V]`
//! ([`take_peak_logit_elems`] reports it). The whole computation is in f32 whatever the model's
//! compute dtype. It runs on the CPU and on CUDA (tensor ops on the device; the custom op's
//! CUDA forward only copies in the `[N, 2]` values).
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::model::Transformer;

/// Rows of logits materialised at once (a chunk is `rows × V` f32).
pub const DEFAULT_CHUNK: usize = 256;

/// Per-chunk statistics, all relative to the row max `m` for precision:
/// `zm = z − m`, `lse = log Σ exp zm`, `p = exp(zm − lse)`, `ez = Σ p·zm`.
struct Stats {
    lse: Tensor,
    p: Tensor,
    z: Tensor,
    ez: Tensor,
}

thread_local! {
    static PEAK_LOGIT_ELEMS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The largest block of logits (`rows × V` elements) the scorer materialised on this thread
/// since the last call, forward and backward; resets it to 0. Tests use it to prove that the
/// scorer never holds `[tokens × V]`.
pub fn take_peak_logit_elems() -> usize {
    PEAK_LOGIT_ELEMS.with(|c| c.replace(0))
}

fn chunk_stats(hc: &Tensor, w: &Tensor, inv_t: f64) -> Result<Stats> {
    let elems = hc.dim(0)? * w.dim(0)?;
    PEAK_LOGIT_ELEMS.with(|c| c.set(c.get().max(elems)));
    let z = hc.matmul(&w.t()?)?.affine(inv_t, 0.0)?;
    let m = z.max_keepdim(D::Minus1)?;
    let z = z.broadcast_sub(&m)?;
    let lse = z.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let p = z.broadcast_sub(&lse)?.exp()?;
    let ez = (&p * &z)?.sum_keepdim(D::Minus1)?;
    Ok(Stats { lse, p, z, ez })
}

/// Row statistics of logits `z = inv_t · raw` (one row of the vocabulary): the max `m`,
/// `lse = log Σ exp(z − m)` and `ez = Σ softmax(z)·(z − m)`. Two passes over the row; the sums
/// over the ~50k-150k entries are kept in f64 (an f32 running sum lost ~2e-4 in log-probs).
fn row_stats(raw: &[f32], inv_t: f32) -> (f32, f32, f32) {
    let m = raw.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b * inv_t));
    let (mut s, mut sz) = (0f64, 0f64);
    for c in raw.chunks(64) {
        // an f32 partial sum of 64 terms, then f64 across chunks
        let (mut s32, mut sz32) = (0f32, 0f32);
        for &r in c {
            let zm = r * inv_t - m;
            let e = zm.exp();
            s32 += e;
            sz32 += e * zm;
        }
        s += s32 as f64;
        sz += sz32 as f64;
    }
    (m, s.ln() as f32, (sz / s) as f32)
}

/// Fused CPU forward of one chunk: raw logits `[c, V]` (before the temperature) → `[c, 2]`
/// (log-prob of the target, entropy), rows in parallel; replaces seven full passes of tensor
/// ops over the chunk with two.
struct ChunkValues<'a> {
    targets: &'a [u32],
    inv_t: f32,
}

impl CustomOp1 for ChunkValues<'_> {
    fn name(&self) -> &'static str {
        "logprob-entropy-chunk"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (raw, c, v) = chunk_slice(s, l, self.targets.len())?;
        let mut out = vec![0f32; 2 * c];
        out.par_chunks_mut(2)
            .zip(raw.par_chunks(v))
            .zip(self.targets.par_iter())
            .for_each(|((o, row), &t)| {
                let (m, lse, ez) = row_stats(row, self.inv_t);
                o[0] = row[t as usize] * self.inv_t - m - lse;
                o[1] = lse - ez;
            });
        Ok((CpuStorage::F32(out), Shape::from((c, 2))))
    }
}

/// Fused CPU backward of one chunk: raw logits `[c, V]` and the upstream gradients
/// `(g_lp, g_ent)` per row → `∂/∂raw = inv_t · (g_lp·(onehot(y) − p) − g_ent·p·(z − E_p z))`,
/// three passes per row instead of about ten tensor-op passes and a zero-filled one-hot.
struct ChunkGrad<'a> {
    targets: &'a [u32],
    /// `[c, 2]`: `g_lp`, `g_ent` per row.
    grads: &'a [f32],
    inv_t: f32,
}

impl CustomOp1 for ChunkGrad<'_> {
    fn name(&self) -> &'static str {
        "logprob-entropy-chunk-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (raw, c, v) = chunk_slice(s, l, self.targets.len())?;
        let mut dz = vec![0f32; c * v];
        let inv_t = self.inv_t;
        dz.par_chunks_mut(v.max(1))
            .zip(raw.par_chunks(v.max(1)))
            .zip(self.targets.par_iter().zip(self.grads.par_chunks(2)))
            .for_each(|((d, row), (&t, g))| {
                let (m, lse, ez) = row_stats(row, inv_t);
                let (g_lp, g_ent) = (g[0], g[1]);
                for (dv, &r) in d.iter_mut().zip(row) {
                    let zm = r * inv_t - m;
                    let p = (zm - lse).exp();
                    *dv = -inv_t * p * (g_lp + g_ent * (zm - ez));
                }
                d[t as usize] += inv_t * g_lp;
            });
        Ok((CpuStorage::F32(dz), Shape::from((c, v))))
    }
}

fn chunk_slice<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    rows: usize,
) -> Result<(&'a [f32], usize, usize)> {
    let x = super::ops::f32_slice(s, l, "logprob-entropy chunk")?;
    let &[c, v] = l.shape().dims() else {
        candle_core::bail!("logprob-entropy chunk: logits must be 2-d");
    };
    if c != rows {
        candle_core::bail!("logprob-entropy chunk: {c} rows of logits for {rows} targets");
    }
    Ok((x, c, v))
}

struct LogProbEntropy {
    targets: Tensor, // [N, 1] u32
    inv_t: f64,
    chunk: usize,
    values: Vec<f32>, // [N, 2] precomputed forward
}

impl CustomOp2 for LogProbEntropy {
    fn name(&self) -> &'static str {
        "logprob-entropy"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        l1: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let n = l1.shape().dims()[0];
        Ok((CpuStorage::F32(self.values.clone()), Shape::from((n, 2))))
    }

    /// On CUDA the values were computed chunk by chunk with device tensor ops; only the
    /// `[N, 2]` result is copied in (the backward is device-independent tensor code).
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let n = l1.shape().dims()[0];
        let dev = s1.device.clone();
        let slice = dev.clone_htod(self.values.as_slice())?;
        Ok((
            candle_core::CudaStorage::wrap_cuda_slice(slice, dev),
            Shape::from((n, 2)),
        ))
    }

    fn bwd(
        &self,
        h: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (hd, wd) = (h.dtype(), w.dtype());
        let h = h.detach().to_dtype(DType::F32)?;
        let w = w.detach().to_dtype(DType::F32)?;
        let grad = grad.detach().to_dtype(DType::F32)?.contiguous()?;
        let n = h.dim(0)?;
        let mut dh = Vec::new();
        let mut dw: Option<Tensor> = None;
        let fused = h.device().is_cpu();
        let (targets, grads): (Vec<u32>, Vec<f32>) = if fused {
            (
                self.targets.flatten_all()?.to_vec1()?,
                grad.flatten_all()?.to_vec1()?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let mut s = 0;
        while s < n {
            let c = self.chunk.min(n - s);
            let hc = h.narrow(0, s, c)?;
            if fused {
                let elems = c * w.dim(0)?;
                PEAK_LOGIT_ELEMS.with(|p| p.set(p.get().max(elems)));
                let raw = hc.matmul(&w.t()?)?;
                let dz = raw.apply_op1_no_bwd(&ChunkGrad {
                    targets: &targets[s..s + c],
                    grads: &grads[2 * s..2 * (s + c)],
                    inv_t: self.inv_t as f32,
                })?;
                drop(raw);
                dh.push(dz.matmul(&w)?);
                let dwc = dz.t()?.matmul(&hc)?;
                dw = Some(match dw {
                    None => dwc,
                    Some(acc) => (acc + dwc)?,
                });
                s += c;
                continue;
            }
            let st = chunk_stats(&hc, &w, self.inv_t)?;
            let g = grad.narrow(0, s, c)?;
            let g_lp = g.narrow(1, 0, 1)?.contiguous()?;
            let g_ent = g.narrow(1, 1, 1)?.contiguous()?;
            // dz = g_lp·(onehot − p) − g_ent·p·(z − E z)
            let centered = st.z.broadcast_sub(&st.ez)?;
            let coef = centered.broadcast_mul(&g_ent)?.broadcast_add(&g_lp)?;
            let onehot = Tensor::zeros(st.z.shape(), DType::F32, h.device())?.scatter_add(
                &self.targets.narrow(0, s, c)?,
                &g_lp,
                1,
            )?;
            let dz = (onehot - (st.p * coef)?)?.affine(self.inv_t, 0.0)?;
            dh.push(dz.matmul(&w)?);
            let dwc = dz.t()?.matmul(&hc)?;
            dw = Some(match dw {
                None => dwc,
                Some(acc) => (acc + dwc)?,
            });
            s += c;
        }
        let dh = Tensor::cat(&dh, 0)?.to_dtype(hd)?;
        let dw = match dw {
            Some(x) => x.to_dtype(wd)?,
            None => w.zeros_like()?.to_dtype(wd)?,
        };
        Ok((Some(dh), Some(dw)))
    }
}

fn check_args(h: &Tensor, w: &Tensor, targets: &[u32], temperature: f64) -> Result<()> {
    let (n, hs) = h.dims2()?;
    let (v, hw) = w.dims2()?;
    if hs != hw {
        candle_core::bail!("hidden width {hs} does not match the output matrix width {hw}");
    }
    if targets.len() != n {
        candle_core::bail!("{} targets for {n} rows", targets.len());
    }
    if let Some(t) = targets.iter().find(|&&t| t as usize >= v) {
        candle_core::bail!("target id {t} is outside the vocabulary of {v}");
    }
    if !(temperature > 0.0 && temperature.is_finite()) {
        candle_core::bail!("temperature must be positive and finite, got {temperature}");
    }
    Ok(())
}

/// `[N, 2]` f32: column 0 the log-prob of `targets[i]`, column 1 the entropy, for hidden rows
/// `h [N, H]` and output matrix `w [V, H]`, logits divided by `temperature`. Differentiable
/// w.r.t. `h` and `w` (fused op, CPU), computed `chunk` rows at a time.
pub fn token_logprobs_entropy(
    h: &Tensor,
    w: &Tensor,
    targets: &[u32],
    temperature: f64,
    chunk: usize,
) -> Result<Tensor> {
    check_args(h, w, targets, temperature)?;
    let n = h.dim(0)?;
    let inv_t = 1.0 / temperature;
    let chunk = chunk.max(1);
    let hf = h.detach().to_dtype(DType::F32)?;
    let wf = w.detach().to_dtype(DType::F32)?;
    let tgt = Tensor::from_vec(targets.to_vec(), (n, 1), h.device())?;
    let mut values = Vec::with_capacity(2 * n);
    let mut s = 0;
    while s < n {
        let c = chunk.min(n - s);
        if hf.device().is_cpu() {
            let elems = c * wf.dim(0)?;
            PEAK_LOGIT_ELEMS.with(|p| p.set(p.get().max(elems)));
            let raw = hf.narrow(0, s, c)?.matmul(&wf.t()?)?;
            let v = raw.apply_op1_no_bwd(&ChunkValues {
                targets: &targets[s..s + c],
                inv_t: inv_t as f32,
            })?;
            values.extend(v.flatten_all()?.to_vec1::<f32>()?);
            s += c;
            continue;
        }
        let st = chunk_stats(&hf.narrow(0, s, c)?, &wf, inv_t)?;
        let chosen = st.z.gather(&tgt.narrow(0, s, c)?, 1)?;
        let lp: Vec<f32> = (chosen - &st.lse)?.flatten_all()?.to_vec1()?;
        let ent: Vec<f32> = (&st.lse - &st.ez)?.flatten_all()?.to_vec1()?;
        for (a, b) in lp.into_iter().zip(ent) {
            values.push(a);
            values.push(b);
        }
        s += c;
    }
    if !(h.device().is_cpu() || h.device().is_cuda()) {
        // the fused op has CPU and CUDA forwards: elsewhere, values without gradient tracking
        return Tensor::from_vec(values, (n, 2), h.device());
    }
    h.apply_op2(
        w,
        LogProbEntropy {
            targets: tgt,
            inv_t,
            chunk,
            values,
        },
    )
}

/// Unchunked reference of [`token_logprobs_entropy`] built from plain differentiable ops
/// (holds `[N, V]` logits and their graph; for tests).
pub fn token_logprobs_entropy_reference(
    h: &Tensor,
    w: &Tensor,
    targets: &[u32],
    temperature: f64,
) -> Result<Tensor> {
    check_args(h, w, targets, temperature)?;
    let n = h.dim(0)?;
    let z = h
        .to_dtype(DType::F32)?
        .matmul(&w.to_dtype(DType::F32)?.t()?)?;
    let ids = Tensor::from_vec(targets.to_vec(), (1, n), h.device())?;
    let s = super::logprob::token_logp_entropy(&z.unsqueeze(0)?, &ids, temperature)?;
    Tensor::stack(&[s.logp.squeeze(0)?, s.entropy.squeeze(0)?], 1)
}

/// Scores of a batch of completions: `[B, C]` f32 tensors, `C` = longest completion; entries
/// past a row's completion are 0 with `mask` 0.
#[derive(Debug, Clone)]
pub struct ScoreOutput {
    /// `log π(c_k | prompt, c_<k)` at temperature τ, differentiable.
    pub logprobs: Tensor,
    /// Entropy of the next-token distribution at each completion position, differentiable.
    pub entropy: Tensor,
    /// 1 for real completion tokens, 0 for padding.
    pub mask: Tensor,
}

/// Scores `(prompt, completion)` pairs with one forward pass (rows right-padded, positions
/// `0..len`): per completion token its log-prob and the entropy of the distribution it was drawn
/// from, logits divided by `temperature`. Gradients reach the model's trainable parameters.
/// Prompts must be non-empty.
pub fn score_completions(
    model: &Transformer,
    seqs: &[(Vec<u32>, Vec<u32>)],
    temperature: f64,
) -> Result<ScoreOutput> {
    crate::util::on_rayon_worker(|| {
        score_completions_chunked(model, seqs, temperature, DEFAULT_CHUNK)
    })
}

/// [`score_completions`] with an explicit chunk size (rows of logits at once).
pub fn score_completions_chunked(
    model: &Transformer,
    seqs: &[(Vec<u32>, Vec<u32>)],
    temperature: f64,
    chunk: usize,
) -> Result<ScoreOutput> {
    let dev = model.device().clone();
    let b = seqs.len();
    if b == 0 {
        candle_core::bail!("score: empty batch");
    }
    if let Some(i) = seqs.iter().position(|(p, _)| p.is_empty()) {
        candle_core::bail!("score: prompt {i} is empty (at least one prompt token is needed)");
    }
    let c = seqs.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let t = seqs
        .iter()
        .map(|(p, c)| p.len() + c.len())
        .max()
        .unwrap_or(0);
    let ctx = model.config().max_position_embeddings;
    if t > ctx {
        candle_core::bail!("sequence of {t} tokens exceeds the model context of {ctx} tokens");
    }
    if c == 0 {
        let z = Tensor::zeros((b, 0), DType::F32, &dev)?;
        return Ok(ScoreOutput {
            logprobs: z.clone(),
            entropy: z.clone(),
            mask: z,
        });
    }
    let mut ids = vec![0u32; b * t];
    let mut idx = vec![0u32; b * c];
    let mut targets = vec![0u32; b * c];
    let mut mask = vec![0f32; b * c];
    for (r, (p, comp)) in seqs.iter().enumerate() {
        ids[r * t..r * t + p.len()].copy_from_slice(p);
        ids[r * t + p.len()..r * t + p.len() + comp.len()].copy_from_slice(comp);
        for (k, &tok) in comp.iter().enumerate() {
            idx[r * c + k] = (r * t + p.len() - 1 + k) as u32;
            targets[r * c + k] = tok;
            mask[r * c + k] = 1.0;
        }
    }
    let ids_t = Tensor::from_vec(ids, (b, t), &dev)?;
    let pos = Tensor::arange(0u32, t as u32, &dev)?
        .unsqueeze(0)?
        .broadcast_as((b, t))?
        .contiguous()?;
    let h = model.forward(&ids_t, &pos, None, None)?;
    let hsz = h.dim(2)?;
    let rows = h
        .reshape((b * t, hsz))?
        .index_select(&Tensor::from_vec(idx, b * c, &dev)?, 0)?;
    let out = token_logprobs_entropy(&rows, model.lm_head_weight(), &targets, temperature, chunk)?;
    let mask = Tensor::from_vec(mask, (b, c), &dev)?;
    let logprobs = (out.narrow(1, 0, 1)?.reshape((b, c))? * &mask)?;
    let entropy = (out.narrow(1, 1, 1)?.reshape((b, c))? * &mask)?;
    Ok(ScoreOutput {
        logprobs,
        entropy,
        mask,
    })
}

#[cfg(test)]
mod row_tests {
    use super::row_stats;

    /// The fused row statistics against f64 over a Qwen2.5-sized vocabulary row: an f32 running
    /// sum over 152k terms drifts by ~1e-4, which the log-probs inherit.
    #[test]
    fn row_stats_match_f64_on_a_wide_row() {
        let mut s = 3u64;
        let raw: Vec<f32> = (0..151_936)
            .map(|_| {
                s = crate::util::splitmix64(s);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
            })
            .collect();
        for inv_t in [1.0f32, 1.0 / 0.6] {
            let (m, lse, ez) = row_stats(&raw, inv_t);
            let z: Vec<f64> = raw.iter().map(|&r| (r * inv_t) as f64).collect();
            let m64 = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s64: f64 = z.iter().map(|&v| (v - m64).exp()).sum();
            let lse64 = s64.ln();
            let ez64: f64 = z.iter().map(|&v| (v - m64).exp() * (v - m64)).sum::<f64>() / s64;
            assert_eq!(m as f64, m64);
            assert!((lse as f64 - lse64).abs() < 2e-6, "lse {lse} vs {lse64}");
            assert!((ez as f64 - ez64).abs() < 2e-6, "E[z-m] {ez} vs {ez64}");
        }
    }
}
