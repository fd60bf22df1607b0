//! Whether the words around a stated answer take it back: negated, hedged, questioned or
//! retracted answers are not credited (a careful grader reads the sentence, not just the box).
//!
//! Rules, for an answer at bytes `[a, b)` of a response:
//! - Its **window** is its clause before it (back to the nearest `.`, `;`, `:`, `,`, `!`, `?`
//!   or newline, at most [`WINDOW`] bytes) and its sentence after it (up to the nearest `.`
//!   not inside a number, `;`, `!`, `?` or newline, at most [`WINDOW`] bytes). Words are runs
//!   of ASCII letters and apostrophes outside command names (`\notin` is no word, `\text{not}`
//!   holds "not"); case is ignored.
//! - A **negation** word in the window ([`NEGATIONS`], or any word ending in `n't`) takes the
//!   answer back, unless it is directly followed by another value (a digit, sign, `$`, `\`,
//!   bracket) that is not the answer itself: `\boxed{5}, not 6` keeps 5, `not \boxed{5}` and
//!   `\boxed{5} is not the answer` do not.
//!   A negation before an earlier value is about that value: the window before the answer
//!   starts after the last digit that precedes it (`not 10, it's 1000` keeps 1000).
//! - A **hedge** word in the window ([`HEDGES`]: `or`, `either`, `maybe`, …) always does: a
//!   response must commit to one answer. In a stated answer's own text ("the answer is …")
//!   [`PHRASE_HEDGES`] count too (`between 3 and 5`, `about 5`).
//! - A `?` right after the answer (past closing `$`, `\)`, `\]`, `}` and spaces) makes it a
//!   question.
//! - A **retraction** word ([`RETRACTIONS`]: `wait`, `wrong`, `mistake`, …) anywhere after the
//!   final answer takes it back.
//!
//! All scans are linear in the bytes they look at; callers charge them to a step counter.

/// Most bytes looked at on each side of an answer.
pub const WINDOW: usize = 160;

/// Words that deny what they are attached to.
pub const NEGATIONS: &[&str] = &[
    "not",
    "never",
    "neither",
    "nor",
    "none",
    "cannot",
    "wrong",
    "incorrect",
    "false",
    "invalid",
    "mistake",
    "mistaken",
    "erroneous",
];

/// Words that leave the answer open.
pub const HEDGES: &[&str] = &[
    "or", "either", "maybe", "perhaps", "possibly", "might", "whether", "unsure",
];

/// Hedges only when they open a stated answer ("the answer is between 3 and 5"); elsewhere
/// they are ordinary prose ("the angle between the lines is …").
pub const PHRASE_HEDGES: &[&str] = &["between", "around", "about", "roughly"];

/// Words after the final answer that take it back.
pub const RETRACTIONS: &[&str] = &[
    "wait",
    "wrong",
    "incorrect",
    "mistake",
    "mistaken",
    "erroneous",
    "oops",
    "actually",
    "scratch",
];

/// Why an answer is not credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stance {
    /// A negation word is attached to it.
    Negated,
    /// A hedge word is in its window.
    Hedged,
    /// It is asked, not stated.
    Question,
    /// A later word takes it back.
    Retracted,
}

impl Stance {
    /// A short reason for a verdict.
    pub fn describe(self) -> &'static str {
        match self {
            Stance::Negated => "the answer is negated by the words around it",
            Stance::Hedged => "the answer is hedged (\"or\", \"either\", \"maybe\", …)",
            Stance::Question => "the answer is asked as a question",
            Stance::Retracted => "the answer is retracted later in the response",
        }
    }
}

/// Longest word kept for matching (no listed word is longer).
const MAX_WORD: usize = 12;

/// A word of `s`: byte range and lower-cased letters (apostrophes removed, `’` counts as
/// one); words longer than [`MAX_WORD`] letters keep no text (they match nothing).
struct Word {
    end: usize,
    start: usize,
    buf: [u8; MAX_WORD],
    len: usize,
}

impl Word {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len.min(MAX_WORD)]).unwrap_or("")
    }
}

/// Calls `f` on each word of `s[from..to]` (offsets into `s`), skipping command names, until
/// `f` returns true; returns whether it did. `steps` counts the chars visited.
fn find_word(
    s: &str,
    from: usize,
    to: usize,
    steps: &mut u64,
    mut f: impl FnMut(&Word) -> bool,
) -> bool {
    let seg = &s[from..to];
    let mut it = seg.char_indices().peekable();
    while let Some((k, c)) = it.next() {
        *steps += 1;
        if c == '\\' {
            while it.peek().is_some_and(|&(_, d)| d.is_ascii_alphabetic()) {
                *steps += 1;
                it.next();
            }
            continue;
        }
        if c.is_ascii_alphabetic() {
            let mut w = Word {
                start: from + k,
                end: from + k + 1,
                buf: [0; MAX_WORD],
                len: 0,
            };
            let push = |w: &mut Word, d: char| {
                if w.len < MAX_WORD {
                    w.buf[w.len] = d.to_ascii_lowercase() as u8;
                }
                w.len += 1;
            };
            push(&mut w, c);
            while let Some(&(j, d)) = it.peek() {
                if d.is_ascii_alphabetic() {
                    push(&mut w, d);
                } else if d != '\'' && d != '’' {
                    break;
                }
                *steps += 1;
                w.end = from + j + d.len_utf8();
                it.next();
            }
            if w.len > MAX_WORD {
                w.len = 0; // too long to be a listed word
            }
            if f(&w) {
                return true;
            }
        }
    }
    false
}

