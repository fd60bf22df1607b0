//! Finding the final answer in a model response.
//!
//! Stages: the `\boxed{}` / `\fbox{}` answers, then — in lenient mode only — "the answer is …"
//! / "Answer: …" phrases, a bold `**…**`, the whole response when it is bare math, the last
//! `$…$` / `\(…\)` / `\[…\]` segment, and the last number.
//!
//! Rules a careful grader applies (each refuses the response whatever the reference):
//! 1. Only the text after the last `</think>` is graded, when there is one.
//! 2. Boxes inside code (a fenced block or an inline `…` span) are quoted, not stated: ignored.
//! 3. **Several boxes.** Boxes separated only by list punctuation (spaces, `,`, `;`, `\quad`,
//!    `$`, `\text{and}`, one "and") are one answer list `\{a, b\}` — a set, so it never equals
//!    an ordered pair. Every other box is a separate final answer, and **every** answer stated
//!    must be equivalent to the reference: `\boxed{1/2}` … `\boxed{0.5}` is credited, a
//!    hedge over `\boxed{3}` and `\boxed{4}`, a box quoted after the final one, or boxing every
//!    option is not. More than [`MAX_DISTINCT_ANSWERS`] different answers are refused.
//! 4. **Negation, hedges, questions** ([`super::negation`]): a negation word in a box's clause
//!    or sentence (`\boxed{5} is not the answer`, `not \boxed{5}`, `…, which is wrong`) unless
//!    it negates another value (`\boxed{5}, not 6`); any hedge word there (`or`, `either`,
//!    `maybe`); a `?` right after it; `not`/`never`/`n't` inside the box.
//! 5. **Retraction**: a word like "wait", "wrong", "mistake", "actually" anywhere after the
//!    last box.
//! 6. A final-answer phrase after the last box ("The final answer is $5$.") is one more answer
//!    that must agree in strict mode; in lenient mode it is the final answer (earlier boxes
//!    were intermediate results).
//! 7. Lenient fallbacks obey rule 4 too (`The answer is not 5.`, `maybe 5`), and the last
//!    number is not taken when it is an item of a list (`2, 3, or 5`, `3 and 5`, `3 to 5`).
//!
//! Every scan is linear in the response's length (the whole response is scanned; a step
//! counter, [`extract_counted`], lets tests check it).
use serde::{Deserialize, Serialize};

use super::latex::parse_expr;
use super::limits::{Budget, Limits};
use super::negation::{
    first_stance_word, has_negation, retracted_after, stance_at, stance_within, Stance,
};
use super::normalize::{prepare, text_key};

/// How an answer is looked for in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ExtractMode {
    /// Only the last `\boxed{…}` / `\fbox{…}` counts (the RL default, as in DeepScaleR's
    /// grader): a response without a box is wrong.
    #[default]
    Strict,
    /// Boxed first, then the fallbacks of [`ExtractOptions::lenient`].
    Lenient,
}

/// Which extraction stages run, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractOptions {
    /// last `\boxed{}` / `\fbox{}` (adjacent boxes joined)
    pub boxed: bool,
    /// "final answer is …", "the answer is …", "Answer: …", a bold `**…**`
    pub phrases: bool,
    /// the whole response, when it parses as math with no prose words
    pub whole: bool,
    /// the last `$…$`, `$$…$$`, `\(…\)`, `\[…\]` segment
    pub math_segments: bool,
    /// the last number in the text (not glued to a preceding letter)
    pub last_number: bool,
}

impl ExtractOptions {
    /// Boxed only.
    pub fn strict() -> Self {
        ExtractOptions {
            boxed: true,
            phrases: false,
            whole: false,
            math_segments: false,
            last_number: false,
        }
    }
    /// Every stage.
    pub fn lenient() -> Self {
        ExtractOptions {
            boxed: true,
            phrases: true,
            whole: true,
            math_segments: true,
            last_number: true,
        }
    }
}

impl ExtractMode {
    /// The stages this mode runs.
    pub fn options(self) -> ExtractOptions {
        match self {
            ExtractMode::Strict => ExtractOptions::strict(),
            ExtractMode::Lenient => ExtractOptions::lenient(),
        }
    }
}

