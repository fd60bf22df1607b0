//! Finding the final answer in a model response: the last `\boxed{}` / `\fbox{}` (adjacent
//! boxes joined into one list), then — in lenient mode only — "the answer is …" / "Answer: …"
//! phrases, a bold `**…**`, the whole response when it is bare math, the last `$…$` /
//! `\(…\)` / `\[…\]` segment, and the last number.
use serde::{Deserialize, Serialize};

use super::latex::parse_expr;
use super::limits::{Budget, Limits};
use super::normalize::prepare;

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

/// All `\boxed{…}`, `\boxed …`, `\fbox{…}` occurrences in order.
pub fn boxed_all(s: &str) -> Vec<Boxed> {
    let b = s.as_bytes();
    // openers: (start of the command, index of its `{` or of its bare argument)
    let mut openers: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
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
    let first = openers[0].1;
    let mut k = first;
    while k < b.len() {
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
    let mut out = Vec::new();
    for (start, j) in openers {
        if b.get(j) == Some(&b'{') {
            if let Some(&k) = closes.get(&j) {
                out.push(Boxed {
                    start,
                    end: k + 1,
                    content: s[j + 1..k].to_string(),
                });
            }
        } else {
            // `\boxed 5`: up to whitespace or `$`
            let mut k = j;
            while k < b.len() && !b[k].is_ascii_whitespace() && b[k] != b'$' {
                k += 1;
            }
            if !s.is_char_boundary(j) || !s.is_char_boundary(k) {
                continue;
            }
            let content = s[j..k].trim_end_matches(['.', ',']).to_string();
            if !content.is_empty() {
                out.push(Boxed {
                    start,
                    end: k,
                    content,
                });
            }
        }
    }
    // nested boxes: keep the outer ones only when one contains the other
    out.sort_by_key(|x| x.start);
    let mut kept: Vec<Boxed> = Vec::new();
    for x in out {
        if kept.last().is_some_and(|l| x.start < l.end) {
            continue;
        }
        kept.push(x);
    }
    kept
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

/// The last box, joined with the boxes just before it when only a few words separate them
/// (`\boxed{1} and \boxed{2}` → `1, 2`). Repeated identical boxes count once.
pub fn last_boxed_group(s: &str) -> Option<String> {
    let all = boxed_all(s);
    let last = all.last()?;
    let mut group = vec![last.content.clone()];
    let mut cur = last.start;
    for b in all.iter().rev().skip(1) {
        let gap = &s[b.end.min(cur)..cur];
        match word_count(gap) {
            Some(n) if n <= 4 => {
                if !group.contains(&b.content) {
                    group.push(b.content.clone());
                }
                cur = b.start;
            }
            _ => break,
        }
    }
    group.reverse();
    Some(group.join(", "))
}

/// Contents of `$$…$$`, `\[…\]`, `$…$`, `\(…\)` segments in order (inline ones end at a
/// newline).
pub fn math_segments(s: &str) -> Vec<String> {
    math_segments_at(s).into_iter().map(|(_, c)| c).collect()
}

/// Like [`math_segments`], with the byte offset where each segment ends.
pub fn math_segments_at(s: &str) -> Vec<(usize, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Err(p): no closer before p (a newline for inline math, else the end of the text)
    let find = |from: usize, pat: &str, inline: bool| -> Result<usize, usize> {
        let mut k = from;
        while k + pat.len() <= b.len() {
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
        match find(cs, close, inline) {
            Ok(k) => {
                let c = s[cs..k].trim();
                if !c.is_empty() {
                    out.push((k + close.len(), c.to_string()));
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
    last_number_at(s).map(|(_, n)| n)
}

/// Like [`last_number`], with the char index where the number starts.
pub fn last_number_at(s: &str) -> Option<(usize, String)> {
    let c: Vec<char> = s.chars().collect();
    let mut best = None;
    let mut i = 0;
    while i < c.len() {
        if !c[i].is_ascii_digit()
            || (i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '.' || c[i - 1] == '_'))
        {
            i += 1;
            continue;
        }
        let st = if i > 0 && c[i - 1] == '-' { i - 1 } else { i };
        let mut j = i;
        while j < c.len()
            && (c[j].is_ascii_digit()
                || ((c[j] == ',' || c[j] == '.' || c[j] == '/')
                    && j + 1 < c.len()
                    && c[j + 1].is_ascii_digit()))
        {
            j += 1;
        }
        best = Some((st, c[st..j].iter().collect::<String>()));
        i = j;
    }
    best
}

fn phrase(s: &str) -> Option<String> {
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
    let rc: Vec<(usize, char)> = rest.char_indices().collect();
    let mut end = rest.len();
    let mut in_math = false;
    for (n, &(k, ch)) in rc.iter().enumerate() {
        match ch {
            '$' => in_math = !in_math,
            '\n' if !in_math && !rest[..k].trim().is_empty() => {
                end = k;
                break;
            }
            '.' if !in_math => {
                let next = rc.get(n + 1).map(|x| x.1);
                if next.is_none_or(|d| !d.is_ascii_digit()) && !rest[..k].trim().is_empty() {
                    end = k;
                    break;
                }
            }
            _ => {}
        }
        if !in_math && rest[k..].starts_with("I hope") {
            end = k;
            break;
        }
    }
    let mut text = rest[..end]
        .trim()
        .trim_start_matches(':')
        .trim()
        .to_string();
    let tl = text.to_ascii_lowercase();
    if let Some(k) = tl.rfind(" is ") {
        text = text[k + 4..].trim().to_string();
    }
    if text.is_empty() {
        return None;
    }
    Some(text)
}

fn bold(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split("**").collect();
    if parts.len() < 3 {
        return None;
    }
    // odd indices are inside ** **
    let mut k = parts.len() - 2;
    if k.is_multiple_of(2) {
        k -= 1;
    }
    let c = parts[k].trim();
    (!c.is_empty() && c.len() < 200 && !c.to_ascii_lowercase().contains("final answer"))
        .then(|| c.to_string())
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

/// Extract the final answer from `response` with the given stages.
pub fn extract_with(response: &str, opts: &ExtractOptions, limits: &Limits) -> Option<String> {
    let mut s = response;
    if s.len() > limits.max_response_bytes {
        let mut k = s.len() - limits.max_response_bytes;
        while !s.is_char_boundary(k) {
            k += 1;
        }
        s = &s[k..];
    }
    let boxed_end = boxed_all(s).last().map(|b| b.end);
    if opts.phrases {
        // a closing "The final answer is …" after the last box overrides it
        if let Some(be) = boxed_end {
            if let Some(p) = phrase(&s[be..]) {
                if let Some(r) = refine(&p, opts, limits) {
                    return Some(r);
                }
            }
        }
    }
    if opts.boxed {
        if let Some(b) = last_boxed_group(s) {
            return Some(b);
        }
    }
    if opts.phrases {
        if let Some(p) = phrase(s) {
            if let Some(r) = refine(&p, opts, limits) {
                return Some(r);
            }
        }
        if let Some(b) = bold(s) {
            if let Some(r) = refine(&b, opts, limits) {
                return Some(r);
            }
        }
    }
    if opts.whole && s.len() <= 400 && parses(s, limits) {
        return Some(s.trim().to_string());
    }
    let seg = if opts.math_segments {
        math_segments_at(s).pop()
    } else {
        None
    };
    let num = if opts.last_number {
        last_number_at(s)
    } else {
        None
    };
    match (seg, num) {
        (Some((end, m)), Some((start, n))) => {
            // a number after the last math segment is the later statement
            let end_chars = s[..end].chars().count();
            Some(if start >= end_chars { n } else { m })
        }
        (Some((_, m)), None) => Some(m),
        (None, Some((_, n))) => Some(n),
        (None, None) => None,
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
    if let Some(p) = phrase(response) {
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
        assert_eq!(
            extract_answer(
                "\\fbox{3} then \\boxed{4} done. Many more words here to separate",
                ExtractMode::Strict
            )
            .as_deref(),
            Some("3, 4")
        );
        assert_eq!(
            extract_answer(
                "a \\boxed{1} no no no no no \\boxed{2}",
                ExtractMode::Strict
            )
            .as_deref(),
            Some("2")
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
