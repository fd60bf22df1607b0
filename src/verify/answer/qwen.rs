//! The Qwen2.5-Math evaluation grader (`prover eval math --grader qwen`): a re-implementation of
//! `extract_answer` + `strip_string` (evaluation/parser.py) and `math_equal` (evaluation/grader.py)
//! of QwenLM/Qwen2.5-Math, as copied into ypwang61/One-Shot-RLVR `Qwen2.5-Eval/`, so that
//! accuracies are comparable with the papers that report them. Pure functions, no I/O.
//!
//! **Not a reward.** This grader reproduces a published protocol, leniencies included (the last
//! number of an unboxed response counts; ×100 and ÷100 of a number count; units are dropped by a
//! word list). RL rewards use the strict [`super::AnswerChecker`].
//!
//! The pipeline for one response (math_eval.py `main` → `run_execute` → evaluate.py):
//! 1. `code = response.strip()`, cut at the first of `</s>`, `<|im_end|>`, `<|endoftext|>`
//!    (math_eval.py lines 237, 367-373);
//! 2. `extract_answer` (parser.py 499-569), in this order: the text between
//!    "final answer is $" and "$. I hope"; the last `boxed` (braces balanced, or up to `$` for
//!    `\boxed 5`); after the last "he answer is"; after the last "final answer is"; after the first
//!    "答案是"; the last match of `-?\d*\.?\d+` with commas removed. Then newlines + following
//!    blanks are removed, one leading `:` and one trailing `.` and `/` are dropped, and the result
//!    goes through `strip_string`;
//! 3. `strip_string` once more (parser.py 736);
//! 4. the reference: `strip_string(answer)` (parser.py 644); for MATH the boxed answer of the
//!    solution through the tail of step 2 and `strip_string` again; for Minerva through the tail
//!    of step 2 only, units kept (parser.py 586-588, 643-650);
//! 5. `math_equal(pred, gt)` (grader.py 73-259): equal lowercased strings; a multiple-choice
//!    letter; **numbers**: both parse as floats (commas removed, `%` ÷ 100) and the prediction is
//!    within relative tolerance 1e-4 (`math.isclose(rel_tol=1e-4)`) of gt/100, gt or gt·100 —
//!    and when both are numbers this decides; then brackets and braces stripped and compared;
//!    tuples/intervals element-wise; matrices entry-wise; equations `a = b` by
//!    `a - b` ≡ ±(`c - d`); a one- or two-letter `x = …` side compared by its value; finally
//!    **symbolic equality**.
//!
//! Symbolic equality in Qwen is sympy (`parse_latex`, `parse_expr`, `latex2sympy`, `simplify`,
//! `N` with `isclose(rel_tol=1e-4)`). Here it is the strict checker's parser and comparison with
//! the same 1e-4 relative tolerance and no rounding rules; the disagreements this causes on the
//! agreement fixture (tests/fixtures/qwen_grader/) are listed in the README.
//!
//! Python semantics kept: regular expressions are re-implemented with their backtracking
//! outcome (leftmost match, greedy / lazy as written); `\d` and `\w` are approximated by ASCII
//! digits and Unicode alphanumerics; `word2number.w2n.word_to_num` is ported.
use super::{AnswerChecker, CheckerConfig};

/// Which reference convention of Qwen's `parse_ground_truth` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QwenData {
    /// A bare answer field (aime24, amc23, olympiadbench, gsm8k, …): `strip_string(answer)`.
    #[default]
    Answer,
    /// MATH / MATH500: the answer boxed in the solution, through `extract_answer`'s tail.
    Math,
    /// minerva_math: as `Math`, but units are kept (`skip_unit`, parser.py 568, 572).
    Minerva,
}

impl QwenData {
    fn skip_unit(self) -> bool {
        self == QwenData::Minerva
    }
}

/// The outcome of grading one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QwenGrade {
    pub correct: bool,
    /// The prediction after extraction and both `strip_string` passes.
    pub pred: String,
    /// The reference after Qwen's normalisation.
    pub gt: String,
}

/// Stop words of the Qwen evaluation (math_eval.py line 237).
pub const QWEN_STOP_WORDS: [&str; 3] = ["</s>", "<|im_end|>", "<|endoftext|>"];

/// Longest response tail (bytes) that is graded: the unit removal of `strip_string` costs
/// O(length × units), and 3072 tokens rarely exceed 16 KiB. A longer response keeps its last
/// 64 KiB, where the final answer is.
const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// Grades one response against a reference as the Qwen2.5-Math evaluation does.
pub fn grade(response: &str, reference: &str, data: QwenData) -> QwenGrade {
    let code = post_process_response(response);
    let skip = data.skip_unit();
    let mut pred = strip_string(&extract_answer(&code, data), skip);
    let gt = reference_answer(reference, data);
    // math_eval.py 389-401: multiple-choice references.
    if is_choice_letter(&gt) && !is_choice_letter(&pred) {
        pred = parser_choice_answer_clean(&code);
    } else if is_multi_choice(&gt) && !is_multi_choice(&pred) {
        pred = pred.chars().filter(|c| "ABCDE".contains(*c)).collect();
    }
    QwenGrade {
        correct: math_equal(&pred, &gt),
        pred,
        gt,
    }
}

/// The response as math_eval.py keeps it: stripped and cut at the first stop word (then, if
/// still longer than `MAX_RESPONSE_BYTES`, its tail).
pub fn post_process_response(response: &str) -> String {
    let mut code = response.trim();
    for w in QWEN_STOP_WORDS {
        if let Some(pos) = code.find(w) {
            code = code[..pos].trim();
        }
    }
    tail_within(code, MAX_RESPONSE_BYTES).trim().to_string()
}

