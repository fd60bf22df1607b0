//! Small tensor helpers whose gradients match PyTorch's conventions.
use candle_core::{DType, Result, Tensor};

/// `clamp(x, lo, hi)` with PyTorch's gradient: passes where `lo ≤ x ≤ hi` (inclusive), zero
/// elsewhere. (candle's `clamp` goes through `maximum`/`minimum`, which halve the gradient on
/// ties with the bound.)
pub fn clamp(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    let below = x.lt(lo)?;
    let above = x.gt(hi)?;
    let lo_t = Tensor::full(lo, x.shape(), x.device())?.to_dtype(x.dtype())?;
    let hi_t = Tensor::full(hi, x.shape(), x.device())?.to_dtype(x.dtype())?;
    let y = below.where_cond(&lo_t, x)?;
    above.where_cond(&hi_t, &y)
}

/// Sum of `x` as a host f64 (for metrics).
pub fn scalar(x: &Tensor) -> Result<f64> {
    x.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()
}