/// What extraction found in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extraction {
    /// The final answers the response states: distinct (by [`text_key`]), in order, at least
    /// one and at most [`MAX_DISTINCT_ANSWERS`]. Every one must match the reference.
    Answers(Vec<String>),
    /// The response states an answer but takes it back or leaves it open: not credited,
    /// whatever the reference. `answer` is the text concerned, when there is one.
    Refused {
        /// the answer concerned
        answer: Option<String>,
        /// why it is not credited
        why: String,
    },
    /// No answer found.
    Nothing,
}

/// Most different final answers one response may state (several boxes that are all
/// equivalent to the reference are credited; more than this many is boxing every option).
pub const MAX_DISTINCT_ANSWERS: usize = 4;

/// Most different boxes joined into one answer list (`\boxed{1}, \boxed{2}, …`).
pub const MAX_LIST_ITEMS: usize = 64;

/// Longest bare argument of `\boxed 5` looked at, bytes.
const MAX_BARE_ARG: usize = 64;

/// A `\boxed` occurrence: byte range of the whole command and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boxed {
    /// byte offset of the backslash
    pub start: usize,
    /// byte offset just past the closing brace
    pub end: usize,
    /// the content between the braces
    pub content: String,
}

/// All outermost `\boxed{…}`, `\boxed …`, `\fbox{…}` occurrences in order (a box inside
/// another is part of its content). Linear time.
pub fn boxed_all(s: &str) -> Vec<Boxed> {
    boxed_all_counted(s, &mut 0)
}

fn boxed_all_counted(s: &str, steps: &mut u64) -> Vec<Boxed> {
    let b = s.as_bytes();
    // openers: (start of the command, index of its `{` or of its bare argument)
    let mut openers: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        *steps += 1;
        let rest = &b[i..];
        let skip = if rest.starts_with(b"\\boxed") {
            6
        } else if rest.starts_with(b"\\fbox") {
            5
        } else {
            i += 1;
            continue;
        };
        let mut j = i + skip;
        if j < b.len() && b[j].is_ascii_alphabetic() {
            i = j;
            continue; // \boxedfoo
        }
        while j < b.len() && b[j] == b' ' {
            *steps += 1;
            j += 1;
        }
        openers.push((i, j));
        i = j.max(i + 1);
    }
    if openers.is_empty() {
        return Vec::new();
    }
    // one pass of brace matching for the braced openers
    let wanted: std::collections::HashSet<usize> = openers
        .iter()
        .filter(|(_, j)| b.get(*j) == Some(&b'{'))
        .map(|(_, j)| *j)
        .collect();
    let mut closes: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut k = openers[0].1;
    while k < b.len() {
        *steps += 1;
        match b[k] {
            b'\\' => {
                k += 2;
                continue;
            }
            b'{' => stack.push(k),
            b'}' => {
                if let Some(o) = stack.pop() {
                    if wanted.contains(&o) {
                        closes.insert(o, k);
                    }
                }
            }
            _ => {}
        }
        k += 1;
    }
    // ranges first: (start, end, content start, content end), outermost only, then the text
    let mut ranges: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (start, j) in openers {
        *steps += 1;
        if ranges.last().is_some_and(|l| start < l.1) {
            continue; // inside the previous box
        }
        if b.get(j) == Some(&b'{') {
            if let Some(&k) = closes.get(&j) {
                ranges.push((start, k + 1, j + 1, k));
            }
        } else {
            // `\boxed 5`: up to whitespace or `$`, at most MAX_BARE_ARG bytes
            let mut k = j;
            while k < b.len() && k - j < MAX_BARE_ARG && !b[k].is_ascii_whitespace() && b[k] != b'$'
            {
                *steps += 1;
                k += 1;
            }
            if !s.is_char_boundary(j) || !s.is_char_boundary(k) {
                continue;
            }
            let mut e = k;
            while e > j && matches!(b[e - 1], b'.' | b',') {
                e -= 1;
            }
            if e > j {
                ranges.push((start, k, j, e));
            }
        }
    }
    ranges
        .into_iter()
        .map(|(start, end, cs, ce)| {
            *steps += (ce - cs) as u64;
            Boxed {
                start,
                end,
                content: s[cs..ce].to_string(),
            }
        })
        .collect()
}