/// The last `max` bytes of `s` (at a character boundary).
fn tail_within(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The reference after `parse_ground_truth`.
pub fn reference_answer(reference: &str, data: QwenData) -> String {
    match data {
        QwenData::Answer => strip_string(reference, false),
        // extract_answer on the solution, then strip_string again (parser.py 586-588, 644)
        QwenData::Math => strip_string(&extracted_tail(reference.to_string(), data), false),
        // STRIP_EXCEPTIONS: only extract_answer's own strip_string (parser.py 645-650)
        QwenData::Minerva => extracted_tail(reference.to_string(), data)
            .replace("\\neq", "\\ne")
            .replace("\\leq", "\\le")
            .replace("\\geq", "\\ge"),
    }
}

fn is_choice_letter(s: &str) -> bool {
    matches!(s, "A" | "B" | "C" | "D" | "E")
}

/// math_eval.py `is_multi_choice`: every character is one of A–E (true for "").
fn is_multi_choice(s: &str) -> bool {
    s.chars().all(|c| "ABCDE".contains(c))
}

/// Python `str.split(sep)[-1]`: the text after the last occurrence.
fn after_last<'a>(s: &'a str, sep: &str) -> &'a str {
    s.rfind(sep).map(|p| &s[p + sep.len()..]).unwrap_or(s)
}

/// parser.py `extract_answer` (data names outside the multiple-choice sets).
pub fn extract_answer(pred_str: &str, data: QwenData) -> String {
    let pred_str = pred_str.replace("\u{043a}\u{0438}", "");
    let pred: String = if pred_str.contains("final answer is $") && pred_str.contains("$. I hope") {
        let tmp = pred_str
            .split_once("final answer is $")
            .map(|x| x.1)
            .unwrap_or("");
        tmp.split_once("$. I hope")
            .map(|x| x.0)
            .unwrap_or(tmp)
            .trim()
            .to_string()
    } else if pred_str.contains("boxed") {
        let ans = after_last(&pred_str, "boxed");
        if ans.is_empty() {
            return String::new();
        }
        if let Some(rest) = ans.strip_prefix('{') {
            let mut depth = 1usize;
            let mut a = String::new();
            for c in rest.chars() {
                if c == '{' {
                    depth += 1;
                } else if c == '}' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                a.push(c);
            }
            a
        } else {
            ans.split('$').next().unwrap_or("").trim().to_string()
        }
    } else if pred_str.contains("he answer is") {
        after_last(&pred_str, "he answer is").trim().to_string()
    } else if pred_str.contains("final answer is") {
        after_last(&pred_str, "final answer is").trim().to_string()
    } else if let Some((_, rest)) = pred_str.split_once("答案是") {
        let rest = rest.split("答案是").next().unwrap_or("").trim();
        rest.split("\n\n").next().unwrap_or("").trim().to_string()
    } else {
        last_number(&pred_str.replace(',', "")).unwrap_or_default()
    };
    extracted_tail(pred, data)
}

/// The end of `extract_answer` (parser.py 561-568).
fn extracted_tail(pred: String, data: QwenData) -> String {
    let mut pred = remove_newline_runs(&pred);
    if pred.starts_with(':') {
        pred.remove(0);
    }
    if pred.ends_with('.') {
        pred.pop();
    }
    if pred.ends_with('/') {
        pred.pop();
    }
    strip_string(&pred, data.skip_unit())
}

/// `re.sub(r"\n\s*", "", s)`.
fn remove_newline_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut skipping = false;
    for c in s.chars() {
        if c == '\n' {
            skipping = true;
            continue;
        }
        if skipping && c.is_whitespace() {
            continue;
        }
        skipping = false;
        out.push(c);
    }
    out
}

