#!/usr/bin/env python3
"""Peer benchmark: Math-Verify (pip install math-verify) on the same synthetic pairs as
`cargo bench --bench answer_throughput`. Prints pairs/s and the count agreeing with labels.

Usage: python3 benches/math_verify_peer.py [PATH] [--limit N]
Default PATH: ../shared/fixtures/answers/synthetic_pairs.jsonl (relative to the repo root).
Uses plain verify(parse(gold), parse(pred)) with Math-Verify's defaults, single process.
"""
import json
import os
import sys
import time

from math_verify import parse, verify


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    limit = None
    if "--limit" in sys.argv:
        limit = int(sys.argv[sys.argv.index("--limit") + 1])
        args = [a for a in args if a != str(limit)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = args[0] if args else os.path.join(root, "..", "shared", "fixtures", "answers", "synthetic_pairs.jsonl")
    if not os.path.exists(path):
        print(f"skipping: {path} not found", file=sys.stderr)
        return 0
    rows = [json.loads(l) for l in open(path) if l.strip()]
    if limit:
        rows = rows[:limit]
    agree = 0
    start = time.perf_counter()
    for r in rows:
        try:
            ok = bool(verify(parse(r["gold"]), parse(r["pred"])))
        except Exception:
            ok = False
        agree += ok == bool(r["expected"])
    secs = time.perf_counter() - start
    print("| checker | threads | pairs | pairs/s | agree with label |")
    print("|---|---|---|---|---|")
    print(f"| Math-Verify 0.9.0 | 1 | {len(rows)} | {len(rows) / secs:.0f} | {agree}/{len(rows)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
