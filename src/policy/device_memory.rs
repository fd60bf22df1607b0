//! Memory of the policy's device, for `metrics.jsonl`'s `peak_mem_bytes` (one value per step):
//! - CPU runs: the process's peak resident set size during the step (`VmHWM` of
//!   `/proc/self/status`, reset after each reading through `/proc/self/clear_refs`, Linux); `None`
//!   where `/proc` does not say;
//! - CUDA runs (a device opened by `policy::device::open_device`): the device memory in use at
//!   the end of the step (`total − free` of `cuMemGetInfo`: candle's and the driver's pools
//!   included). That is not a true peak within the step: the GPU benchmark (benches/gpu_policy.rs)
//!   polls it every 5 ms for one.
use std::sync::OnceLock;

use candle_core::Device;

static CUDA_DEVICE: OnceLock<Device> = OnceLock::new();

/// Registers the CUDA device whose memory the metrics report (the first one opened).
pub fn register(dev: &Device) {
    if dev.is_cuda() {
        let _ = CUDA_DEVICE.set(dev.clone());
    }
}

/// The step's memory figure (see the module docs), and resets the CPU peak for the next step.
pub fn take_step_peak() -> Option<u64> {
    if let Some(dev) = CUDA_DEVICE.get() {
        return cuda_in_use(dev);
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    // "5" resets the peak RSS to the current RSS (Linux ≥ 4.0); failure only makes it cumulative
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    Some(kb * 1024)
}

#[cfg(feature = "cuda")]
fn cuda_in_use(dev: &Device) -> Option<u64> {
    let Device::Cuda(cd) = dev else { return None };
    let ctx = cd.cuda_stream().context().clone();
    ctx.bind_to_thread().ok()?;
    let (free, total) = ctx.mem_get_info().ok()?;
    Some((total - free) as u64)
}

#[cfg(not(feature = "cuda"))]
fn cuda_in_use(_: &Device) -> Option<u64> {
    None
}
