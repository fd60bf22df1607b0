//! CPU references of the CUDA kernels in `kernels/`, one function per kernel with the same
//! arguments (row-major f32 slices) and the same formulas, in plain loops. The CUDA build's
//! kernel tests (tests/gpu_kernels.rs) compare each kernel with its reference on random inputs;
//! the CPU tests (tests/policy_precision.rs) check the references against the tensor formulas
//! the model and scorer use, so a kernel that matches its reference matches the model.
//!
//! - [`logprob_entropy_fwd`] / [`logprob_entropy_bwd`] (`logprob_entropy.cu`): for one chunk
//!   of logits `z [rows, V]`, `zs = z·inv_t`, `lse = log Σ exp zs`, `p = exp(zs − lse)`,
//!   `E = Σ p·zs`; out `[rows, 4]` = (`zs[tgt] − lse`, `lse − E`, `lse`, `E`);
//!   `dz = inv_t·(g_lp·(onehot − p) − g_ent·p·(zs − E))`.
//! - [`rmsnorm_fwd`] / [`rmsnorm_bwd`] (`rmsnorm.cu`): `y = x·r·w`, `r = (mean x² + eps)^(-1/2)`;
//!   `dx = r·(g·w − x·r²·mean(g·w·x))`, `dw = Σ_rows g·x·r`.
//! - [`rotary`] (`rotary.cu`): halves rotated by `sign·θ`, scaled by `scale`.
//! - [`swiglu_fwd`] / [`swiglu_bwd`] (`swiglu.cu`): `y = silu(a)·b`;
//!   `da = g·b·σ(a)·(1 + a·(1 − σ(a)))`, `db = g·silu(a)`.

/// `[rows, 4]`: log-prob of `tgt[row]`, entropy, `lse`, `E_p[zs]` for logits `z [rows, v]`.
pub fn logprob_entropy_fwd(z: &[f32], tgt: &[u32], v: usize, inv_t: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(tgt.len() * 4);
    for (zr, &t) in z.chunks(v).zip(tgt) {
        let m = zr.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b * inv_t));
        let (mut s, mut sz) = (0f64, 0f64);
        for &x in zr {
            let d = (x * inv_t - m) as f64;
            let e = d.exp();
            s += e;
            sz += e * d;
        }
        let lse = m as f64 + s.ln();
        let ez = m as f64 + sz / s;
        out.extend_from_slice(&[
            (zr[t as usize] as f64 * inv_t as f64 - lse) as f32,
            (lse - ez) as f32,
            lse as f32,
            ez as f32,
        ]);
    }
    out
}

/// `dz [rows, v]` from the forward's `stats [rows, 4]` and the gradient `g [rows, 2]`.
pub fn logprob_entropy_bwd(
    z: &[f32],
    tgt: &[u32],
    stats: &[f32],
    g: &[f32],
    v: usize,
    inv_t: f32,
) -> Vec<f32> {
    let mut dz = vec![0f32; z.len()];
    for (row, (zr, dr)) in z.chunks(v).zip(dz.chunks_mut(v)).enumerate() {
        let (lse, ez) = (stats[4 * row + 2], stats[4 * row + 3]);
        let (glp, gent) = (g[2 * row], g[2 * row + 1]);
        for (j, (&x, d)) in zr.iter().zip(dr.iter_mut()).enumerate() {
            let zs = x * inv_t;
            let p = (zs - lse).exp();
            let onehot = if j == tgt[row] as usize { 1.0 } else { 0.0 };
            *d = inv_t * (glp * (onehot - p) - gent * p * (zs - ez));
        }
    }
    dz
}

fn inv_rms(xr: &[f32], eps: f32) -> f32 {
    let ms = xr.iter().map(|v| (v * v) as f64).sum::<f64>() / xr.len() as f64;
    (1.0 / (ms + eps as f64).sqrt()) as f32
}

/// `y [rows, h]` for `x [rows, h]`, `w [h]`.
pub fn rmsnorm_fwd(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let h = w.len();
    let mut y = Vec::with_capacity(x.len());
    for xr in x.chunks(h) {
        let r = inv_rms(xr, eps);
        y.extend(xr.iter().zip(w).map(|(a, b)| a * r * b));
    }
    y
}

/// `(dx [rows, h], dw [h])` for the gradient `g [rows, h]`.
pub fn rmsnorm_bwd(x: &[f32], w: &[f32], g: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>) {
    let h = w.len();
    let mut dx = Vec::with_capacity(x.len());
    let mut dw = vec![0f64; h];
    for (xr, gr) in x.chunks(h).zip(g.chunks(h)) {
        let r = inv_rms(xr, eps);
        let dot = (0..h).map(|i| (gr[i] * w[i] * xr[i]) as f64).sum::<f64>() as f32 / h as f32;
        for i in 0..h {
            dx.push(r * (gr[i] * w[i] - xr[i] * r * r * dot));
            dw[i] += (gr[i] * xr[i] * r) as f64;
        }
    }
    (dx, dw.into_iter().map(|v| v as f32).collect())
}

/// Rotary embedding of `x [b, heads, t, d]` with tables `cos`, `sin` `[b, t, d/2]`: halves
/// `(x1, x2)` become `scale·(x1·cos − sign·x2·sin, x2·cos + sign·x1·sin)`.
#[allow(clippy::too_many_arguments)]
pub fn rotary(
    x: &[f32],
    cos: &[f32],
    sin: &[f32],
    b: usize,
    heads: usize,
    t: usize,
    d: usize,
    sign: f32,
    scale: f32,
) -> Vec<f32> {
    let half = d / 2;
    let mut y = vec![0f32; x.len()];
    for bi in 0..b {
        for hi in 0..heads {
            for ti in 0..t {
                let row = ((bi * heads + hi) * t + ti) * d;
                let tab = (bi * t + ti) * half;
                for i in 0..half {
                    let (c, s) = (cos[tab + i], sign * sin[tab + i]);
                    let (x1, x2) = (x[row + i], x[row + half + i]);
                    y[row + i] = scale * (x1 * c - x2 * s);
                    y[row + half + i] = scale * (x2 * c + x1 * s);
                }
            }
        }
    }
    y
}

fn sigmoid(a: f32) -> f32 {
    1.0 / (1.0 + (-a).exp())
}

/// `silu(a)·b`, elementwise.
pub fn swiglu_fwd(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(&a, &b)| a * sigmoid(a) * b).collect()
}

/// `(da, db)` for the gradient `g`.
pub fn swiglu_bwd(a: &[f32], b: &[f32], g: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut da = Vec::with_capacity(a.len());
    let mut db = Vec::with_capacity(a.len());
    for ((&a, &b), &g) in a.iter().zip(b).zip(g) {
        let s = sigmoid(a);
        da.push(g * b * s * (1.0 + a * (1.0 - s)));
        db.push(g * a * s);
    }
    (da, db)
}