fn is_negation(w: &str) -> bool {
    NEGATIONS.contains(&w) || NT_WORDS.contains(&w)
}

/// Negations that deny an answer even inside its own box (`\boxed{\text{not } 5}`); words
/// like "false" or "none" can be answers themselves.
fn is_plain_negation(w: &str) -> bool {
    matches!(w, "not" | "never" | "cannot") || NT_WORDS.contains(&w)
}

/// Contractions in `n't` (apostrophe removed).
const NT_WORDS: &[&str] = &[
    "isnt", "arent", "wasnt", "werent", "dont", "doesnt", "didnt", "cant", "couldnt", "wont",
    "wouldnt", "shouldnt", "hasnt", "havent", "hadnt", "aint", "mustnt", "neednt",
];

fn floor_boundary(s: &str, mut k: usize) -> usize {
    while k > 0 && !s.is_char_boundary(k) {
        k -= 1;
    }
    k
}

fn ceil_boundary(s: &str, mut k: usize) -> usize {
    while k < s.len() && !s.is_char_boundary(k) {
        k += 1;
    }
    k
}

/// Start of the clause that ends at `a` (at most [`WINDOW`] bytes back).
pub fn clause_start(s: &str, a: usize, steps: &mut u64) -> usize {
    clause_start_from(s, a, 0, steps)
}

fn clause_start_from(s: &str, a: usize, bound: usize, steps: &mut u64) -> usize {
    let b = s.as_bytes();
    let lo = a.saturating_sub(WINDOW).max(bound.min(a));
    let mut k = a;
    while k > lo {
        *steps += 1;
        if matches!(b[k - 1], b'.' | b';' | b':' | b',' | b'!' | b'?' | b'\n') {
            // a decimal point or a thousands comma inside a number is not a delimiter
            let digits_around = matches!(b[k - 1], b'.' | b',')
                && k >= 2
                && b[k - 2].is_ascii_digit()
                && b.get(k).is_some_and(|c| c.is_ascii_digit());
            if !digits_around {
                return k;
            }
        }
        k -= 1;
    }
    ceil_boundary(s, lo)
}

/// End of the sentence that starts at `b` (at most [`WINDOW`] bytes on).
pub fn sentence_end(s: &str, from: usize, steps: &mut u64) -> usize {
    sentence_end_until(s, from, s.len(), steps)
}

fn sentence_end_until(s: &str, from: usize, bound: usize, steps: &mut u64) -> usize {
    let b = s.as_bytes();
    let hi = (from + WINDOW).min(b.len()).min(bound.max(from));
    let mut k = from;
    while k < hi {
        *steps += 1;
        match b[k] {
            b';' | b'!' | b'?' | b'\n' => return k,
            b'.' => {
                let digit_next = b.get(k + 1).is_some_and(|c| c.is_ascii_digit());
                if !digit_next {
                    return k;
                }
            }
            _ => {}
        }
        k += 1;
    }
    floor_boundary(s, hi)
}

/// Does a value (number or math) start at the first non-space byte at or after `k`, and where?
fn value_after(s: &str, k: usize, steps: &mut u64) -> Option<usize> {
    let b = s.as_bytes();
    let mut j = k;
    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
        *steps += 1;
        j += 1;
    }
    let c = *b.get(j)?;
    (c.is_ascii_digit() || matches!(c, b'$' | b'\\' | b'-' | b'+' | b'(' | b'[' | b'{'))
        .then_some(j)
}

/// Is the answer at `[a, b)` negated, hedged or asked? The window is the clause before it
/// and the sentence after it.
pub fn stance_at(s: &str, a: usize, b: usize, steps: &mut u64) -> Option<Stance> {
    stance_within(s, a, b, 0, s.len(), steps)
}