/// The last match of `-?\d*\.?\d+` (Python `re.findall`, non-overlapping, leftmost-first).
fn last_number(s: &str) -> Option<String> {
    let c: Vec<char> = s.chars().collect();
    let digits_from = |mut i: usize| {
        while i < c.len() && c[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    // The end of `\d*\.?\d+` starting at p, if it matches.
    let body = |p: usize| -> Option<usize> {
        let run_end = digits_from(p);
        if run_end < c.len() && c[run_end] == '.' {
            let frac_end = digits_from(run_end + 1);
            if frac_end > run_end + 1 {
                return Some(frac_end);
            }
        }
        (run_end > p).then_some(run_end)
    };
    let mut last = None;
    let mut i = 0;
    while i < c.len() {
        let m = if c[i] == '-' { body(i + 1) } else { body(i) };
        match m {
            Some(end) => {
                last = Some((i, end));
                i = end;
            }
            None => i += 1,
        }
    }
    last.map(|(a, b)| c[a..b].iter().collect())
}

/// Python's `\w` for one character (approximation: Unicode alphanumeric or `_`).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Units removed by `strip_string` (parser.py 74-209; each also with an "s" appended).
/// A `.` in an entry is a regex wildcard, as in the original.
const UNIT_TEXTS: &[&str] = &[
    "east",
    "degree",
    "mph",
    "kmph",
    "ft",
    "m sqaure",
    " m east",
    "sq m",
    "deg",
    "mile",
    "q .",
    "monkey",
    "prime",
    "ratio",
    "profit of rs",
    "rd",
    "o",
    "gm",
    "p . m",
    "lb",
    "tile",
    "per",
    "dm",
    "lt",
    "gain",
    "ab",
    "way",
    "west",
    "a .",
    "b .",
    "c .",
    "d .",
    "e .",
    "f .",
    "g .",
    "h .",
    "t",
    "a",
    "h",
    "no change",
    "men",
    "soldier",
    "pie",
    "bc",
    "excess",
    "st",
    "inches",
    "noon",
    "percent",
    "by",
    "gal",
    "kmh",
    "c",
    "acre",
    "rise",
    "a . m",
    "th",
    "π r 2",
    "sq",
    "mark",
    "l",
    "toy",
    "coin",
    "sq . m",
    "gallon",
    "° f",
    "profit",
    "minw",
    "yr",
    "women",
    "feet",
    "am",
    "pm",
    "hr",
    "cu cm",
    "square",
    "v â € ™",
    "are",
    "rupee",
    "rounds",
    "cubic",
    "cc",
    "mtr",
    "s",
    "ohm",
    "number",
    "kmph",
    "day",
    "hour",
    "minute",
    "min",
    "second",
    "man",
    "woman",
    "sec",
    "cube",
    "mt",
    "sq inch",
    "mp",
    "∏ cm ³",
    "hectare",
    "more",
    "sec",
    "unit",
    "cu . m",
    "cm 2",
    "rs .",
    "rs",
    "kg",
    "g",
    "month",
    "km",
    "m",
    "cm",
    "mm",
    "apple",
    "liter",
    "loss",
    "yard",
    "pure",
    "year",
    "increase",
    "decrease",
    "d",
    "less",
    "Surface",
    "litre",
    "pi sq m",
    "s .",
    "metre",
    "meter",
    "inch",
];

/// Removes every unit word, twice over the list (parser.py 252-260).
fn remove_units(s: &str) -> String {
    let mut cur: Vec<char> = s.chars().collect();
    let units: Vec<Vec<char>> = UNIT_TEXTS
        .iter()
        .map(|u| u.chars().collect())
        .chain(UNIT_TEXTS.iter().map(|u| format!("{u}s").chars().collect()))
        .collect();
    for _ in 0..2 {
        for u in &units {
            let next = remove_unit_exact(&cur, u);
            if !next.is_empty() {
                cur = next;
            }
        }
    }
    cur.into_iter().collect()
}

/// `re.sub(r"(^|\W)" + unit + r"($|\W)", r"\1\2", s)` with `.` in `unit` a wildcard
/// (alternatives tried in order: `^` before `\W`, `$` before `\W`).
fn remove_unit_exact(s: &[char], unit: &[char]) -> Vec<char> {
    let unit_at = |p: usize| -> bool {
        p + unit.len() <= s.len()
            && unit
                .iter()
                .zip(&s[p..p + unit.len()])
                .all(|(u, c)| *u == '.' || u == c)
    };
    // `($|\W)` at q: Some(None) = `$`, Some(Some(c)) = consumed c.
    let tail = |q: usize| -> Option<Option<char>> {
        if q == s.len() {
            Some(None)
        } else if !is_word(s[q]) {
            Some(Some(s[q]))
        } else {
            None
        }
    };
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let mut hit: Option<(Option<char>, Option<char>, usize)> = None;
        if i == 0 && unit_at(0) {
            if let Some(g2) = tail(unit.len()) {
                hit = Some((None, g2, unit.len() + usize::from(g2.is_some())));
            }
        }
        if hit.is_none() && !is_word(s[i]) && unit_at(i + 1) {
            if let Some(g2) = tail(i + 1 + unit.len()) {
                hit = Some((
                    Some(s[i]),
                    g2,
                    i + 1 + unit.len() + usize::from(g2.is_some()),
                ));
            }
        }
        match hit {
            Some((g1, g2, end)) => {
                out.extend(g1);
                out.extend(g2);
                i = end;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// `re.sub(OPEN + r"(.*?)\}", REPLACEMENT, s)` for a literal `open` ending in `{`: each
/// `open…}` (up to the first `}`) becomes `replace(…)`; an unclosed `open` ends the rewriting.
fn replace_lazy_braced(s: &str, open: &str, replace: impl Fn(&str) -> &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find(open) {
        let after = &rest[p + open.len()..];
        match after.find('}') {
            Some(q) => {
                out.push_str(&rest[..p]);
                out.push_str(replace(&after[..q]));
                rest = &after[q + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// `re.sub(r"\\text{.*?}$", "", s)`: from the first `\text{` to the end when the string ends
/// in `}` after it.
fn remove_trailing_text(s: &str) -> String {
    if !s.ends_with('}') {
        return s.to_string();
    }
    match s.find("\\text{") {
        Some(p) if p + "\\text{".len() < s.len() => s[..p].to_string(),
        _ => s.to_string(),
    }
}

/// `re.sub(r"(\d+)\.0*([^\d])", r"\1\2", s)` then `re.sub(r"(\d+)\.0*$", r"\1", s)`.
fn drop_zero_decimals(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        if c[i].is_ascii_digit() {
            let mut j = i;
            while j < c.len() && c[j].is_ascii_digit() {
                j += 1;
            }
            out.extend(&c[i..j]);
            if j < c.len() && c[j] == '.' {
                let mut m = j + 1;
                while m < c.len() && c[m] == '0' {
                    m += 1;
                }
                if m < c.len() && !c[m].is_ascii_digit() {
                    out.push(c[m]);
                    i = m + 1;
                    continue;
                }
            }
            i = j;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    // `(\d+)\.0*$`
    let t = out.trim_end_matches('0');
    if let Some(head) = t.strip_suffix('.') {
        if head.ends_with(|ch: char| ch.is_ascii_digit()) {
            return head.to_string();
        }
    }
    out
}

/// `re.sub(r"\\sqrt(\w+)", r"\\sqrt{\1}", s)`.
fn fix_sqrt(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find("\\sqrt") {
        out.push_str(&rest[..p + 5]);
        let after = &rest[p + 5..];
        let end = after
            .char_indices()
            .find(|(_, c)| !is_word(*c))
            .map(|(k, _)| k)
            .unwrap_or(after.len());
        if end > 0 {
            out.push('{');
            out.push_str(&after[..end]);
            out.push('}');
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// parser.py `_fix_fracs`.
fn fix_fracs(s: &str) -> String {
    let parts: Vec<&str> = s.split("\\frac").collect();
    let mut new = parts[0].to_string();
    for sub in &parts[1..] {
        new.push_str("\\frac");
        let c: Vec<char> = sub.chars().collect();
        if c.first() == Some(&'{') {
            new.push_str(sub);
        } else {
            if c.len() < 2 {
                return s.to_string();
            }
            let (a, b) = (c[0], c[1]);
            let post: String = c[2..].iter().collect();
            if b != '{' {
                new.push_str(&format!("{{{a}}}{{{b}}}{post}"));
            } else {
                new.push_str(&format!("{{{a}}}{b}{post}"));
            }
        }
    }
    new
}

/// A string Python's `int()` parses and `str()` reproduces (`-?[1-9][0-9]*|0`, ASCII).
fn canonical_int(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty()
        && d.bytes().all(|b| b.is_ascii_digit())
        && (d == "0" && !s.starts_with('-') || !d.starts_with('0'))
}

/// parser.py `_fix_a_slash_b`.
fn fix_a_slash_b(s: &str) -> String {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() != 2 {
        return s.to_string();
    }
    let ok = |p: &str| p.contains("sqrt") || canonical_int(p);
    if ok(parts[0]) && ok(parts[1]) {
        format!("\\frac{{{}}}{{{}}}", parts[0], parts[1])
    } else {
        s.to_string()
    }
}

/// Python `str(float)` for the values `word_to_num` returns.
fn python_float_str(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// `word2number.w2n.word_to_num` (version 1.1): `None` where it raises.
pub fn word_to_num(sentence: &str) -> Option<String> {
    let s = sentence.replace('-', " ").to_lowercase();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        let t = s.trim_start_matches('0');
        return Some(if t.is_empty() { "0".into() } else { t.into() });
    }
    let value = |w: &str| -> Option<u64> {
        const SMALL: [&str; 20] = [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ];
        const TENS: [&str; 8] = [
            "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        ];
        if let Some(k) = SMALL.iter().position(|x| *x == w) {
            return Some(k as u64);
        }
        if let Some(k) = TENS.iter().position(|x| *x == w) {
            return Some(20 + 10 * k as u64);
        }
        match w {
            "hundred" => Some(100),
            "thousand" => Some(1_000),
            "million" => Some(1_000_000),
            "billion" => Some(1_000_000_000),
            _ => None,
        }
    };
    let mut clean: Vec<&str> = s
        .split_whitespace()
        .filter(|w| *w == "point" || value(w).is_some())
        .collect();
    if clean.is_empty() {
        return None;
    }
    let count = |v: &[&str], w: &str| v.iter().filter(|x| **x == w).count();
    if ["thousand", "million", "billion", "point"]
        .iter()
        .any(|w| count(&clean, w) > 1)
    {
        return None;
    }
    let mut decimals: Vec<&str> = Vec::new();
    if let Some(p) = clean.iter().position(|w| *w == "point") {
        decimals = clean[p + 1..].to_vec();
        clean.truncate(p);
    }
    let idx = |w: &str| {
        clean
            .iter()
            .position(|x| *x == w)
            .map(|k| k as i64)
            .unwrap_or(-1)
    };
    let (bi, mi, ti) = (idx("billion"), idx("million"), idx("thousand"));
    if (ti > -1 && (ti < mi || ti < bi)) || (mi > -1 && mi < bi) {
        return None;
    }
    // number_formation: raises IndexError on an empty list
    let formation = |ws: &[&str]| -> Option<i128> {
        let n: Vec<i128> = ws.iter().map(|w| value(w).unwrap_or(0) as i128).collect();
        Some(match n.len() {
            4 => n[0] * n[1] + n[2] + n[3],
            3 => n[0] * n[1] + n[2],
            2 if n.contains(&100) => n[0] * n[1],
            2 => n[0] + n[1],
            _ => *n.first()?,
        })
    };
    let len = clean.len() as i64;
    let sl = |a: i64, b: i64| &clean[a as usize..b as usize];
    let mut total: i128 = 0;
    if len == 1 {
        total += value(clean[0]).unwrap_or(0) as i128;
    } else if len > 1 {
        if bi > -1 {
            total += formation(sl(0, bi))? * 1_000_000_000;
        }
        if mi > -1 {
            let m = if bi > -1 {
                formation(sl(bi + 1, mi))?
            } else {
                formation(sl(0, mi))?
            };
            total += m * 1_000_000;
        }
        if ti > -1 {
            let t = if mi > -1 {
                formation(sl(mi + 1, ti))?
            } else if bi > -1 {
                formation(sl(bi + 1, ti))?
            } else {
                formation(sl(0, ti))?
            };
            total += t * 1000;
        }
        let hundreds = if ti > -1 && ti != len - 1 {
            formation(sl(ti + 1, len))?
        } else if mi > -1 && mi != len - 1 {
            formation(sl(mi + 1, len))?
        } else if bi > -1 && bi != len - 1 {
            formation(sl(bi + 1, len))?
        } else if ti == -1 && mi == -1 && bi == -1 {
            formation(&clean)?
        } else {
            0
        };
        total += hundreds;
    }
    if !decimals.is_empty() {
        const DIGITS: [&str; 10] = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        ];
        let mut frac = String::from("0.");
        let mut ok = true;
        for w in &decimals {
            match DIGITS.iter().position(|d| d == w) {
                Some(k) => frac.push_str(&k.to_string()),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        let dec: f64 = if ok { frac.parse().unwrap_or(0.0) } else { 0.0 };
        // an int plus a float is a float in Python
        return Some(python_float_str(total as f64 + dec));
    }
    Some(total.to_string())
}

/// parser.py `strip_string`.
pub fn strip_string(input: &str, skip_unit: bool) -> String {
    let mut s = input.trim().replace('\n', "");
    s = s.trim_end_matches('.').to_string();
    s = s.replace("\\!", "");
    // `re.sub(r"\\begin\{array\}\{.*?\}", r"\\begin{pmatrix}", s)`
    s = replace_lazy_braced(&s, "\\begin{array}{", |_| "\\begin{pmatrix}");
    s = s.replace("\\end{array}", "\\end{pmatrix}");
    s = s.replace("bmatrix", "pmatrix");
    s = s.replace("tfrac", "frac").replace("dfrac", "frac");
    s = s
        .replace("\\neq", "\\ne")
        .replace("\\leq", "\\le")
        .replace("\\geq", "\\ge");
    s = s
        .replace("\\left", "")
        .replace("\\right", "")
        .replace("\\{", "{")
        .replace("\\}", "}");
    let t = remove_trailing_text(&s);
    let t = t.trim();
    if !t.is_empty() && t != s {
        s = t.to_string();
    }
    if !skip_unit {
        s = remove_units(&s);
    }
    s = s.replace("^{\\circ}", "").replace("^\\circ", "");
    s = s
        .replace("\\$", "")
        .replace('$', "")
        .replace("\\(", "")
        .replace("\\)", "");
    if let Some(n) = word_to_num(&s) {
        s = n;
    }
    s = replace_lazy_braced(&s, "\\text{", |group| group); // r"\\text\{(.*?)\}" → r"\1"
    for key in [
        "x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to",
    ] {
        s = s.replace(key, "");
    }
    s = s.replace("\\emptyset", "{}");
    s = s.replace("(-\\infty,\\infty)", "\\mathbb{R}");
    s = s.replace("\\%", "").replace('%', "");
    s = s.replace(" .", " 0.").replace("{.", "{0.");
    // parser.py 292-303: `"{…}".isalnum()` is never true, so this never strips; kept as written.
    let alnum = !s.is_empty() && s.chars().all(|c| c.is_alphanumeric());
    if alnum
        && ((s.starts_with('{') && s.ends_with('}'))
            || (s.starts_with('(') && s.ends_with(')'))
            || (s.starts_with('[') && s.ends_with(']')))
    {
        s = s[1..s.len() - 1].to_string();
    }
    s = s.replace("infinity", "\\infty");
    if !s.contains("\\infty") {
        s = s.replace("inf", "\\infty");
    }
    s = s.replace("+\\inity", "\\infty");
    s = s.replace("and", "");
    s = s.replace("\\mathbf", "");
    s = replace_lazy_braced(&s, "\\mbox{", |_| ""); // r"\\mbox\{.*?\}" → ""
    if s.contains('j') && !s.contains('i') {
        s = s.replace('j', "i");
    }
    s = drop_zero_decimals(&s);
    if s.is_empty() {
        return s;
    }
    if s.starts_with('.') {
        s = format!("0{s}");
    }
    {
        let parts: Vec<&str> = s.split('=').collect();
        if parts.len() == 2 && parts[0].chars().count() <= 2 {
            s = parts[1].to_string();
        }
    }
    s = fix_sqrt(&s);
    s = s.replace(' ', "");
    s = fix_fracs(&s);
    fix_a_slash_b(&s)
}

/// Characters A–E standing alone as words (`re.findall(r"\b(A|B|C|D|E)\b", s)`).
fn choice_letters(s: &str) -> Vec<char> {
    let c: Vec<char> = s.chars().collect();
    (0..c.len())
        .filter(|&i| {
            "ABCDE".contains(c[i])
                && (i == 0 || !is_word(c[i - 1]))
                && (i + 1 == c.len() || !is_word(c[i + 1]))
        })
        .map(|i| c[i])
        .collect()
}

fn rstrip_once_each(s: &str) -> String {
    s.trim_end_matches('.').trim_end_matches('/').to_string()
}

/// parser.py `choice_answer_clean` (used by math_eval.py for A–E references).
fn parser_choice_answer_clean(pred: &str) -> String {
    let mut pred = pred.trim_matches('\n').to_string();
    let icl = ["choice is", "answer is"]
        .iter()
        .any(|t| pred.matches(t).count() > 1);
    if icl {
        pred = pred.split("\n\n").next().unwrap_or("").to_string();
    }
    // re.split("choice is|answer is", pred)
    let mut pieces = vec![String::new()];
    let mut rest = pred.as_str();
    loop {
        let a = rest.find("choice is");
        let b = rest.find("answer is");
        let hit = match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        match hit {
            Some(p) => {
                pieces.last_mut().unwrap().push_str(&rest[..p]);
                pieces.push(String::new());
                rest = &rest[p + 9..];
            }
            None => {
                pieces.last_mut().unwrap().push_str(rest);
                break;
            }
        }
    }
    let answer_flag = pieces.len() > 1;
    if answer_flag {
        pred = pieces.pop().unwrap_or_default();
    }
    let p = rstrip_once_each(pred.trim_matches('\n'));
    let p = p.trim_matches(' ').trim_start_matches(':').to_string();
    let letters = choice_letters(&p.to_uppercase());
    let chosen = if !letters.is_empty() {
        let k = if answer_flag { 0 } else { letters.len() - 1 };
        letters[k].to_string()
    } else {
        p.trim().trim_matches('.').to_string()
    };
    rstrip_once_each(&chosen)
}

/// grader.py `choice_answer_clean`.
fn grader_choice_answer_clean(pred: &str) -> String {
    let p = rstrip_once_each(pred.trim_matches('\n'));
    let p = p.trim_matches(' ').trim_start_matches(':').to_string();
    let letters = choice_letters(&p.to_uppercase());
    let chosen = match letters.last() {
        Some(c) => c.to_string(),
        None => p.trim().trim_matches('.').to_string(),
    };
    rstrip_once_each(&chosen)
}

/// grader.py `parse_digits`: commas removed, a float, or a trailing `%` (or `\%`) ÷ 100.
fn parse_digits(num: &str) -> Option<f64> {
    let n = num.replace(',', "");
    if let Some(x) = python_float(&n) {
        return Some(x);
    }
    let n = n.strip_suffix('%')?;
    let n = n.strip_suffix('\\').unwrap_or(n);
    python_float(n).map(|x| x / 100.0)
}

/// Python `float(s)` for ASCII input: surrounding whitespace, sign, digits with optional `_`
/// separators between digits, `.`, exponent, `inf`/`infinity`/`nan` in any case.
fn python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let low = body.to_ascii_lowercase();
    if matches!(low.as_str(), "inf" | "infinity" | "nan") {
        return t.to_ascii_lowercase().parse::<f64>().ok();
    }
    // underscores only between digits
    let b = t.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok =
                i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit();
            if !ok {
                return None;
            }
        } else if !(c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E')) {
            return None;
        }
    }
    t.replace('_', "").parse::<f64>().ok()
}

/// `math.isclose(reference, prediction, rel_tol=1e-4)`.
fn numeric_equal(prediction: f64, reference: f64) -> bool {
    if prediction == reference {
        return true;
    }
    if !prediction.is_finite() || !reference.is_finite() {
        return false;
    }
    (reference - prediction).abs() <= 1e-4 * reference.abs().max(prediction.abs())
}

/// grader.py `str_to_pmatrix`.
fn str_to_pmatrix(input: &str) -> String {
    let s = input.trim();
    // re.findall(r"\{.*,.*\}", s): from the first `{` followed (later) by `,` and then `}`,
    // to the last `}`; at most one match.
    let Some(last_close) = s.rfind('}') else {
        return String::new();
    };
    let mut m = None;
    for (p, c) in s.char_indices() {
        if c == '{' && p < last_close && s[p + 1..last_close].contains(',') {
            m = Some(&s[p..=last_close]);
            break;
        }
    }
    match m {
        Some(m) => {
            let inner = m.trim_matches(|c| c == '{' || c == '}');
            format!(
                "\\begin{{pmatrix}}{}\\end{{pmatrix}}",
                inner.replace(',', "\\")
            )
        }
        None => String::new(),
    }
}

/// `regex.match(r"(\(|\[).+(\)|\])", s)`.
fn bracketed(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    c.len() >= 3 && (c[0] == '(' || c[0] == '[') && c[2..].iter().any(|&x| x == ')' || x == ']')
}

/// `s[1:-1]` in characters.
fn inner(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    if c.len() < 2 {
        return String::new();
    }
    c[1..c.len() - 1].iter().collect()
}

const PMATRIX_BEGIN: &str = "\\begin{pmatrix}";
const PMATRIX_END: &str = "\\end{pmatrix}";

fn matrix_rows(s: &str) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    let (b, e) = (PMATRIX_BEGIN.chars().count(), PMATRIX_END.chars().count());
    if c.len() < b + e {
        return Vec::new();
    }
    let body: String = c[b..c.len() - e].iter().collect();
    body.split("\\\\")
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_matrix(s: &str) -> bool {
    (s.starts_with("\\begin{pmatrix}") || s.starts_with("\\begin{bmatrix}"))
        && (s.ends_with("\\end{pmatrix}") || s.ends_with("\\end{bmatrix}"))
}

/// grader.py `math_equal(prediction, reference)` with its defaults (percentage variants on,
/// `isclose` on, no timeout process).
pub fn math_equal(prediction: &str, reference: &str) -> bool {
    math_equal_depth(prediction, reference, 0)
}

/// `x = …` with a left side of at most 2 characters (grader.py: `len(prediction.split("=")[0].strip()) <= 2`).
fn short_lhs(s: &str) -> bool {
    s.split('=').next().unwrap_or("").trim().chars().count() <= 2
}

fn math_equal_depth(prediction: &str, reference: &str, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    if prediction.trim().to_lowercase() == reference.trim().to_lowercase() {
        return true;
    }
    if is_choice_letter(reference) && grader_choice_answer_clean(prediction) == reference {
        return true;
    }
    if let (Some(p), Some(r)) = (parse_digits(prediction), parse_digits(reference)) {
        return [r / 100.0, r, r * 100.0]
            .iter()
            .any(|&item| numeric_equal(p, item));
    }
    if prediction.is_empty() {
        return false;
    }
    let reference_owned;
    let mut reference = reference.trim();
    let prediction = prediction.trim();
    if prediction.contains("pmatrix") && !reference.contains("pmatrix") {
        reference_owned = str_to_pmatrix(reference);
        reference = &reference_owned;
    }
    let (mut pred_str, mut ref_str) = (prediction.to_string(), reference.to_string());
    if (prediction.starts_with('[') && prediction.ends_with(']') && !reference.starts_with('('))
        || (prediction.starts_with('(') && prediction.ends_with(')') && !reference.starts_with('['))
    {
        let brackets = |c: char| "[]()".contains(c);
        pred_str = pred_str.trim_matches(brackets).to_string();
        ref_str = ref_str.trim_matches(brackets).to_string();
    }
    let drop = |s: &str| s.replace(['{', '}', '(', ')'], "");
    if drop(&pred_str).to_lowercase() == drop(&ref_str).to_lowercase() {
        return true;
    }
    if bracketed(prediction) && bracketed(reference) {
        let pi = inner(prediction);
        let ri = inner(reference);
        let pp: Vec<&str> = pi.split(',').collect();
        let rp: Vec<&str> = ri.split(',').collect();
        if pp.len() == rp.len()
            && pp
                .iter()
                .zip(&rp)
                .all(|(a, b)| math_equal_depth(a, b, depth + 1))
        {
            return true;
        }
    }
    if is_matrix(prediction) && is_matrix(reference) {
        let pl = matrix_rows(prediction);
        let rl = matrix_rows(reference);
        let matched = pl.len() == rl.len()
            && pl.iter().zip(&rl).all(|(p, r)| {
                let pp: Vec<&str> = p.split('&').collect();
                let rp: Vec<&str> = r.split('&').collect();
                pp.len() == rp.len()
                    && pp
                        .iter()
                        .zip(&rp)
                        .all(|(a, b)| math_equal_depth(a, b, depth + 1))
            });
        if matched {
            return true;
        }
    }
    let pe = prediction.matches('=').count();
    let re = reference.matches('=').count();
    if pe == 1 && re == 1 {
        let (pl, pr) = prediction.split_once('=').unwrap_or_default();
        let (rl, rr) = reference.split_once('=').unwrap_or_default();
        let p = format!("{} - ({})", pl.trim(), pr.trim());
        let r = format!("{} - ({})", rl.trim(), rr.trim());
        if symbolic_equal(&p, &r) || symbolic_equal(&format!("-({p})"), &r) {
            return true;
        }
    } else if pe == 1 && short_lhs(prediction) && re == 0 {
        if math_equal_depth(
            prediction.split('=').nth(1).unwrap_or(""),
            reference,
            depth + 1,
        ) {
            return true;
        }
    } else if re == 1
        && short_lhs(reference)
        && pe == 0
        && math_equal_depth(
            prediction,
            reference.split('=').nth(1).unwrap_or(""),
            depth + 1,
        )
    {
        return true;
    }
    symbolic_equal(prediction, reference)
}

/// The symbolic stage (grader.py 276-329: sympy's `parse_latex` / `parse_expr` /
/// `latex2sympy`, then `==`, `simplify(a - b) == 0`, and `isclose(N(a), N(b), rel_tol=1e-4)`).
///
/// It is approximated with the strict checker's parser and comparison, fenced so that it
/// accepts no more than sympy does on the forms where the two are known to differ:
/// - sympy reads `\pi`, `e`, `i` and every letter outside a command as a plain symbol (a unit
///   word such as `cm` is the product `c·m`; our checker drops it): both sides must use the same
///   letters;
/// - a command sympy's LaTeX parser does not know makes it fall back to the raw string: only
///   the allow-listed commands are compared;
/// - an equation or an inequality is never equal to a bare value, `;` and `{,}` never parse,
///   and a list of tuples is compared in order;
/// - two real constants are equal within relative 1e-4 (`N` + `isclose`) before any exact
///   comparison.
fn symbolic_equal(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (fa, fb) = (features(a), features(b));
    if !fa.comparable || !fb.comparable || fa.symbols != fb.symbols {
        return false;
    }
    if fa.equation || fb.equation || fa.relation != fb.relation {
        return false;
    }
    let (ia, ib) = (top_level_items(a), top_level_items(b));
    if (ia.len() > 1 || ib.len() > 1) && (fa.tuple_list || fb.tuple_list) {
        return ia.len() == ib.len() && ia.iter().zip(&ib).all(|(x, y)| symbolic_equal(x, y));
    }
    if let (Some(x), Some(y)) = (real_constant(a), real_constant(b)) {
        if numeric_equal(x, y) {
            return true;
        }
    }
    let checker = AnswerChecker::new(CheckerConfig {
        relative_tolerance: 1e-4,
        rounding_min_places: None,
        reference_rounding_min_places: None,
        ..CheckerConfig::default()
    });
    checker.compare_answers(b, a).0
}

/// LaTeX commands sympy's `parse_latex` (or latex2sympy) reads as mathematics.
const KNOWN_COMMANDS: &[&str] = &[
    "frac", "sqrt", "pi", "cdot", "times", "div", "sin", "cos", "tan", "cot", "sec", "csc",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log", "ln", "exp", "infty", "binom",
    "le", "ge", "ne", "lt", "gt", "leq", "geq", "neq", "pm", "mp", "alpha", "beta", "gamma",
    "delta", "theta", "phi", "lambda", "mu", "sigma", "omega", "overline", "mathrm", "circ",
    "begin", "end", "pmatrix", "cup", "cap", "in", "mathbb", "sum", "prod", "int", "lfloor",
    "rfloor", "lceil", "rceil", "vert", "mid", "angle", "triangle", "prime", "dots", "ldots",
    "cdots", "to", "emptyset",
];

#[derive(Debug, Default, PartialEq)]
struct Features {
    /// `pi` for `\pi`, and each letter outside commands (sorted, deduplicated).
    symbols: Vec<String>,
    /// no unknown command, no `;`.
    comparable: bool,
    equation: bool,
    relation: bool,
    /// a comma list whose items include a parenthesised tuple.
    tuple_list: bool,
}

fn features(s: &str) -> Features {
    let c: Vec<char> = s.chars().collect();
    let mut f = Features {
        // `;` and a braced thousands separator `{,}` do not parse for sympy
        comparable: !s.contains(';') && !s.contains("{,}"),
        equation: s.contains('='),
        relation: s.contains('<') || s.contains('>'),
        ..Default::default()
    };
    let mut i = 0;
    while i < c.len() {
        if c[i] == '\\' {
            let mut j = i + 1;
            while j < c.len() && c[j].is_ascii_alphabetic() {
                j += 1;
            }
            let name: String = c[i + 1..j].iter().collect();
            if name.is_empty() {
                // `\\`, `\,`, `\{` …: only spacing and braces are harmless
                if j < c.len() && !matches!(c[j], ',' | ' ' | ';' | '{' | '}' | '!') {
                    f.comparable = false;
                }
                i = j + 1;
                continue;
            }
            if !KNOWN_COMMANDS.contains(&name.as_str()) {
                f.comparable = false;
            }
            match name.as_str() {
                "pi" => f.symbols.push("pi".into()),
                "le" | "ge" | "ne" | "lt" | "gt" | "leq" | "geq" | "neq" => f.relation = true,
                _ => {}
            }
            i = j;
            continue;
        }
        if c[i].is_ascii_alphabetic() {
            let mut j = i;
            while j < c.len() && c[j].is_ascii_alphabetic() {
                j += 1;
            }
            f.symbols.extend(c[i..j].iter().map(|l| l.to_string()));
            i = j;
            continue;
        }
        if c[i] == 'π' {
            f.symbols.push("pi".into());
        }
        i += 1;
    }
    f.symbols.sort();
    f.symbols.dedup();
    let items = top_level_items(s);
    f.tuple_list = items.len() > 1
        && items
            .iter()
            .any(|x| x.starts_with('(') || x.starts_with('['));
    f
}

/// The items of a comma list at bracket depth 0.
fn top_level_items(s: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut depth = 0i32;
    for ch in s.chars() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            items.push(String::new());
        } else {
            items.last_mut().unwrap().push(ch);
        }
    }
    items.into_iter().map(|x| x.trim().to_string()).collect()
}

/// The value of a closed real expression (no free symbols), as sympy's `N` would give it.
fn real_constant(s: &str) -> Option<f64> {
    use super::latex::parse_expr;
    use super::limits::{Budget, Limits};
    use super::normalize::prepare;
    use super::value::{free_symbols, numeric};
    let lim = Limits::default();
    let budget = Budget::new(lim.max_steps / 4);
    let e = parse_expr(&prepare(s), &lim, &budget, false).ok()?;
    let mut free = Vec::new();
    free_symbols(&e, &mut free);
    if !free.is_empty() {
        return None;
    }
    let v = numeric(&e, &|_| f64::NAN, false, &budget)?;
    (v.im == 0.0 && v.re.is_finite()).then_some(v.re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_removed_as_words_only() {
        assert_eq!(strip_string("5 cm", false), "5");
        assert_eq!(strip_string("5 cm", true), "5cm");
        // `t` in \text is not a word of its own
        assert_eq!(strip_string("\\text{5}", false), "5");
        // "a ." is a wildcard pattern: "a b" followed by end matches "a ." with `.` = 'b'? no:
        // the wildcard needs one character after "a ".
        assert_eq!(remove_units("x a b"), "x ");
    }

    #[test]
    fn word_numbers() {
        assert_eq!(word_to_num("five").as_deref(), Some("5"));
        assert_eq!(word_to_num("twenty-one").as_deref(), Some("21"));
        assert_eq!(word_to_num("one point five").as_deref(), Some("1.5"));
        assert_eq!(word_to_num("007").as_deref(), Some("7"));
        assert_eq!(word_to_num("x+1"), None);
        assert_eq!(word_to_num("two thousand three").as_deref(), Some("2003"));
    }

    #[test]
    fn last_number_regex() {
        assert_eq!(last_number("a 12. b").as_deref(), Some("12"));
        assert_eq!(last_number("x -3.5 y .5").as_deref(), Some(".5"));
        assert_eq!(last_number("1-2").as_deref(), Some("-2"));
        assert_eq!(last_number("none"), None);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let nasty = [
            "",
            "boxed",
            "\\boxed{",
            "\\boxed{{{{",
            "}}}}",
            "\\frac",
            "\\frac1",
            "\\frac{",
            "/",
            "1/",
            "=",
            "==",
            "a=b=c",
            "(",
            ")",
            "[]",
            "(,)",
            "\\begin{pmatrix}",
            "\\end{pmatrix}",
            "\\begin{array}{",
            "é\\sqrtπ",
            "{é,}",
            "\\text{",
            "\\text{é}",
            "5.",
            ".",
            "-",
            "-.",
            "ки",
            "答案是",
            "final answer is $",
            "he answer is",
            "%",
            "\\%",
            "1e999",
            "nan",
            "inf",
            "point",
            "one point",
            "thousand thousand",
            "million five thousand",
            "\\",
            "\\sqrt",
            "(1,2",
            "[1,2)",
            "{1,2}",
            "\\begin{pmatrix}1&2\\\\3\\end{pmatrix}",
            "A",
            "(C)",
        ];
        for a in nasty {
            for b in nasty {
                let _ = grade(a, b, QwenData::Answer);
                let _ = grade(&format!("\\boxed{{{a}}}"), b, QwenData::Math);
                let _ = grade(a, b, QwenData::Minerva);
            }
        }
        // a very long response is graded on its tail, after the cut at the first stop word
        let long = format!("{} so \\boxed{{7}}", "é cm ".repeat(40_000));
        assert!(grade(&long, "7", QwenData::Answer).correct);
        let stopped = format!("\\boxed{{7}}<|im_end|>{}\\boxed{{8}}", "x ".repeat(40_000));
        assert!(grade(&stopped, "7", QwenData::Answer).correct);
    }

    #[test]
    fn zero_decimals() {
        assert_eq!(drop_zero_decimals("27.0"), "27");
        assert_eq!(drop_zero_decimals("2.50"), "2.50");
        assert_eq!(drop_zero_decimals("(1.00,2)"), "(1,2)");
    }
}