fn word_count(gap: &str) -> Option<usize> {
    if gap.len() > 80 {
        return None;
    }
    let mut n = 0;
    let mut in_word = false;
    let mut chars = gap.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            // skip command names
            while chars.peek().is_some_and(|d| d.is_ascii_alphabetic()) {
                chars.next();
            }
            in_word = false;
            continue;
        }
        if c.is_alphanumeric() {
            if !in_word {
                n += 1;
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    Some(n)
}

/// The last box of a *reference* solution, joined with the boxes just before it when only a
/// few words separate them (`\boxed{1} and \boxed{2}` → `1, 2`); repeated boxes count once.
/// Linear time. (Responses are read by [`extract_detailed`], which is stricter.)
pub fn last_boxed_group(s: &str) -> Option<String> {
    let all = boxed_all(s);
    let last = all.last()?;
    let mut group = vec![last.content.as_str()];
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    seen.insert(&last.content);
    let mut cur = last.start;
    for b in all.iter().rev().skip(1) {
        let gap = &s[b.end.min(cur)..cur];
        match word_count(gap) {
            Some(n) if n <= 4 => {
                if seen.insert(&b.content) {
                    group.push(&b.content);
                }
                cur = b.start;
            }
            _ => break,
        }
    }
    group.reverse();
    Some(group.join(", "))
}

/// Is the text between two boxes only list punctuation — spaces, `,`, `;`, `&`, `$`, `\(`,
/// `\)`, `\[`, `\]`, `\quad`, `\qquad`, `\,`, `\;`, `\\`, braces, `\text{…}` and the word
/// "and"? Then the boxes are one answer list (`\boxed{1} and \boxed{2}`).
fn list_separator(gap: &str) -> bool {
    if gap.len() > 80 {
        return false;
    }
    let b = gap.as_bytes();
    let mut i = 0;
    let mut ands = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b';' | b'&' | b'$' | b'{' | b'}' => i += 1,
            b'\\' => {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_alphabetic() {
                    j += 1;
                }
                let name = &gap[i + 1..j];
                if j == i + 1 {
                    // one-symbol command
                    match b.get(i + 1) {
                        Some(b'(' | b')' | b'[' | b']' | b',' | b';' | b'\\' | b' ') => i += 2,
                        _ => return false,
                    }
                } else if matches!(name, "quad" | "qquad" | "text" | "textrm" | "mathrm") {
                    i = j;
                } else {
                    return false;
                }
            }
            c if c.is_ascii_alphabetic() => {
                let mut j = i;
                while j < b.len() && b[j].is_ascii_alphabetic() {
                    j += 1;
                }
                if !gap[i..j].eq_ignore_ascii_case("and") {
                    return false;
                }
                ands += 1;
                i = j;
            }
            _ => return false,
        }
    }
    ands <= 1
}

/// Byte ranges of code: fenced blocks (a line starting with three backticks opens or closes
/// one; an unclosed fence runs to the end) and inline `…` spans within a line. Linear.
fn code_ranges(s: &str, steps: &mut u64) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    if !s.contains('`') {
        return out;
    }
    let mut fence: Option<usize> = None;
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        *steps += 1;
        if line_start {
            let mut j = i;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if b[j..].starts_with(b"```") {
                match fence.take() {
                    Some(st) => out.push((st, j + 3)),
                    None => fence = Some(j),
                }
                // skip the rest of the fence line
                let mut k = j;
                while k < b.len() && b[k] != b'\n' {
                    *steps += 1;
                    k += 1;
                }
                i = k;
                line_start = false;
                continue;
            }
        }
        line_start = b[i] == b'\n';
        if fence.is_none() && b[i] == b'`' {
            let mut k = i + 1;
            while k < b.len() && b[k] != b'`' && b[k] != b'\n' {
                *steps += 1;
                k += 1;
            }
            if k < b.len() && b[k] == b'`' {
                out.push((i, k + 1));
                i = k + 1;
                continue;
            }
            i = k; // unmatched: no other backtick on this line
            continue;
        }
        i += 1;
    }
    if let Some(st) = fence {
        out.push((st, b.len()));
    }
    out
}

/// Contents of `$$…$$`, `\[…\]`, `$…$`, `\(…\)` segments in order (inline ones end at a
/// newline).
pub fn math_segments(s: &str) -> Vec<String> {
    math_segments_at(s).into_iter().map(|(_, c)| c).collect()
}

