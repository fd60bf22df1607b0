"""The PyTorch peer of benches/gpu_policy.rs, run by scripts/device-check.sh on the same GPU machine
(its python3 has torch and transformers; nothing is downloaded): random weights in
Qwen2.5-Math-1.5B's shape (config written here), bf16, the same workloads:
  gen    HF `generate` (sdpa attention, KV cache), 64 rows x 512 new tokens, prompts of 128,
         sampling at temperature 1, top-p 0.95 (min_new_tokens forces every row to the full length)
  fwdbwd PyTorch eager forward+backward of 8 x 3072 tokens, in micro-batches of --micro rows (1 as
         the Rust bench), log-probs of the targets in f32 from bf16 logits
  grpo   one plain PyTorch GRPO step: generate 64 rollouts (8 prompts x 8) of 512 tokens, random 0/1
         rewards, group-normalised advantages, loss -sum(A*logp)/tokens, backward in micro-batches
         of 8 rows, AdamW (fp32 master weights = the model kept in fp32 with bf16 autocast)
Each prints a line and appends a JSON line to --json, with torch.cuda.max_memory_allocated.
"""
import argparse, json, time

import torch
import torch.nn.functional as F
from transformers import Qwen2Config, Qwen2ForCausalLM


def config():
    return Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                       num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                       max_position_embeddings=4096, rope_theta=10000.0, rms_norm_eps=1e-6,
                       tie_word_embeddings=True, attn_implementation="sdpa")


def model(dtype):
    torch.manual_seed(0)
    with torch.device("cuda"):
        m = Qwen2ForCausalLM(config()).to(dtype)
    return m


def prompts(rows, length, salt):
    g = torch.Generator().manual_seed(salt)
    return torch.randint(100, 150000, (rows, length), generator=g).cuda()


def report(args, section, line, res):
    print(f"{section}: {line}", flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps({"section": section, "peer": "pytorch", "result": res}) + "\n")


def gen(m, ids, new):
    torch.cuda.synchronize()
    t = time.time()
    with torch.no_grad():
        out = m.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0,
                         top_p=0.95, top_k=0, max_new_tokens=new, min_new_tokens=new,
                         pad_token_id=0)
    torch.cuda.synchronize()
    return out[:, ids.shape[1]:], time.time() - t


def logp_of(m, seq, n_prompt):
    """Per-token log-probs (f32) of seq[:, n_prompt:] under m; computed per row-chunk."""
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = m(seq).logits[:, n_prompt - 1:-1]
    return torch.log_softmax(logits.float(), -1).gather(-1, seq[:, n_prompt:, None]).squeeze(-1)


def bench_gen(args):
    m = model(torch.bfloat16).eval()
    ids = prompts(64, 128, 0)
    gen(m, ids[:8], 8)
    torch.cuda.reset_peak_memory_stats()
    _, s = gen(m, ids, 512)
    peak = torch.cuda.max_memory_allocated() / 2**30
    tps = 64 * 512 / s
    report(args, "gen", f"HF generate bf16 sdpa, 64 x 512 in {s:.2f} s = {tps:.0f} tok/s; peak {peak:.1f} GiB",
           {"rows": 64, "new_tokens": 512, "seconds": s, "tok_per_s": tps, "peak_gib": peak})
    del m
    torch.cuda.empty_cache()


def fwd_bwd(m, seqs, weights, n_prompt, micro):
    for i in range(0, seqs.shape[0], micro):
        lp = logp_of(m, seqs[i:i + micro], n_prompt)
        loss = -(lp * weights[i:i + micro, None]).sum()
        loss.backward()


def bench_fwdbwd(args):
    m = model(torch.bfloat16).train()
    seqs = prompts(8, 3072, 1)
    w = torch.full((8,), 1.0 / (8 * 3072), device="cuda")
    fwd_bwd(m, seqs[:args.micro], w, 1, args.micro)
    m.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.time()
    fwd_bwd(m, seqs, w, 1, args.micro)
    torch.cuda.synchronize()
    s = time.time() - t
    peak = torch.cuda.max_memory_allocated() / 2**30
    tps = 8 * 3072 / s
    report(args, "fwdbwd", f"PyTorch eager bf16 fwd+bwd 8 x 3072 (micro-batch {args.micro}) in {s:.2f} s = "
           f"{tps:.0f} tok/s; peak {peak:.1f} GiB",
           {"rows": 8, "len": 3072, "micro_batch": args.micro, "seconds": s, "tok_per_s": tps, "peak_gib": peak})
    del m
    torch.cuda.empty_cache()


def bench_grpo(args):
    m = model(torch.float32)  # fp32 masters, bf16 autocast compute
    opt = torch.optim.AdamW(m.parameters(), lr=1e-6, weight_decay=0.01)
    groups, group, new = 8, 8, 512
    ids = prompts(groups, 128, 2).repeat_interleave(group, 0)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.time()
    m.eval()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        comp, gs = gen(m, ids, new)
    m.train()
    rewards = torch.tensor([((i * 2654435761) >> 7) & 1 for i in range(ids.shape[0])],
                           dtype=torch.float32, device="cuda").view(groups, group)
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, unbiased=False, keepdim=True) + 1e-6)).view(-1)
    seqs = torch.cat([ids, comp], 1)
    t1 = time.time()
    fwd_bwd(m, seqs, adv / (seqs.shape[0] * new), ids.shape[1], 8)
    opt.step()
    opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    ts, s = time.time() - t1, time.time() - t
    peak = torch.cuda.max_memory_allocated() / 2**30
    report(args, "grpo", f"plain PyTorch GRPO step, 64 x 512: {s:.2f} s (generation {gs:.2f} s, "
           f"score+backward+AdamW {ts:.2f} s); peak {peak:.1f} GiB",
           {"rollouts": 64, "new_tokens": new, "seconds": s, "generation_s": gs, "train_s": ts, "peak_gib": peak})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sections", nargs="*", default=["gen", "fwdbwd", "grpo"])
    ap.add_argument("--micro", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    for s in args.sections:
        {"gen": bench_gen, "fwdbwd": bench_fwdbwd, "grpo": bench_grpo}[s](args)


if __name__ == "__main__":
    main()
