#!/usr/bin/env bash
# Build prover for an NVIDIA GPU (CUDA 13, sm_90: H100/H200) on a machine WITHOUT a GPU or a CUDA
# toolkit, following ../shared/GPU.md:
#   1. CUDA 13 toolkit from PyPI wheels, into a cache OUTSIDE the repo
#      ($PROVER_CUDA_CACHE, default $HOME/.cache/prover-cuda; ~700 MB of downloads, once);
#   2. a link-time stub for libcuda, generated with `nm` from cudarc's rlib (the real
#      libcuda.so.1 comes with the driver on the GPU machine);
#   3. `cargo build --release --features cuda` and the test/bench binaries the device check runs;
#   4. strip, then xz into dist-cuda/ (ignored by git), with the tiny model fixtures, ready to be
#      carried to the GPU machine by scripts/device-check.sh.
# Usage: scripts/build-cuda.sh [--toolkit-only]
# Environment: PROVER_CUDA_CACHE, CUDA_COMPUTE_CAP (default 90), CARGO_BUILD_JOBS (default 2),
#              PROVER_CUDA_TARGET_DIR (cargo target dir; default target/).
set -euo pipefail
t0=$(date +%s)
say() { echo "[build-cuda $(( $(date +%s) - t0 ))s] $*"; }
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${PROVER_CUDA_CACHE:-$HOME/.cache/prover-cuda}
case "$cache" in "$repo"/*) echo "PROVER_CUDA_CACHE must be outside the repo ($repo)" >&2; exit 2;; esac
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
target=${PROVER_CUDA_TARGET_DIR:-$repo/target}
dist=$repo/dist-cuda

# ---- 1. toolkit ---------------------------------------------------------------------------------
wheels=(nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
        nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.0.0.19
        nvidia-cuda-nvrtc==13.0.88 nvidia-curand==10.4.0.35)
T=$cache/site/nvidia/cu13
if [ ! -x "$T/bin/nvcc" ] || [ ! -e "$cache/.unpacked" ]; then
  mkdir -p "$cache/whl"
  say "downloading ${#wheels[@]} CUDA 13 wheels into $cache/whl"
  python3 -m pip download -q --no-deps -d "$cache/whl" "${wheels[@]}"
  say "unpacking"
  for w in "$cache"/whl/*.whl; do unzip -q -o "$w" -d "$cache/site"; done
  touch "$cache/.unpacked"
fi
( cd "$T/lib" && for l in cublas cublasLt cudart nvrtc; do ln -sf lib$l.so.13 lib$l.so; done
  ln -sf libcurand.so.10 libcurand.so )
say "toolkit: $("$T/bin/nvcc" --version | tail -2 | head -1); wheels $(du -sh "$cache/whl" | cut -f1)"
[ "${1:-}" = "--toolkit-only" ] && exit 0

export PATH=$T/bin:$PATH CUDA_ROOT=$T CUDA_PATH=$T CUDA_HOME=$T
stub=$cache/stub
mkdir -p "$stub"

# ---- 2. libcuda stub ----------------------------------------------------------------------------
# cudarc must be compiled before its undefined cu* symbols can be listed: build the library first
# (an rlib links nothing), then collect `U cu…` from cudarc's rlib. RUSTFLAGS stay the same for
# every cargo call below (a change would rebuild everything).
export RUSTFLAGS="-L $T/lib -L $stub"
cd "$repo"
say "cargo build --release --features cuda --lib (dependencies, candle's CUDA kernels; CARGO_BUILD_JOBS=$CARGO_BUILD_JOBS)"
cargo build --release --features cuda --lib --target-dir "$target"
rlib=$(ls -t "$target"/release/deps/libcudarc-*.rlib | head -1)
nm "$rlib" 2>/dev/null | awk '$1=="U" && $2 ~ /^cu[A-Z]/ {print $2}' | sort -u > "$stub/syms.txt"
n=$(wc -l < "$stub/syms.txt")
[ "$n" -gt 0 ] || { echo "no cu* symbols found in $rlib" >&2; exit 1; }
awk '{print "void " $1 "(void){}"}' "$stub/syms.txt" > "$stub/stub.c"
gcc -shared -fPIC -o "$stub/libcuda.so" -Wl,-soname,libcuda.so.1 "$stub/stub.c"
say "libcuda stub: $n symbols from $(basename "$rlib")"

# ---- 3. build -----------------------------------------------------------------------------------
say "cargo build --release --features cuda --bin prover"
cargo build --release --features cuda --bin prover --target-dir "$target"
# The test and bench binaries the device check runs (tests/gpu_kernels.rs, tests/policy_precision.rs,
# benches/gpu_policy.rs).
say "test and bench binaries"
cargo test --release --features cuda --no-run --target-dir "$target" \
  --test gpu_kernels --test policy_precision --bench gpu_policy \
  --message-format=json-render-diagnostics > "$stub/test-build.json"
say "built"

# ---- 4. strip + xz ------------------------------------------------------------------------------
rm -rf "$dist"; mkdir -p "$dist/bin"
cp "$target/release/prover" "$dist/bin/prover"
python3 - "$stub/test-build.json" "$dist/bin" <<'PY'
import json, shutil, sys
for line in open(sys.argv[1]):
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in ("gpu_kernels", "gpu_policy"):
        shutil.copy(m["executable"], f"{sys.argv[2]}/{m['target']['name']}")
PY
raw=$(du -ch "$dist"/bin/* | tail -1 | cut -f1)
strip "$dist"/bin/*
stripped=$(du -ch "$dist"/bin/* | tail -1 | cut -f1)
xz -T"$CARGO_BUILD_JOBS" -6 "$dist"/bin/*
# The tiny model fixtures (a few MB) travel too: the forward-parity check reads them.
fx=$repo/../shared/fixtures/tiny-models
for m in tiny-llama tiny-qwen2; do [ -d "$fx/$m" ] && mkdir -p "$dist/tiny-models/$m" && cp -L "$fx/$m"/config.json "$fx/$m"/model.safetensors "$dist/tiny-models/$m/"; done
cp "$repo/scripts/device-check.sh" "$repo/benches/torch_gpu_peer.py" "$dist/" 2>/dev/null || true
ls -l "$dist"/bin
say "done: raw $raw, stripped $stripped, dist-cuda/ $(du -sh "$dist" | cut -f1) (carry limit 64 MiB)"
