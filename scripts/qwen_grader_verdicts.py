#!/usr/bin/env python3
"""Regenerates tests/fixtures/qwen_grader/verdicts.jsonl: the verdicts of the Qwen2.5-Math
evaluation's own code on the (response, reference) pairs of tests/fixtures/qwen_grader/pairs.jsonl.

Needs a checkout of QwenLM/Qwen2.5-Math (or ypwang61/One-Shot-RLVR's Qwen2.5-Eval/) — not part of
this repository — and its Python requirements in a throwaway venv:

    python3 -m venv /tmp/qwen-venv
    /tmp/qwen-venv/bin/pip install sympy==1.12 antlr4-python3-runtime==4.11.1 regex \
        word2number numpy
    /tmp/qwen-venv/bin/pip install --no-deps -e $QWEN_EVAL_DIR/latex2sympy
    QWEN_EVAL_DIR=/path/to/Qwen2.5-Math/evaluation /tmp/qwen-venv/bin/python \
        scripts/qwen_grader_verdicts.py

What runs is theirs: parser.extract_answer, parser.strip_string, grader.math_equal. The glue
below follows math_eval.py (stop-word cut, the second strip_string, the A-E handling) and
parse_ground_truth (which reference normalisation applies), with evaluate.py's 3 s limit per
pair (a timeout counts as wrong there too).
"""
import json
import os
import signal
import sys

EVAL_DIR = os.environ.get("QWEN_EVAL_DIR")
if not EVAL_DIR or not os.path.isfile(os.path.join(EVAL_DIR, "grader.py")):
    sys.exit("set QWEN_EVAL_DIR to the folder holding Qwen's parser.py and grader.py "
             "(Qwen2.5-Math/evaluation)")
sys.path.insert(0, EVAL_DIR)
from parser import extract_answer, strip_string, choice_answer_clean, STRIP_EXCEPTIONS  # noqa: E402
from grader import math_equal  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "qwen_grader")
STOP_WORDS = ["</s>", "<|im_end|>", "<|endoftext|>"]  # math_eval.py line 237
DATA_NAME = {"answer": "aime24", "math": "math", "minerva": "minerva_math"}


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def is_multi_choice(answer):
    return all(c in ["A", "B", "C", "D", "E"] for c in answer)


def ground_truth(reference, data_name):
    # parse_ground_truth: math / minerva_math extract the answer from the solution.
    if data_name in ["math", "minerva_math"]:
        gt = extract_answer("\\boxed{" + reference + "}", data_name)
    else:
        gt = reference
    if data_name not in STRIP_EXCEPTIONS:
        return strip_string(gt, skip_unit=data_name == "carp_en")
    return gt.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")


def grade(response, reference, data_name):
    code = response.strip()
    for w in STOP_WORDS:
        if w in code:
            code = code.split(w)[0].strip()
    pred = extract_answer(code, data_name)
    pred = strip_string(pred, skip_unit=data_name in STRIP_EXCEPTIONS)
    gt = ground_truth(reference, data_name)
    if gt in ["A", "B", "C", "D", "E"] and pred not in ["A", "B", "C", "D", "E"]:
        pred = choice_answer_clean(code)
    elif is_multi_choice(gt) and not is_multi_choice(pred):
        pred = "".join(c for c in pred if c in ["A", "B", "C", "D", "E"])
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(3)
    try:
        ok = bool(math_equal(pred, gt))
    except Timeout:
        ok = False
    finally:
        signal.alarm(0)
    return pred, gt, ok


def main():
    rows = [json.loads(l) for l in open(os.path.join(FIX, "pairs.jsonl"), encoding="utf-8")]
    out = []
    for r in rows:
        pred, gt, ok = grade(r["response"], r["reference"], DATA_NAME[r["data"]])
        out.append({"id": r["id"], "pred": pred, "gt": gt, "correct": ok})
    with open(os.path.join(FIX, "verdicts.jsonl"), "w", encoding="utf-8") as f:
        for o in out:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(f"{len(out)} pairs, {sum(o['correct'] for o in out)} correct by Qwen's math_equal")


if __name__ == "__main__":
    main()
