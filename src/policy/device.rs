//! Where and in what precision the policy computes: `--device cpu|cuda[:N]` / `[model] device`
//! and `--dtype f32|bf16|f16` / `[model] dtype`.
//!
//! Policy (what each build serves):
//! - the default (CPU) build: `device = "cpu"` with `dtype = "f32"`, or `dtype = "bf16"` on a
//!   CPU with AVX512-BF16. `cuda` is refused with the way to get a CUDA build
//!   (`scripts/build-cuda.sh`).
//! - the `cuda` build (`cargo build --release --features cuda`): also `cuda[:N]` with `f32`,
//!   `bf16` or `f16`.
//! - `bf16` on the CPU means bf16 products in the training model's projections
//!   ([`crate::policy::bf16_linear`], autocast-style: f32 tensors, operands rounded to bf16 at
//!   each product, f32 sums; [`crate::policy::model::Transformer::new_bf16_projections`]). It is
//!   served only where the CPU has AVX512-BF16 (elsewhere refused with a message). Decoding on
//!   the CPU is unaffected: its precision is `[sampling] weights` / `--sampling-weights`
//!   ([`inference_dtype`] is f32 there).
//! - `f16` on the CPU is refused by the command line and the run config (candle's CPU
//!   half-precision matmuls are several times slower than f32, so such a run would only be slower
//!   and less precise). The library still computes in it on the CPU
//!   ([`crate::policy::model::Transformer::new`] with `DType::F16`): the mixed-precision tests use
//!   that to check master/compute handling without a GPU.
//!
//! Whatever the compute dtype, master weights and AdamW moments stay f32 (`ParamStore`,
//! `rl/optimizer.rs`), and log-softmax, entropy, loss, KL and advantages are computed in f32
//! (`scorer.rs` casts the hidden rows and output matrix to f32 chunk by chunk).
use candle_core::{DType, Device};

/// A parsed `device` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The CPU.
    Cpu,
    /// CUDA device ordinal `N`.
    Cuda(usize),
}

/// Whether this binary was built with the `cuda` feature.
pub const CUDA_BUILD: bool = cfg!(feature = "cuda");

/// Parses `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
pub fn parse_device(s: &str) -> Result<DeviceSpec, String> {
    match s.trim() {
        "cpu" => Ok(DeviceSpec::Cpu),
        "cuda" => Ok(DeviceSpec::Cuda(0)),
        d => match d.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => Ok(DeviceSpec::Cuda(n)),
            _ => Err(format!(
                "device {d:?}: expected \"cpu\", \"cuda\" or \"cuda:N\" (N = GPU ordinal)"
            )),
        },
    }
}

/// Parses `f32`, `bf16` or `f16`.
pub fn parse_dtype(s: &str) -> Result<DType, String> {
    match s.trim() {
        "f32" => Ok(DType::F32),
        "bf16" => Ok(DType::BF16),
        "f16" => Ok(DType::F16),
        d => Err(format!(
            "dtype {d:?}: expected \"f32\", \"bf16\" or \"f16\""
        )),
    }
}

/// The name of a compute dtype as the config spells it.
pub fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        _ => "f32",
    }
}

/// Checks that this build serves `dtype` on `device` (see the module docs), without touching a
/// GPU. The error says what to do.
pub fn check_servable(device: DeviceSpec, dtype: DType) -> Result<(), String> {
    match device {
        DeviceSpec::Cuda(n) if !CUDA_BUILD => Err(format!(
            "device = \"cuda:{n}\": this binary was built without CUDA; build the GPU binary with \
             scripts/build-cuda.sh (or `cargo build --release --features cuda` with a CUDA \
             toolkit), or use device \"cpu\""
        )),
        DeviceSpec::Cpu if dtype == DType::BF16 && !super::bf16_linear::available() => Err(
            "dtype = \"bf16\" on the CPU: bf16 products need a CPU with AVX512-BF16, and this \
             one lacks it; use dtype \"f32\", or device \"cuda\" with a CUDA build \
             (scripts/build-cuda.sh)"
                .to_string(),
        ),
        DeviceSpec::Cpu if dtype != DType::F32 && dtype != DType::BF16 => Err(format!(
            "dtype = \"{}\" on the CPU: the CPU computes in f32 (or bf16 products with \
             AVX512-BF16) only, its f16 matmuls being slower than f32; use dtype \"f32\" or \
             \"bf16\", or device \"cuda\" with a CUDA build (scripts/build-cuda.sh), where f32, \
             bf16 and f16 are served",
            dtype_name(dtype)
        )),
        _ => Ok(()),
    }
}

/// The dtype of the inference (decoding, KL reference) models for a compute `dtype` on
/// `device`: on the CPU, bf16 applies to the training model's products only and decoding runs in
/// f32 (its precision is the sampling weights'); elsewhere `dtype` itself.
pub fn inference_dtype(device: &Device, dtype: DType) -> DType {
    if device.is_cpu() && dtype == DType::BF16 {
        DType::F32
    } else {
        dtype
    }
}

/// Parses and checks `device`/`dtype` strings, then opens the device (CUDA: creates its
/// context; fails with a message when no such GPU is present).
pub fn open(device: &str, dtype: &str) -> Result<(Device, DType), String> {
    let spec = parse_device(device)?;
    let dt = parse_dtype(dtype)?;
    check_servable(spec, dt)?;
    Ok((open_device(spec)?, dt))
}

/// Opens a parsed device.
pub fn open_device(spec: DeviceSpec) -> Result<Device, String> {
    match spec {
        DeviceSpec::Cpu => Ok(Device::Cpu),
        DeviceSpec::Cuda(n) => Device::new_cuda(n)
            .inspect(super::device_memory::register)
            .map_err(|e| {
                format!(
                "device \"cuda:{n}\": could not open the GPU ({e}); check `nvidia-smi` and that \
                 libcuda.so.1 and the CUDA 13 libraries are on LD_LIBRARY_PATH (see README, \
                 \"GPU build\")"
            )
            }),
    }
}
