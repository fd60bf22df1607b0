//! Word answers: `yes`/`no`, `true`/`false`, `even`/`odd`. Their case and markup do not
//! matter (`\text{yes}` = `Yes` = `\textbf{YES}`), and they are compared as words only — never
//! parsed as products of variables, where `no` would equal `on`.
//!
//! Rule: when either side is one of [`WORDS`] (after removing `\text`-like wrappers, `$`,
//! braces, spaces and a final `.`, ignoring ASCII case), the two answers are equal exactly when
//! both are the same word.

/// The allow-list of word answers.
pub const WORDS: &[&str] = &["yes", "no", "true", "false", "even", "odd"];

/// The word answer `s` spells, lower-case, if it is one of [`WORDS`].
pub fn word_answer(s: &str) -> Option<&'static str> {
    let mut t = s.trim();
    if t.len() > 64 {
        return None;
    }
    t = t.trim_end_matches('.').trim();
    let mut out = String::with_capacity(t.len());
    let b = t.as_bytes();
    let mut i = 0;
    let mut gap = false; // a space after the word began
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_alphabetic() {
                    j += 1;
                }
                let name = &t[i + 1..j];
                if !matches!(
                    name,
                    "text" | "textbf" | "textrm" | "textit" | "mathrm" | "mathbf" | "mbox"
                ) {
                    return None;
                }
                i = j;
            }
            b' ' => {
                gap = !out.is_empty();
                i += 1;
            }
            b'{' | b'}' | b'$' => i += 1,
            _ if gap && b[i].is_ascii_alphabetic() => return None,
            c if c.is_ascii_alphabetic() => {
                out.push(c.to_ascii_lowercase() as char);
                i += 1;
            }
            _ => return None,
        }
    }
    WORDS.iter().copied().find(|w| *w == out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_ignore_case_and_markup_only() {
        assert_eq!(word_answer("\\text{yes}"), Some("yes"));
        assert_eq!(word_answer("Yes"), Some("yes"));
        assert_eq!(word_answer("\\textbf{YES}."), Some("yes"));
        assert_eq!(word_answer("$\\text{No}$"), Some("no"));
        assert_eq!(word_answer("on"), None);
        assert_eq!(word_answer("yes or no"), None);
        assert_eq!(word_answer("\\text{not } yes"), None);
        assert_eq!(word_answer("\\sqrt{yes}"), None);
        assert_eq!(word_answer("ye s"), None);
        assert_eq!(word_answer("\\text{ yes }"), Some("yes"));
    }
}
