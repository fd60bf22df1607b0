//! The CUDA kernels of `kernels/` (compiled to PTX by build.rs with the `cuda` feature), launched
//! through candle's cudarc on contiguous f32 CUDA tensors. Each has a CPU reference with the same
//! arguments in `kernel_ref.rs`; tests/gpu_kernels.rs compares the two on random inputs.
//!
//! - [`logprob_entropy_fwd`] / [`logprob_entropy_bwd`]: one chunk of `[rows, V]` logits (the
//!   scorer's chunking keeps `[tokens × V]` from ever existing);
//! - [`rmsnorm_fwd`] / [`rmsnorm_bwd`], [`rotary`], [`swiglu_fwd`] / [`swiglu_bwd`].
//!
//! The model runs on CUDA through candle's own kernels (the primitive-op path of `model.rs`,
//! proved equal to the fused CPU ops by tests/policy_precision.rs); these kernels are the fused
//! replacements, checked against their references, to be wired in once measured on a GPU.
use candle_core::cuda_backend::cudarc::driver::{CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::op::BackpropOp;
use candle_core::{CudaDevice, CudaStorage, DType, Layout, Result, Shape, Storage, Tensor};

const LPE: &str = include_str!(concat!(env!("OUT_DIR"), "/logprob_entropy.ptx"));
const RMS: &str = include_str!(concat!(env!("OUT_DIR"), "/rmsnorm.ptx"));
const ROT: &str = include_str!(concat!(env!("OUT_DIR"), "/rotary.ptx"));
const SWI: &str = include_str!(concat!(env!("OUT_DIR"), "/swiglu.ptx"));

fn view<'a, T: CudaDType>(s: &'a Storage, l: &Layout, what: &str) -> Result<CudaView<'a, T>> {
    match s {
        Storage::Cuda(c) => {
            if !l.is_contiguous() {
                candle_core::bail!("{what}: a contiguous tensor is needed");
            }
            let a = l.start_offset();
            Ok(c.as_cuda_slice::<T>()?.slice(a..a + l.shape().elem_count()))
        }
        _ => candle_core::bail!("{what}: a CUDA tensor is needed"),
    }
}

fn device(t: &Tensor) -> Result<CudaDevice> {
    match t.device() {
        candle_core::Device::Cuda(d) => Ok(d.clone()),
        _ => candle_core::bail!("a CUDA tensor is needed"),
    }
}

fn check_f32(ts: &[&Tensor]) -> Result<()> {
    for t in ts {
        if t.dtype() != DType::F32 {
            candle_core::bail!("the kernels take f32 tensors, got {:?}", t.dtype());
        }
    }
    Ok(())
}

fn wrap(
    s: candle_core::cuda_backend::cudarc::driver::CudaSlice<f32>,
    dev: &CudaDevice,
    shape: impl Into<Shape>,
) -> Tensor {
    Tensor::from_storage(
        Storage::Cuda(CudaStorage::wrap_cuda_slice(s, dev.clone())),
        shape,
        BackpropOp::none(),
        false,
    )
}

