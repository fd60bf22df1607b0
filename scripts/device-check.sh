#!/usr/bin/env bash
# The one script for a lent GPU machine (H100/H200, CUDA 13 driver, PyTorch venv, no Rust).
# Build here first with scripts/build-cuda.sh (it fills dist-cuda/), copy dist-cuda/ into the
# checkout the device tool sends (ignored by git), then one call:
#   run(command="bash scripts/device-check.sh", carry=["dist-cuda"], timeout_s=590)
# Everything goes to $OUT (device-check.log, bench.jsonl, torch.jsonl, summary.txt). The whole
# run fits one 15-minute lease with start-up: each part has its own `timeout`, the parts sum to
# under 560 s, and a part that fails or times out does not stop the others.
#   1. unpack the xz binaries, ldd                                    (20 s)
#   2. CUDA kernel tests vs CPU references + CUDA-vs-CPU parity     (90 s)
#      (tiny models; SmolLM2-135M's shape with random weights; f32 1e-3, bf16 0.05·max|logit|+0.05)
#   3. benches, random weights in Qwen2.5-Math-1.5B's shape, bf16:   (gen 80 s, fwdbwd 80 s, grpo 110 s)
#      generation 64 rows x 512 new tokens; forward+backward 8 x 3072; one GRPO step (64 x 512)
#   4. the PyTorch peer on the same machine (benches/torch_gpu_peer.py): HF generate bf16 sdpa,
#      PyTorch eager forward+backward, a plain PyTorch GRPO step     (170 s)
# Environment: DIST (default dist-cuda), OUT (default ./device-out).
set -uo pipefail
cd "$(dirname "$0")/.."
DIST=${DIST:-dist-cuda}
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device-check.log") 2>&1
t0=$(date +%s)
say() { echo "=== [$(( $(date +%s) - t0 ))s] $*"; }
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
part() { # part NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  say "$name (timeout ${secs}s): $*"
  timeout -k 5 "$secs" "$@"; local rc=$?
  [ $rc -eq 124 ] && summary "$name: TIMED OUT after ${secs}s" || summary "$name: exit $rc"
  return 0
}

say "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nproc; uname -m

say "1. unpack + ldd"
work=/tmp/prover-gpu; rm -rf "$work"; mkdir -p "$work"
for f in "$DIST"/bin/*.xz; do xz -dc "$f" > "$work/$(basename "${f%.xz}")"; done
chmod +x "$work"/*
site=$(python3 -c "import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))" 2>/dev/null)
libs=""
for d in "$site"/nvidia/cu13/lib "$site"/nvidia/*/lib; do [ -d "$d" ] && libs="$libs:$d"; done
export LD_LIBRARY_PATH="${libs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$work/prover" | grep -E "cuda|cublas|curand|nvrtc|not found" || true
if ldd "$work/prover" | grep -q "not found"; then summary "ldd: libraries missing (above)"; else summary "ldd: ok"; fi
"$work/prover" --version || true

say "2. kernels vs CPU references, CUDA-vs-CPU parity"
export PROVER_TINY_MODELS=$PWD/$DIST/tiny-models
tk=$(ls "$work"/gpu_kernels-* "$work"/gpu_kernels 2>/dev/null | head -1)
part kernels 90 "$tk" --test-threads=1 --nocapture

say "3. benches (Qwen2.5-Math-1.5B shape, random weights, bf16)"
gb=$(ls "$work"/gpu_policy-* "$work"/gpu_policy 2>/dev/null | head -1)
export PROVER_BENCH_JSON=$OUT/bench.jsonl
part bench-gen 80 "$gb" gen
part bench-fwdbwd 80 "$gb" fwdbwd
part bench-grpo 110 "$gb" grpo

say "4. PyTorch peer"
PYTHONUNBUFFERED=1 part torch-peer 170 python3 benches/torch_gpu_peer.py --json "$OUT/torch.jsonl"

say "summary"
cat "$OUT/summary.txt"
for f in "$OUT"/bench.jsonl "$OUT"/torch.jsonl; do [ -f "$f" ] && cat "$f"; done
say "done"
