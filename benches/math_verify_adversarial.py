#!/usr/bin/env python3
"""Math-Verify (pip install math-verify==0.9.0) on the adversarial fixture
tests/fixtures/answer_adversarial.jsonl: prints its false positives and false negatives per
class, the same table as `cargo test --test answer_adversarial -- --nocapture` prints for
prover.

Usage: python3 benches/math_verify_adversarial.py [PATH] [--list]
Math-Verify's defaults: gold = parse("\\boxed{REFERENCE}"), pred = parse(RESPONSE) with its
default extraction (LaTeX and plain expressions, boxed first), verify(gold, pred). Math-Verify
has no boxed-only mode, so for a `"mode": "strict"` pair whose response has no `\\boxed`/`\\fbox`
it is scored "not credited", as prover's strict mode is. Pairs with a `policy` field are
counted apart (their label is the competition one; prover's documented policy may differ).
"""
import json
import os
import sys

from math_verify import parse, verify


def credited(ref: str, resp: str, mode: str) -> bool:
    if mode == "strict" and "\\boxed" not in resp and "\\fbox" not in resp:
        return False
    try:
        gold = parse("\\boxed{" + ref + "}")
        pred = parse(resp)
        return bool(verify(gold, pred))
    except Exception:
        return False


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = args[0] if args else os.path.join(root, "tests", "fixtures", "answer_adversarial.jsonl")
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    by = {}
    fps, fns, pol = [], [], []
    for r in rows:
        got = credited(r["reference"], r["response"], r["mode"])
        c = by.setdefault(r["class"], {"pairs": 0, "fp": 0, "fn": 0})
        c["pairs"] += 1
        if got == r["label"]:
            continue
        if r.get("policy"):
            pol.append((r, got))
            continue
        if got:
            c["fp"] += 1
            fps.append(r)
        else:
            c["fn"] += 1
            fns.append(r)
    print(f"Math-Verify 0.9.0 on {path} ({len(rows)} pairs)")
    print("| class | pairs | false positives | false negatives |")
    print("|---|---|---|---|")
    for k, c in by.items():
        print(f"| {k} | {c['pairs']} | {c['fp']} | {c['fn']} |")
    print(f"| all | {len(rows)} | {len(fps)} | {len(fns)} |")
    print(f"policy pairs decided against the competition label: {len(pol)}")
    if "--list" in sys.argv:
        for r in fps:
            print(f"FP {r['id']}: {r['reference']!r} vs {r['response']!r}")
        for r in fns:
            print(f"FN {r['id']}: {r['reference']!r} vs {r['response']!r}")
        for r, got in pol:
            print(f"POLICY {r['id']} ({r['policy']}): credited={got}: {r['reference']!r} vs {r['response']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