fn rows_cfg(rows: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (rows as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

fn elems_cfg(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 65_535);
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// `[rows, 4]` (log-prob, entropy, lse, E) for logits `z [rows, V]` f32 and targets `[rows]` u32.
pub fn logprob_entropy_fwd(z: &Tensor, tgt: &Tensor, inv_t: f32) -> Result<Tensor> {
    check_f32(&[z])?;
    let (rows, v) = z.dims2()?;
    let dev = device(z)?;
    let (zs, zl) = z.storage_and_layout();
    let (ts, tl) = tgt.storage_and_layout();
    let zv = view::<f32>(&zs, zl, "logits")?;
    let tv = view::<u32>(&ts, tl, "targets")?;
    let out = dev.alloc_zeros::<f32>(rows * 4)?;
    let f = dev.get_or_load_custom_func("lpe_fwd_f32", "prover_logprob_entropy", LPE)?;
    let vi = v as i32;
    let mut b = f.builder();
    b.arg(&zv).arg(&tv).arg(&out).arg(&vi).arg(&inv_t);
    // SAFETY: the kernel reads rows·V logits and rows targets and writes rows·4 outputs.
    unsafe { b.launch(rows_cfg(rows)) }.w()?;
    Ok(wrap(out, &dev, (rows, 4)))
}

/// `dz [rows, V]` for the forward's `stats [rows, 4]` and the gradient `g [rows, 2]`.
pub fn logprob_entropy_bwd(
    z: &Tensor,
    tgt: &Tensor,
    stats: &Tensor,
    g: &Tensor,
    inv_t: f32,
) -> Result<Tensor> {
    check_f32(&[z, stats, g])?;
    let (rows, v) = z.dims2()?;
    let dev = device(z)?;
    let (zs, zl) = z.storage_and_layout();
    let (ts, tl) = tgt.storage_and_layout();
    let (ss, sl) = stats.storage_and_layout();
    let (gs, gl) = g.storage_and_layout();
    let out = dev.alloc_zeros::<f32>(rows * v)?;
    let f = dev.get_or_load_custom_func("lpe_bwd_f32", "prover_logprob_entropy", LPE)?;
    let vi = v as i32;
    let (zv, tv) = (
        view::<f32>(&zs, zl, "logits")?,
        view::<u32>(&ts, tl, "targets")?,
    );
    let (sv, gv) = (
        view::<f32>(&ss, sl, "stats")?,
        view::<f32>(&gs, gl, "grad")?,
    );
    let mut b = f.builder();
    b.arg(&zv)
        .arg(&tv)
        .arg(&sv)
        .arg(&gv)
        .arg(&out)
        .arg(&vi)
        .arg(&inv_t);
    // SAFETY: reads rows·V, rows, rows·4, rows·2 values; writes rows·V.
    unsafe { b.launch(rows_cfg(rows)) }.w()?;
    Ok(wrap(out, &dev, (rows, v)))
}

/// RMSNorm of `x [rows, h]` with weight `w [h]`.
pub fn rmsnorm_fwd(x: &Tensor, w: &Tensor, eps: f32) -> Result<Tensor> {
    check_f32(&[x, w])?;
    let (rows, h) = x.dims2()?;
    let dev = device(x)?;
    let (xs, xl) = x.storage_and_layout();
    let (ws, wl) = w.storage_and_layout();
    let (xv, wv) = (view::<f32>(&xs, xl, "x")?, view::<f32>(&ws, wl, "w")?);
    let out = dev.alloc_zeros::<f32>(rows * h)?;
    let f = dev.get_or_load_custom_func("rmsnorm_fwd_f32", "prover_rmsnorm", RMS)?;
    let hi = h as i32;
    let mut b = f.builder();
    b.arg(&xv).arg(&wv).arg(&out).arg(&hi).arg(&eps);
    // SAFETY: reads rows·h and h values, writes rows·h.
    unsafe { b.launch(rows_cfg(rows)) }.w()?;
    Ok(wrap(out, &dev, (rows, h)))
}

/// `(dx [rows, h], dw [h])` of RMSNorm for the gradient `g [rows, h]`.
pub fn rmsnorm_bwd(x: &Tensor, w: &Tensor, g: &Tensor, eps: f32) -> Result<(Tensor, Tensor)> {
    check_f32(&[x, w, g])?;
    let (rows, h) = x.dims2()?;
    let dev = device(x)?;
    let (xs, xl) = x.storage_and_layout();
    let (ws, wl) = w.storage_and_layout();
    let (gs, gl) = g.storage_and_layout();
    let (xv, wv, gv) = (
        view::<f32>(&xs, xl, "x")?,
        view::<f32>(&ws, wl, "w")?,
        view::<f32>(&gs, gl, "grad")?,
    );
    let dx = dev.alloc_zeros::<f32>(rows * h)?;
    let dw_rows = dev.alloc_zeros::<f32>(rows * h)?;
    let f = dev.get_or_load_custom_func("rmsnorm_bwd_f32", "prover_rmsnorm", RMS)?;
    let hi = h as i32;
    let mut b = f.builder();
    b.arg(&xv)
        .arg(&wv)
        .arg(&gv)
        .arg(&dx)
        .arg(&dw_rows)
        .arg(&hi)
        .arg(&eps);
    // SAFETY: reads 2·rows·h and h values, writes 2·rows·h.
    unsafe { b.launch(rows_cfg(rows)) }.w()?;
    let dw = wrap(dw_rows, &dev, (rows, h)).sum(0)?;
    Ok((wrap(dx, &dev, (rows, h)), dw))
}

/// Rotary embedding of `x [b, heads, t, d]` with `cos`/`sin` `[b, t, d/2]` (see `kernel_ref`).
pub fn rotary(x: &Tensor, cos: &Tensor, sin: &Tensor, sign: f32, scale: f32) -> Result<Tensor> {
    check_f32(&[x, cos, sin])?;
    let (bn, hn, tn, d) = x.dims4()?;
    let dev = device(x)?;
    let (xs, xl) = x.storage_and_layout();
    let (cs, cl) = cos.storage_and_layout();
    let (ss, sl) = sin.storage_and_layout();
    let (xv, cv, sv) = (
        view::<f32>(&xs, xl, "x")?,
        view::<f32>(&cs, cl, "cos")?,
        view::<f32>(&ss, sl, "sin")?,
    );
    let n = x.elem_count();
    let out = dev.alloc_zeros::<f32>(n)?;
    let f = dev.get_or_load_custom_func("rotary_f32", "prover_rotary", ROT)?;
    let dims = [bn as i32, hn as i32, tn as i32, d as i32];
    let mut b = f.builder();
    b.arg(&xv).arg(&cv).arg(&sv).arg(&out);
    b.arg(&dims[0]).arg(&dims[1]).arg(&dims[2]).arg(&dims[3]);
    b.arg(&sign).arg(&scale);
    // SAFETY: one thread per pair of the n/2 pairs, grid-stride.
    unsafe { b.launch(elems_cfg(n / 2)) }.w()?;
    Ok(wrap(out, &dev, (bn, hn, tn, d)))
}

/// `silu(a)·b`, elementwise.
pub fn swiglu_fwd(a: &Tensor, bt: &Tensor) -> Result<Tensor> {
    check_f32(&[a, bt])?;
    let dev = device(a)?;
    let (as_, al) = a.storage_and_layout();
    let (bs, bl) = bt.storage_and_layout();
    let (av, bv) = (view::<f32>(&as_, al, "a")?, view::<f32>(&bs, bl, "b")?);
    let n = a.elem_count();
    let out = dev.alloc_zeros::<f32>(n)?;
    let f = dev.get_or_load_custom_func("swiglu_fwd_f32", "prover_swiglu", SWI)?;
    let mut b = f.builder();
    b.arg(&av).arg(&bv).arg(&out).arg(&n);
    // SAFETY: n elements, grid-stride.
    unsafe { b.launch(elems_cfg(n)) }.w()?;
    Ok(wrap(out, &dev, a.shape().clone()))
}

/// `(da, db)` of SwiGLU for the gradient `g`.
pub fn swiglu_bwd(a: &Tensor, bt: &Tensor, g: &Tensor) -> Result<(Tensor, Tensor)> {
    check_f32(&[a, bt, g])?;
    let dev = device(a)?;
    let (as_, al) = a.storage_and_layout();
    let (bs, bl) = bt.storage_and_layout();
    let (gs, gl) = g.storage_and_layout();
    let (av, bv, gv) = (
        view::<f32>(&as_, al, "a")?,
        view::<f32>(&bs, bl, "b")?,
        view::<f32>(&gs, gl, "grad")?,
    );
    let n = a.elem_count();
    let da = dev.alloc_zeros::<f32>(n)?;
    let db = dev.alloc_zeros::<f32>(n)?;
    let f = dev.get_or_load_custom_func("swiglu_bwd_f32", "prover_swiglu", SWI)?;
    let mut b = f.builder();
    b.arg(&av).arg(&bv).arg(&gv).arg(&da).arg(&db).arg(&n);
    // SAFETY: n elements, grid-stride.
    unsafe { b.launch(elems_cfg(n)) }.w()?;
    Ok((
        wrap(da, &dev, a.shape().clone()),
        wrap(db, &dev, a.shape().clone()),
    ))
}