/// [`stance_at`] with the window also kept inside `[lo, hi)` (the neighbouring answers'
/// ends), so that the windows of many adjacent answers cost linear work in all.
pub fn stance_within(
    s: &str,
    a: usize,
    b: usize,
    lo: usize,
    hi: usize,
    steps: &mut u64,
) -> Option<Stance> {
    let mut cs = clause_start_from(s, a, lo, steps);
    // a negation before another value is about that value ("not 10, it's 1000"): the window
    // before the answer starts after the last digit that precedes it
    if let Some(k) = s.as_bytes()[cs..a].iter().rposition(|c| c.is_ascii_digit()) {
        *steps += (a - cs - k) as u64;
        cs += k + 1;
    } else {
        *steps += (a - cs) as u64;
    }
    let se = sentence_end_until(s, b, hi, steps);
    let mut found = None;
    for (lo, hi) in [(cs, a), (b, se.max(b))] {
        find_word(s, lo, hi, steps, |w| {
            let t = w.text();
            if HEDGES.contains(&t) {
                found = Some(Stance::Hedged);
                return true;
            }
            if is_negation(t) {
                let mut n = 0;
                match value_after(s, w.end, &mut n) {
                    // the value right after the negation is the answer itself
                    Some(v) if v >= a && v < b.max(a + 1) => found = Some(Stance::Negated),
                    Some(v) if w.end <= a && v <= a && only_openers(&s[v..a]) => {
                        found = Some(Stance::Negated)
                    }
                    Some(_) => {} // negates another value
                    None => found = Some(Stance::Negated),
                }
            }
            found.is_some()
        });
        if found.is_some() {
            return found;
        }
    }
    // a question mark right after the answer
    let bb = s.as_bytes();
    let mut k = b;
    let mut n = 0;
    while k < bb.len() && n < 16 {
        *steps += 1;
        match bb[k] {
            b' ' | b'*' | b'$' | b'}' | b')' | b']' | b'\\' => k += 1,
            b'?' => return Some(Stance::Question),
            _ => break,
        }
        n += 1;
    }
    None
}

/// Only math openers (`$`, `\(`, `\[`, `{`, spaces) between a negation's value and the answer.
fn only_openers(gap: &str) -> bool {
    gap.len() <= 8
        && gap
            .chars()
            .all(|c| matches!(c, '$' | '\\' | '(' | '[' | '{' | ' ' | '\n'))
}

/// Does a plain negation (`not`, `never`, `cannot`, `n't`) occur in `text` — for the text
/// inside a box.
pub fn has_negation(text: &str, steps: &mut u64) -> bool {
    find_word(text, 0, text.len(), steps, |w| is_plain_negation(w.text()))
}

/// The first negation or hedge word of `text`: (byte offset, is it a hedge, is it followed by
/// a value).
pub fn first_stance_word(text: &str, steps: &mut u64) -> Option<(usize, bool, bool)> {
    let mut out = None;
    let mut n = 0;
    find_word(text, 0, text.len(), steps, |w| {
        let t = w.text();
        if HEDGES.contains(&t) || PHRASE_HEDGES.contains(&t) {
            out = Some((w.start, true, false));
        } else if is_negation(t) {
            out = Some((w.start, false, value_after(text, w.end, &mut n).is_some()));
        }
        out.is_some()
    });
    *steps += n;
    out
}

/// Does a retraction word occur in `s[from..]`?
pub fn retracted_after(s: &str, from: usize, steps: &mut u64) -> bool {
    find_word(s, from, s.len(), steps, |w| RETRACTIONS.contains(&w.text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, needle: &str) -> Option<Stance> {
        let a = s.find(needle).unwrap();
        let mut n = 0;
        stance_at(s, a, a + needle.len(), &mut n)
    }

    #[test]
    fn negation_attached_to_the_answer() {
        assert_eq!(at("The answer is not 5.", "5"), Some(Stance::Negated));
        assert_eq!(at("5 is not the answer.", "5"), Some(Stance::Negated));
        assert_eq!(at("The answer isn't 5.", "5"), Some(Stance::Negated));
        assert_eq!(at("It is 5, which is wrong.", "5"), Some(Stance::Negated));
        assert_eq!(at("The answer is 5, not 6.", "5"), None);
        assert_eq!(at("Not 6 but 5.", "5"), None);
        assert_eq!(at("It is definitely not 5.", "5"), Some(Stance::Negated));
        assert_eq!(
            at("The answer is not $\\boxed{5}$.", "\\boxed{5}"),
            Some(Stance::Negated)
        );
        assert_eq!(at("x cannot be 0, so x = 5.", "5"), None);
        assert_eq!(at("We use \\notin here: 5.", "5"), None);
    }

    #[test]
    fn hedges_and_questions() {
        assert_eq!(at("It is 3 or 4.", "4"), Some(Stance::Hedged));
        assert_eq!(at("Either 3 or 4.", "3"), Some(Stance::Hedged));
        assert_eq!(at("Maybe 4.", "4"), Some(Stance::Hedged));
        assert_eq!(at("Is it $4$?", "4"), Some(Stance::Question));
        assert_eq!(at("It is $4$.", "4"), None);
    }

    #[test]
    fn retractions() {
        let s = "\\boxed{5}. Wait, that is off.";
        let mut n = 0;
        assert!(retracted_after(s, 9, &mut n));
        assert!(!retracted_after(
            "\\boxed{5}. I hope it is correct.",
            9,
            &mut n
        ));
    }
}
