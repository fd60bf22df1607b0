//! With the `cuda` feature: compiles kernels/*.cu to PTX with nvcc (found as $NVCC,
//! $CUDA_ROOT/bin/nvcc or `nvcc` on PATH) for compute capability $CUDA_COMPUTE_CAP (default 90:
//! H100/H200) into OUT_DIR, where src/policy/cuda_kernels.rs embeds them. Without the feature it
//! does nothing (the CPU build needs no CUDA toolkit).
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    println!("cargo:rerun-if-changed=kernels");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| {
        match std::env::var("CUDA_ROOT").or_else(|_| std::env::var("CUDA_PATH")) {
            Ok(root) => format!("{root}/bin/nvcc"),
            Err(_) => "nvcc".to_string(),
        }
    });
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".to_string());
    for name in ["logprob_entropy", "rmsnorm", "rotary", "swiglu"] {
        let src = format!("kernels/{name}.cu");
        let ptx = out.join(format!("{name}.ptx"));
        let status = Command::new(&nvcc)
            .args([
                "-ptx",
                "-O3",
                "-Ikernels",
                &format!("-arch=sm_{cap}"),
                &src,
                "-o",
            ])
            .arg(&ptx)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "running {nvcc} for {src}: {e}; the `cuda` feature needs a CUDA toolkit \
                     (scripts/build-cuda.sh sets one up from PyPI wheels)"
                )
            });
        assert!(status.success(), "{nvcc} failed on {src} ({status})");
    }
}