/// Like [`math_segments`], with the byte offset where each segment ends.
pub fn math_segments_at(s: &str) -> Vec<(usize, String)> {
    math_segment_spans(s, &mut 0)
        .into_iter()
        .map(|(_, e, c)| (e, c))
        .collect()
}

/// (start of the opener, end past the closer, trimmed content) of each math segment. Linear.
fn math_segment_spans(s: &str, steps: &mut u64) -> Vec<(usize, usize, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Err(p): no closer before p (a newline for inline math, else the end of the text)
    let find = |from: usize, pat: &str, inline: bool, steps: &mut u64| -> Result<usize, usize> {
        let mut k = from;
        while k + pat.len() <= b.len() {
            *steps += 1;
            if inline && b[k] == b'\n' {
                return Err(k);
            }
            if b[k] == b'\\' && pat == "$" {
                k += 2;
                continue;
            }
            if b[k..].starts_with(pat.as_bytes()) {
                return Ok(k);
            }
            k += 1;
        }
        Err(b.len())
    };
    // an opener whose closer was not found before `dead[kind]` cannot be closed by a later
    // opener of the same kind before that point either: skip them (keeps this linear)
    let mut dead = [0usize; 4];
    while i < b.len() {
        *steps += 1;
        let (kind, open, close, inline) = if b[i..].starts_with(b"$$") {
            (0, "$$", "$$", false)
        } else if b[i..].starts_with(b"\\[") {
            (1, "\\[", "\\]", false)
        } else if b[i..].starts_with(b"\\(") {
            (2, "\\(", "\\)", true)
        } else if b[i] == b'$' {
            (3, "$", "$", true)
        } else if b[i] == b'\\' {
            i += 2;
            continue;
        } else {
            i += 1;
            continue;
        };
        let cs = i + open.len();
        if cs <= dead[kind] {
            i = cs;
            continue;
        }
        match find(cs, close, inline, steps) {
            Ok(k) => {
                let c = s[cs..k].trim();
                if !c.is_empty() {
                    out.push((i, k + close.len(), c.to_string()));
                }
                i = k + close.len();
            }
            Err(stop) => {
                dead[kind] = stop;
                i = cs;
            }
        }
        while i < b.len() && !s.is_char_boundary(i) {
            i += 1;
        }
    }
    out
}

/// The last number of the text: `-12`, `1,000.99`, `2,74`, `3/4`; a number glued to a
/// preceding letter (`AZYUK2A`) is not one.
pub fn last_number(s: &str) -> Option<String> {
    last_number_span(s, &mut 0).map(|(_, _, n)| n)
}

