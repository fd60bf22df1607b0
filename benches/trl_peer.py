"""TRL peer of benches/grpo_step.rs: seconds per GRPOTrainer step with the same settings.

usage: python benches/trl_peer.py [GGUF_PATH]   (needs: pip install torch transformers gguf trl)
SmolLM2-135M in float32 on the CPU (THREADS, default 2); one prompt x G = 8 samples per step,
responses forced to 64 tokens (min_new_tokens = max_completion_length = 64, temperature 1),
a constant-per-sample dummy reward (rewards do not change the work), loss "grpo" with beta 0
(no reference model), no gradient checkpointing, one AdamW step per GRPO step. Runs STEPS
(default 3) steps and prints each step's seconds and the best one; the first includes warm-up.
BF16=1 sets GRPOConfig(bf16=True): torch.autocast to bfloat16 on the CPU (f32 master weights),
the peer of prover's `--dtype bf16`.
"""
import os, sys, time
import torch

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
path = sys.argv[1] if len(sys.argv) > 1 else "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
if not os.path.exists(path):
    print(f"skipping: {path} not found (run scripts/fetch-model.sh)")
    sys.exit(0)

from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

d, f = os.path.dirname(path) or ".", os.path.basename(path)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
if tok.pad_token is None:
    tok.pad_token = tok.eos_token
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
# transformers dequantizes GGUF tensors to float32 on load; the "quantized" marks only say where the
# weights came from, and would make the Trainer refuse full fine-tuning
model.is_quantized = False
model.hf_quantizer = None
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
steps = int(os.environ.get("STEPS", "3"))
prompt = "What is the sum of the first ten positive integers? Answer with a number."
ds = Dataset.from_list([{"prompt": prompt}] * steps)


def reward(completions, **kw):
    return [float(i % 3) for i in range(len(completions))]


class Timer(TrainerCallback):
    def __init__(self):
        self.times = []

    def on_step_begin(self, args, state, control, **kw):
        self.t0 = time.time()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.time() - self.t0)
        print(f"trl grpo step {len(self.times)}: {self.times[-1]:.3f} s", flush=True)


cfg = GRPOConfig(
    output_dir="/tmp/trl_peer_out",
    per_device_train_batch_size=8,
    num_generations=8,
    gradient_accumulation_steps=1,
    max_completion_length=64,
    generation_kwargs={"min_new_tokens": 64},
    temperature=1.0,
    learning_rate=1e-6,
    beta=0.0,
    loss_type="grpo",
    max_steps=steps,
    use_cpu=True,
    bf16=os.environ.get("BF16", "0") == "1",
    fp16=False,
    report_to="none",
    save_strategy="no",
    logging_steps=1000,
    seed=0,
    disable_tqdm=True,
    gradient_checkpointing=False,  # prover does not recompute activations either
)
timer = Timer()
trainer = GRPOTrainer(model=model, reward_funcs=reward, args=cfg, train_dataset=ds,
                      processing_class=tok, callbacks=[timer])
trainer.train()
print(f"trl {__import__('trl').__version__} | torch {torch.__version__} | {torch.get_num_threads()} threads"
      f" | bf16 autocast: {cfg.bf16}")
print(f"TRL_STEP_SECONDS {min(timer.times[1:] or timer.times):.3f}")
