//! Trainable projections with bf16 products on the CPU (`[model] dtype = "bf16"` on a CPU with
//! AVX512-BF16): autocast-style mixed precision for the linear layers of the f32 training model.
//! Master weights, activations between layers, gradients and the optimizer stay f32; only the
//! three matrix products of each projection round their two operands to bf16 and sum the exact
//! bf16·bf16 products in f32 ([`crate::policy::bf16_matmul`], `vdpbf16ps`). For `x [m, k]`,
//! `W [n, k]` and the gradient `g = ∂L/∂y [m, n]`:
//!
//! - forward: `y = bf16(x) · bf16(W)ᵀ`;
//! - input gradient: `∂L/∂x = bf16(g) · bf16(W)` (`[m, k]`);
//! - weight gradient: `∂L/∂W = bf16(g)ᵀ · bf16(x)` (`[n, k]`), summed over the `m` rows in f32.
//!
//! This is what `torch.autocast(dtype=torch.bfloat16)` does to `nn.Linear`, and the products run
//! at about twice the f32 matmul's rate on this kernel. Each product packs its right-hand
//! operand (`W`, `Wᵀ` or `xᵀ`) into the kernel's bf16 pair layout on the fly; the left-hand
//! rows are packed by the kernel.
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::bf16_matmul::Bf16Matrix;

/// Whether this CPU can run bf16 projections at speed (AVX512-BF16).
pub fn available() -> bool {
    Bf16Matrix::kernel_available()
}

/// `y [m, n] = x [m, k] · W [n, k]ᵀ` with bf16 products, differentiable in `x` and `W`. Both
/// must be f32 on the CPU; `x` is made contiguous.
pub fn bf16_linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&w.contiguous()?, Product::Forward)
}

/// Which of the three products an op computes (the operand names follow the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Product {
    /// `(x [m, k], W [n, k]) → x·Wᵀ [m, n]`.
    Forward,
    /// `(g [m, n], W [n, k]) → g·W [m, k]`.
    InputGrad,
    /// `(g [m, n], x [m, k]) → gᵀ·x [n, k]`.
    WeightGrad,
}

fn f32_matrix<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<(&'a [f32], usize, usize)> {
    let x = super::ops::f32_slice(s, l, &format!("bf16-linear ({what})"))?;
    let &[r, c] = l.shape().dims() else {
        candle_core::bail!("bf16-linear: {what} must be 2-d, got {:?}", l.shape());
    };
    Ok((x, r, c))
}

/// `a [r, c]` transposed into a new row-major `[c, r]`.
fn transpose(a: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut t = vec![0f32; r * c];
    const B: usize = 32;
    t.par_chunks_mut((B * r).max(1))
        .enumerate()
        .for_each(|(blk, out)| {
            let c0 = blk * B;
            let cn = out.len() / r.max(1);
            for i0 in (0..r).step_by(B) {
                for j in 0..cn {
                    for i in i0..(i0 + B).min(r) {
                        out[j * r + i] = a[i * c + c0 + j];
                    }
                }
            }
        });
    t
}

impl CustomOp2 for Product {
    fn name(&self) -> &'static str {
        match self {
            Product::Forward => "bf16-linear",
            Product::InputGrad => "bf16-linear-input-grad",
            Product::WeightGrad => "bf16-linear-weight-grad",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (a, m, a_cols) = f32_matrix(s1, l1, "the left operand")?;
        let (b, b_rows, b_cols) = f32_matrix(s2, l2, "the right operand")?;
        let err = |e: String| candle_core::Error::Msg(format!("{}: {e}", self.name()));
        let (y, rows, cols) = match self {
            Product::Forward => {
                let (n, k) = (b_rows, b_cols);
                if a_cols != k {
                    candle_core::bail!("bf16-linear: x has {a_cols} columns, W has {k}");
                }
                let w = Bf16Matrix::from_f32(b, n, k).map_err(err)?;
                (w.matmul(a, m).map_err(err)?, m, n)
            }
            Product::InputGrad => {
                let (n, k) = (b_rows, b_cols);
                if a_cols != n {
                    candle_core::bail!("bf16-linear: g has {a_cols} columns, W has {n} rows");
                }
                let wt = Bf16Matrix::from_f32_transposed(b, n, k).map_err(err)?;
                (wt.matmul(a, m).map_err(err)?, m, k)
            }
            Product::WeightGrad => {
                let (n, k) = (a_cols, b_cols);
                if b_rows != m {
                    candle_core::bail!("bf16-linear: g has {m} rows, x has {b_rows}");
                }
                let xt = Bf16Matrix::from_f32_transposed(b, m, k).map_err(err)?;
                let gt = transpose(a, m, n);
                (xt.matmul(&gt, n).map_err(err)?, n, k)
            }
        };
        Ok((CpuStorage::F32(y), Shape::from((rows, cols))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        if *self != Product::Forward {
            candle_core::bail!("{}: has no backward", self.name());
        }
        let g = g.detach().contiguous()?;
        let (x, w) = (x.detach(), w.detach());
        let gx = g.apply_op2_no_bwd(&w, &Product::InputGrad)?;
        let gw = g.apply_op2_no_bwd(&x, &Product::WeightGrad)?;
        Ok((Some(gx), Some(gw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_of_odd_shapes() {
        for (r, c) in [(1, 1), (3, 70), (65, 33), (40, 1)] {
            let a: Vec<f32> = (0..r * c).map(|i| i as f32).collect();
            let t = transpose(&a, r, c);
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(t[j * r + i], a[i * c + j], "{r}x{c} at ({i}, {j})");
                }
            }
        }
    }
}