/// Like [`last_number`], with the byte range of the number. Linear.
fn last_number_span(s: &str, steps: &mut u64) -> Option<(usize, usize, String)> {
    let b = s.as_bytes();
    let mut best = None;
    let mut i = 0;
    // previous char, tracked for non-ASCII letters glued to a digit
    let prev_alnum = |i: usize| -> bool {
        s[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_')
    };
    while i < b.len() {
        *steps += 1;
        if !b[i].is_ascii_digit() || (i > 0 && prev_alnum(i)) {
            i += 1;
            continue;
        }
        let st = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
        let mut j = i;
        while j < b.len()
            && (b[j].is_ascii_digit()
                || (matches!(b[j], b',' | b'.' | b'/')
                    && b.get(j + 1).is_some_and(|c| c.is_ascii_digit())))
        {
            *steps += 1;
            j += 1;
        }
        best = Some((st, j));
        i = j;
    }
    best.map(|(st, j)| (st, j, s[st..j].to_string()))
}

/// Is the number starting at byte `a` the last item of a list (`2, 3, or 5`, `4 and 5`,
/// `3 to 5`): a `,`/`;` or one of "and", "or", "to", "through" right before it, with a number
/// before that?
fn in_list(s: &str, a: usize) -> bool {
    let mut before = s[..a].trim_end();
    let mut sep = false;
    if let Some(x) = before.strip_suffix([',', ';']) {
        before = x.trim_end();
        sep = true;
    } else {
        for w in ["and", "or", "to", "through"] {
            let n = before.len();
            let is_word = n >= w.len()
                && before.is_char_boundary(n - w.len())
                && before[n - w.len()..].eq_ignore_ascii_case(w)
                && before[..n - w.len()]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
            if is_word {
                before = before[..n - w.len()].trim_end();
                before = before.strip_suffix(',').unwrap_or(before).trim_end();
                sep = true;
                break;
            }
        }
    }
    sep && before
        .trim_end_matches(['$', ')', '}'])
        .ends_with(|c: char| c.is_ascii_digit())
}

/// "final answer is …", "the answer is …", "answer: …": (byte offset in `s` where the answer
/// text starts, the text up to the end of its sentence). Linear.
fn phrase(s: &str) -> Option<(usize, String)> {
    let lower = s.to_ascii_lowercase();
    let pats = [
        "final answer is",
        "the answer is",
        "answer is",
        "final answer:",
        "answer:",
    ];
    let mut best: Option<usize> = None;
    for p in pats {
        if let Some(k) = lower.rfind(p) {
            let e = k + p.len();
            if best.is_none_or(|b| e > b) {
                best = Some(e);
            }
        }
    }
    let start = best?;
    let rest = &s[start..];
    // up to the end of the sentence (outside math)
    let mut end = rest.len();
    let mut in_math = false;
    let mut seen = false; // a non-space char so far
    let mut it = rest.char_indices().peekable();
    while let Some((k, ch)) = it.next() {
        match ch {
            '$' => in_math = !in_math,
            '\n' if !in_math && seen => {
                end = k;
                break;
            }
            '.' if !in_math => {
                let next = it.peek().map(|x| x.1);
                if next.is_none_or(|d| !d.is_ascii_digit()) && seen {
                    end = k;
                    break;
                }
            }
            _ => {}
        }
        if !in_math && ch == 'I' && rest[k..].starts_with("I hope") {
            end = k;
            break;
        }
        if !ch.is_whitespace() {
            seen = true;
        }
    }
    let raw = &rest[..end];
    let lead = raw.len() - raw.trim_start().len();
    let mut text = raw.trim();
    let mut off = start + lead;
    if let Some(t) = text.strip_prefix(':') {
        let t2 = t.trim_start();
        off += text.len() - t2.len();
        text = t2;
    }
    let text = text.trim_end();
    // "the answer is that the value is 5": the part after the last " is "
    let tl = text.to_ascii_lowercase();
    let (off, text) = match tl.rfind(" is ") {
        Some(k) => {
            let t = text[k + 4..].trim_start();
            (off + text.len() - t.len(), t.trim_end())
        }
        None => (off, text),
    };
    if text.is_empty() {
        return None;
    }
    Some((off, text.to_string()))
}

/// The last bold `**…**` span: (start of its content, content).
fn bold(s: &str) -> Option<(usize, String)> {
    let idx: Vec<usize> = s.match_indices("**").map(|(k, _)| k).collect();
    if idx.len() < 2 {
        return None;
    }
    // pairs (0,1), (2,3), …: the last complete pair
    let last_pair = (idx.len() / 2) * 2 - 2;
    let (a, b) = (idx[last_pair] + 2, idx[last_pair + 1]);
    let c = s[a..b].trim();
    (!c.is_empty() && c.len() < 200 && !c.to_ascii_lowercase().contains("final answer")).then(
        || {
            (
                a + (s[a..b].len() - s[a..b].trim_start().len()),
                c.to_string(),
            )
        },
    )
}

fn parses(s: &str, limits: &Limits) -> bool {
    let budget = Budget::new(limits.max_steps / 4);
    parse_expr(&prepare(s), limits, &budget, true).is_ok()
}

/// Reduce a piece of prose to its answer: its last math segment, else itself when it parses,
/// else its last number.
fn refine(text: &str, opts: &ExtractOptions, limits: &Limits) -> Option<String> {
    if text.contains('$') && parses(text, limits) {
        let t = text.replace("\\\"", " ").replace(['"', '$'], " ");
        return Some(t.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if let Some(m) = math_segments(text).pop() {
        return Some(m);
    }
    if parses(text, limits) {
        return Some(text.to_string());
    }
    if opts.last_number {
        return last_number(text);
    }
    None
}

fn refused(answer: Option<&str>, why: impl Into<String>) -> Extraction {
    Extraction::Refused {
        answer: answer.map(String::from),
        why: why.into(),
    }
}

/// A stated answer in prose (a phrase or a bold span) at `off` in `s`: cut at a negation of
/// another value (`$\frac34$, not $\frac43$`), refused when hedged or negated, then refined.
fn prose_answer(
    s: &str,
    off: usize,
    text: &str,
    opts: &ExtractOptions,
    limits: &Limits,
    steps: &mut u64,
) -> Option<Result<String, Extraction>> {
    let mut t = text;
    if let Some((k, hedge, value_follows)) = first_stance_word(t, steps) {
        let head = t[..k].trim_end().trim_end_matches([',', ';']).trim_end();
        if hedge {
            return Some(Err(refused(Some(text), Stance::Hedged.describe())));
        }
        if !value_follows || head.is_empty() {
            return Some(Err(refused(Some(text), Stance::Negated.describe())));
        }
        t = head;
    }
    if let Some(st) = stance_at(s, off, off + t.len(), steps) {
        return Some(Err(refused(Some(t), st.describe())));
    }
    refine(t, opts, limits).map(Ok)
}

/// The part of a response that is graded: after the last `</think>` when there is one (the
/// reasoning before it is not the answer).
fn graded_region(response: &str) -> &str {
    match response.rfind("</think>") {
        Some(k) => &response[k + "</think>".len()..],
        None => response,
    }
}

/// Extract the final answers of `response` with the given stages (rules in the module docs).
pub fn extract_detailed(response: &str, opts: &ExtractOptions, limits: &Limits) -> Extraction {
    extract_counted(response, opts, limits).0
}

/// [`extract_detailed`] and the number of scanning steps it took (bytes and words visited,
/// outside the parser's own budget); linear in the response's length.
pub fn extract_counted(
    response: &str,
    opts: &ExtractOptions,
    limits: &Limits,
) -> (Extraction, u64) {
    let mut steps = 0u64;
    let r = extract_inner(response, opts, limits, &mut steps);
    (r, steps)
}

fn extract_inner(
    response: &str,
    opts: &ExtractOptions,
    limits: &Limits,
    steps: &mut u64,
) -> Extraction {
    if response.len() > limits.max_response_bytes {
        return refused(
            None,
            format!("response longer than {} bytes", limits.max_response_bytes),
        );
    }
    let s = graded_region(response);
    *steps += (response.len() - s.len()) as u64;
    let boxes: Vec<Boxed> = if opts.boxed || opts.phrases {
        let all = boxed_all_counted(s, steps);
        let code = code_ranges(s, steps);
        let mut ci = 0;
        all.into_iter()
            .filter(|x| {
                while ci < code.len() && code[ci].1 <= x.start {
                    ci += 1;
                }
                !(ci < code.len() && code[ci].0 <= x.start)
            })
            .collect()
    } else {
        Vec::new()
    };
    let boxed_end = boxes.last().map(|b| b.end);
    // lenient: a closing "The final answer is …" after the last box is the final answer
    let mut tail_answer: Option<String> = None;
    if let Some(be) = boxed_end {
        // only a phrase that states a value ("… is correct" is not one)
        let tail_phrase = phrase(&s[be..])
            .filter(|(_, p)| p.contains(|c: char| c.is_ascii_digit() || c == '$' || c == '\\'));
        *steps += (s.len() - be) as u64;
        if let Some((off, p)) = tail_phrase {
            match prose_answer(s, be + off, &p, opts, limits, steps) {
                Some(Ok(a)) if opts.phrases => return Extraction::Answers(vec![a]),
                Some(Err(e)) if opts.phrases => return e,
                Some(Ok(a)) => tail_answer = Some(a),
                Some(Err(e)) if opts.boxed => return e,
                _ => {}
            }
        }
    }
    if opts.boxed && !boxes.is_empty() {
        return boxed_answers(s, &boxes, tail_answer, limits, steps);
    }
    if opts.phrases {
        if let Some((off, p)) = phrase(s) {
            *steps += s.len() as u64;
            if let Some(r) = prose_answer(s, off, &p, opts, limits, steps) {
                return match r {
                    Ok(a) => Extraction::Answers(vec![a]),
                    Err(e) => e,
                };
            }
        }
        if let Some((off, b)) = bold(s) {
            *steps += s.len() as u64;
            if let Some(r) = prose_answer(s, off, &b, opts, limits, steps) {
                return match r {
                    Ok(a) => Extraction::Answers(vec![a]),
                    Err(e) => e,
                };
            }
        }
    }
    if opts.whole && s.len() <= 400 && parses(s, limits) {
        return Extraction::Answers(vec![s.trim().to_string()]);
    }
    let seg = if opts.math_segments {
        math_segment_spans(s, steps).pop()
    } else {
        None
    };
    let num = if opts.last_number {
        last_number_span(s, steps)
    } else {
        None
    };
    // a number after the last math segment is the later statement
    let (a, b, text, is_number) = match (seg, num) {
        (Some((sa, se, m)), Some((na, ne, n))) => {
            if na >= se {
                (na, ne, n, true)
            } else {
                (sa, se, m, false)
            }
        }
        (Some((sa, se, m)), None) => (sa, se, m, false),
        (None, Some((na, ne, n))) => (na, ne, n, true),
        (None, None) => return Extraction::Nothing,
    };
    if is_number && in_list(s, a) {
        return refused(Some(&text), "the last number is one item of a list");
    }
    if let Some(st) = stance_at(s, a, b, steps) {
        return refused(Some(&text), st.describe());
    }
    Extraction::Answers(vec![text])
}

/// The answers of the boxes of `s` (outside code): adjacent boxes separated only by list
/// punctuation form one answer `\{a, b\}`; each box must be neither negated nor hedged, the
/// text after the last must not retract it, and at most [`MAX_DISTINCT_ANSWERS`] different
/// answers may be stated. `tail` is a final-answer phrase after the last box (strict mode),
/// one more answer that must agree.
fn boxed_answers(
    s: &str,
    boxes: &[Boxed],
    tail: Option<String>,
    limits: &Limits,
    steps: &mut u64,
) -> Extraction {
    let mut groups: Vec<Vec<&str>> = Vec::new();
    let mut prev_end: Option<usize> = None;
    for (k, bx) in boxes.iter().enumerate() {
        let content = unwrap_boxes(&bx.content, steps);
        if has_negation(content, steps) {
            return refused(Some(content), Stance::Negated.describe());
        }
        // the window stops at the neighbouring boxes (their own windows cover the rest)
        let lo = prev_end.unwrap_or(0);
        let hi = boxes.get(k + 1).map_or(s.len(), |n| n.start);
        if let Some(st) = stance_within(s, bx.start, bx.end, lo, hi, steps) {
            return refused(Some(content), st.describe());
        }
        let joined = prev_end.is_some_and(|pe| list_separator(&s[pe..bx.start]));
        *steps += prev_end.map_or(0, |pe| (bx.start - pe).min(81) as u64);
        match groups.last_mut() {
            Some(g) if joined => {
                if !g.contains(&content) {
                    if g.len() == MAX_LIST_ITEMS {
                        return refused(
                            Some(content),
                            format!("more than {MAX_LIST_ITEMS} boxes in one answer list"),
                        );
                    }
                    g.push(content);
                }
            }
            _ => groups.push(vec![content]),
        }
        prev_end = Some(bx.end);
    }
    if let Some(last) = boxes.last() {
        if retracted_after(s, last.end, steps) {
            return refused(Some(&last.content), Stance::Retracted.describe());
        }
    }
    let mut answers: Vec<String> = Vec::new();
    let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
    let candidates = groups
        .into_iter()
        .map(|g| {
            if g.len() == 1 {
                g[0].to_string()
            } else {
                format!("\\{{{}\\}}", g.join(", "))
            }
        })
        .chain(tail);
    for c in candidates {
        *steps += c.len() as u64;
        // an over-long answer is refused by the comparison anyway: no key needed
        let key = if c.len() <= limits.max_answer_bytes {
            text_key(&c)
        } else {
            c.clone()
        };
        if keys.insert(key) {
            if answers.len() == MAX_DISTINCT_ANSWERS {
                return refused(
                    answers.last().map(|x| x.as_str()),
                    format!("more than {MAX_DISTINCT_ANSWERS} different boxed answers"),
                );
            }
            answers.push(c);
        }
    }
    Extraction::Answers(answers)
}

/// `\boxed{\boxed{5}}` → `5` (a box whose whole content is another box).
fn unwrap_boxes<'a>(mut c: &'a str, steps: &mut u64) -> &'a str {
    for _ in 0..8 {
        let t = c.trim();
        if !t.starts_with("\\boxed") && !t.starts_with("\\fbox") {
            return t;
        }
        let inner = boxed_all_counted(t, steps);
        match inner.as_slice() {
            [one] if one.start == 0 && one.end == t.len() && t.ends_with('}') => {
                let cs = t.len() - one.content.len() - 1;
                c = &t[cs..t.len() - 1];
            }
            _ => return t,
        }
    }
    c.trim()
}

/// Extract the final answer from `response` with the given stages: the answer when exactly one
/// is stated and credited by the rules, else None.
pub fn extract_with(response: &str, opts: &ExtractOptions, limits: &Limits) -> Option<String> {
    match extract_detailed(response, opts, limits) {
        Extraction::Answers(mut v) if v.len() == 1 => v.pop(),
        _ => None,
    }
}

/// Extract the final answer from a model response (`None`: nothing found).
pub fn extract_answer(response: &str, mode: ExtractMode) -> Option<String> {
    extract_with(response, &mode.options(), &Limits::default())
}

/// Multiple-choice letter of a response, among `letters` (e.g. "ABCDE"): the letter after
/// "answer is" / "answer:", else a letter opening the response (`A.`, `(B)`), else the first
/// standalone allowed capital letter. `\boxed{(C)}` and `\text{(C)}` count.
pub fn extract_choice(response: &str, letters: &str) -> Option<char> {
    let allowed = |c: char| letters.contains(c);
    let standalone = |s: &str| -> Option<char> {
        let c: Vec<char> = s.chars().collect();
        (0..c.len()).find_map(|i| {
            let before = i == 0 || !c[i - 1].is_alphanumeric();
            let after = i + 1 == c.len() || !c[i + 1].is_alphanumeric();
            (allowed(c[i]) && before && after).then_some(c[i])
        })
    };
    if let Some(b) = last_boxed_group(response) {
        let inner = b.replace("\\text", "").replace("\\textbf", "");
        if let Some(l) = standalone(&inner) {
            return Some(l);
        }
    }
    if let Some((_, p)) = phrase(response) {
        if let Some(l) = standalone(&p) {
            return Some(l);
        }
    }
    let t = response.trim_start().trim_start_matches('(');
    let mut cs = t.chars();
    if let (Some(a), b) = (cs.next(), cs.next()) {
        if allowed(a) && b.is_none_or(|b| matches!(b, '.' | ')' | ':' | ' ')) {
            return Some(a);
        }
    }
    standalone(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_nested_and_unbraced() {
        assert_eq!(
            extract_answer("so $\\boxed{\\frac{1}{2}}$.", ExtractMode::Strict).as_deref(),
            Some("\\frac{1}{2}")
        );
        assert_eq!(
            extract_answer("\\boxed 5.", ExtractMode::Strict).as_deref(),
            Some("5")
        );
        // boxes joined by list punctuation are one answer list; others are separate answers
        assert_eq!(
            extract_answer("\\fbox{3} and \\boxed{4} done.", ExtractMode::Strict).as_deref(),
            Some("\\{3, 4\\}")
        );
        let lim = Limits::default();
        let o = ExtractOptions::strict();
        assert_eq!(
            extract_detailed("\\fbox{3} then \\boxed{4}", &o, &lim),
            Extraction::Answers(vec!["3".into(), "4".into()])
        );
        assert_eq!(
            extract_answer("\\fbox{3} then \\boxed{4}", ExtractMode::Strict),
            None
        );
        assert_eq!(
            extract_detailed("\\boxed{2} so \\boxed{2}", &o, &lim),
            Extraction::Answers(vec!["2".into()])
        );
        assert_eq!(extract_answer("the answer is 5", ExtractMode::Strict), None);
    }

    #[test]
    fn lenient_fallbacks() {
        let l = ExtractMode::Lenient;
        assert_eq!(
            extract_answer("Thus the answer is $\\frac{3}{4}$. I hope", l).as_deref(),
            Some("\\frac{3}{4}")
        );
        assert_eq!(
            extract_answer("Final Answer: The largest $n$ is 34.", l).as_deref(),
            Some("34")
        );
        assert_eq!(
            extract_answer("\\sqrt{72}", l).as_deref(),
            Some("\\sqrt{72}")
        );
        assert_eq!(
            extract_answer("We get **42** apples", l).as_deref(),
            Some("42")
        );
        assert_eq!(
            extract_answer("which is 1,000.99€", l).as_deref(),
            Some("1,000.99")
        );
        assert_eq!(extract_answer("AZYUK2A", l), None);
    }
}
