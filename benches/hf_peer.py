"""HF transformers + PyTorch peer of benches/policy_throughput.rs (same workloads, same ids).

usage: python benches/hf_peer.py [GGUF_PATH]   (needs: pip install torch transformers gguf)
(a) batched greedy generation, 16 rows x 64 new tokens (left padding, KV cache);
(b) one forward + backward of the scorer loss over 16 x 128 tokens (log-probs of the 127 next
    tokens per row + 0.01 * entropy, verl formula), float32, CPU;
(c) (a) again with the model in bfloat16.
"""
import os, sys, time
import torch
from transformers import AutoModelForCausalLM

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
path = sys.argv[1] if len(sys.argv) > 1 else "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
if not os.path.exists(path):
    print(f"skipping: {path} not found (run scripts/fetch-model.sh)")
    sys.exit(0)


def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ids(n, seed, vocab):
    return [((i * 7919 + seed * 104729 + 17) % (vocab - 100) + 100) for i in range(n)]


model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path) or ".", gguf_file=os.path.basename(path),
                                             dtype=torch.float32, attn_implementation="sdpa")
V = model.config.vocab_size
print(f"model {path} | f32 | torch {torch.__version__} | {torch.get_num_threads()} threads")
print(f"{'benchmark':<44} {'seconds':>10} {'tokens/s':>12} {'VmHWM MB':>10}")

# (a) generation
prompts = [ids(20 + (r * 2) % 31, r, V) for r in range(16)]
L = max(len(p) for p in prompts)
x = torch.tensor([[2] * (L - len(p)) + p for p in prompts])
mask = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for p in prompts])
model.eval()
with torch.no_grad():
    t0 = time.time()
    model(input_ids=x, attention_mask=mask)
    t_pre = time.time() - t0
    t0 = time.time()
    model.generate(input_ids=x, attention_mask=mask, do_sample=False, max_new_tokens=64, min_new_tokens=64,
                   pad_token_id=2, eos_token_id=2)
    t_gen = time.time() - t0
n_prompt = sum(len(p) for p in prompts)
print(f"{f'prefill 16 rows ({n_prompt} prompt tokens)':<44} {t_pre:>10.3f} {n_prompt / t_pre:>12.1f} {hwm_mb():>10.0f}")
print(f"{'generate 16 x 64 greedy (incl. prefill)':<44} {t_gen:>10.3f} {16 * 64 / t_gen:>12.1f} {hwm_mb():>10.0f}")

# (b) scorer forward + backward: in float32, then under torch.autocast to bfloat16 (f32 weights,
# bf16 matmuls), the peer of prover's bf16 projection products (`[model] dtype = "bf16"`)
import contextlib

model.train()
seqs = torch.tensor([ids(128, 100 + r, V) for r in range(16)])
for suffix, ctx in [("", contextlib.nullcontext),
                    (" bf16", lambda: torch.autocast("cpu", dtype=torch.bfloat16))]:
    for rep in range(2):
        model.zero_grad(set_to_none=True)
        t0 = time.time()
        with ctx():
            logits = model(input_ids=seqs).logits[:, :-1].float()
        logp = torch.log_softmax(logits, -1)
        lp = logp.gather(-1, seqs[:, 1:, None])[..., 0]
        ent = torch.logsumexp(logits, -1) - (torch.softmax(logits, -1) * logits).sum(-1)
        t_fwd = time.time() - t0
        loss = -(lp.sum() + 0.01 * ent.sum()) / lp.numel()
        loss.backward()
        t_all = time.time() - t0
        print(f"{f'score fwd 16 x 128{suffix} (run {rep})':<44} {t_fwd:>10.3f} {16 * 128 / t_fwd:>12.1f} {hwm_mb():>10.0f}")
        print(f"{f'score fwd+bwd 16 x 128{suffix} (run {rep})':<44} {t_all:>10.3f} {16 * 128 / t_all:>12.1f} {hwm_mb():>10.0f}")
        del logits, logp, lp, ent, loss

# (c) generation in bfloat16 (the "better of f32 and bf16" for the generation target)
model.eval()
model.to(torch.bfloat16)
with torch.no_grad():
    t0 = time.time()
    model.generate(input_ids=x, attention_mask=mask, do_sample=False, max_new_tokens=64, min_new_tokens=64,
                   pad_token_id=2, eos_token_id=2)
    t_gen = time.time() - t0
print(f"{'generate 16 x 64 greedy bf16 (incl. prefill)':<44} {t_gen:>10.3f} {16 * 64 / t_gen:>12.1f} {hwm_mb():>10.0f}")
