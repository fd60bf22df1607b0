#!/usr/bin/env bash
# One GRPO step, prover vs TRL, same settings (SmolLM2-135M f32, one prompt x G=8, responses
# forced to 64 tokens, one AdamW step), one after the other; prints seconds per step and the ratio.
# usage: scripts/bench-grpo.sh [MODEL.gguf] [SAMPLING_WEIGHTS] [DTYPE]
#   DTYPE f32 (default) or bf16: prover's training projections in bf16 (`[model] dtype`), and
#   TRL with bf16=True (torch.autocast bfloat16), so both sides use the same precision.
#   PYTHON (default /work/venv-peer/bin/python, else python3) needs torch transformers gguf trl.
#   THREADS (default 2) for both sides; STEPS (default 3) steps each, best after the first.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
W=${2:-f32}
DT=${3:-f32}
PY=${PYTHON:-/work/venv-peer/bin/python}
[ -x "$PY" ] || PY=python3
export THREADS=${THREADS:-2} RAYON_NUM_THREADS=${THREADS:-2} STEPS=${STEPS:-3}
ours=$(cargo bench --bench grpo_step -- "$MODEL" --sampling-weights "$W" --dtype "$DT" | tee /dev/stderr \
  | awk '/^GRPO_STEP_SECONDS/ {print $2}')
theirs=$(BF16=$([ "$DT" = bf16 ] && echo 1 || echo 0) "$PY" benches/trl_peer.py "$MODEL" 2>/dev/null \
  | tee /dev/stderr \
  | awk '/^TRL_STEP_SECONDS/ {print $2}')
echo "prover ($W sampling, $DT training): $ours s/step | TRL: $theirs s/step | ratio prover/TRL: $(python3 -c "print(f'{$ours/$theirs:.2f}')")"
