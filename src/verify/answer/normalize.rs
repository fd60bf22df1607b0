//! String-level normalization before parsing: math delimiters, `\\le` typos, thousands
//! separators (`7,425,000`, `8{,}747{,}862`, `12,\!000`, `1 000`), unambiguous decimal commas
//! (`1,22`, `0,111`), and the whitespace-free key used for the literal-equality fallback.

/// Prepare an extracted answer for the tokenizer.
pub fn prepare(s: &str) -> String {
    let mut s = s.trim().to_string();
    // math delimiters
    for d in ["\\[", "\\]", "\\(", "\\)", "$$"] {
        if s.contains(d) {
            s = s.replace(d, " ");
        }
    }
    // `\\le` (an escaped backslash before a command name) → `\le`
    if s.contains("\\\\") {
        let mut out = String::with_capacity(s.len());
        let b: Vec<char> = s.chars().collect();
        let has_begin = s.contains("\\begin");
        let mut i = 0;
        while i < b.len() {
            if b[i] == '\\' && i + 2 < b.len() && b[i + 1] == '\\' && b[i + 2].is_ascii_alphabetic()
            {
                // keep `\\` row separators before a letter inside matrices only when the
                // matrix environment is present
                if !has_begin {
                    out.push('\\');
                    i += 2;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        s = out;
    }
    // explicit thousands separators
    if s.contains("{,") {
        s = s.replace("{,}", "").replace("{, }", "");
    }
    if s.contains(",\\!") {
        s = s.replace(",\\!", "");
        s = s.replace(", \\!", "");
    }
    s = s.replace("\\!", "");
    if s.contains("\\,") {
        s = thin_space_groups(&s);
    }
    let t = s.trim_end_matches(['.', ' ']).trim_start();
    if t.len() != s.len() {
        s = t.to_string();
    }
    s = collapse_thousands(&s);
    // "1 000" → 1000 (the whole answer is a space-grouped integer)
    if is_space_grouped(&s) {
        s.retain(|c| c != ' ');
    }
    // "1,22" / "0,111" → decimal comma when the whole answer is one such number
    if let Some(d) = decimal_comma(&s) {
        s = d;
    }
    s
}

/// `1\,000\,000` → `1000000`: a thin space between a digit and a group of exactly three
/// digits is a thousands separator.
fn thin_space_groups(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        let group = i > 0
            && c[i] == '\\'
            && c.get(i + 1) == Some(&',')
            && c[i - 1].is_ascii_digit()
            && c.len() >= i + 5
            && c[i + 2..i + 5].iter().all(|d| d.is_ascii_digit())
            && c.get(i + 5).is_none_or(|d| !d.is_ascii_digit());
        if group {
            i += 2;
            continue;
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

fn is_space_grouped(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    parts.len() >= 2
        && !parts[0].is_empty()
        && parts[0].len() <= 3
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && parts[1..].iter().all(|p| p.len() == 3)
}

fn decimal_comma(s: &str) -> Option<String> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (a, b) = body.split_once(',')?;
    if a.is_empty() || b.is_empty() || b.contains(',') {
        return None;
    }
    if !a.chars().all(|c| c.is_ascii_digit()) || !b.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // "1,000" is a thousands separator unless the integer part is 0; "1,2" is a list
    if (b.len() == 3 && a != "0") || b.len() < 2 {
        return None;
    }
    Some(format!(
        "{}{a}.{b}",
        if s.starts_with('-') { "-" } else { "" }
    ))
}

/// Remove commas of `d{1,3}(,ddd)+` groups at bracket depth 0.
fn collapse_thousands(s: &str) -> String {
    if !s.contains(',') {
        return s.to_string();
    }
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut depth: i32 = 0;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        let starts_num =
            ch.is_ascii_digit() && (i == 0 || !(c[i - 1].is_ascii_digit() || c[i - 1] == '.'));
        if depth == 0 && starts_num {
            let mut j = i;
            while j < c.len() && c[j].is_ascii_digit() {
                j += 1;
            }
            let lead = j - i;
            let mut groups = 0;
            let mut k = j;
            while lead <= 3
                && k + 4 <= c.len()
                && c[k] == ','
                && c[k + 1..k + 4].iter().all(|d| d.is_ascii_digit())
                && (k + 4 == c.len() || !c[k + 4].is_ascii_digit())
            {
                groups += 1;
                k += 4;
            }
            if groups > 0 && !(lead == 1 && c[i] == '0') {
                for &d in &c[i..k] {
                    if d != ',' {
                        out.push(d);
                    }
                }
                i = k;
                continue;
            }
            for &d in &c[i..j] {
                out.push(d);
            }
            i = j;
            continue;
        }
        out.push(ch);
        i += 1;
    }
    out
}

/// A markup-free key used only when an answer does not parse: two answers with the same key
/// are literally the same answer. The key is tree-preserving: braces, brackets and every
/// operator are kept (`2^{n+1}` and `2^n+1` have different keys); only markup that never
/// changes a parse tree is dropped (spacing commands, `\left`/`\right`, `\displaystyle`,
/// `$`, `~`, `\dfrac`/`\tfrac` spelled `\frac`), and whitespace is dropped except between
/// two letters or digits (`1\quad 2` ≠ `12`, `\pi r` ≠ `\pir`; `\leftarrow` stays itself).
pub fn text_key(s: &str) -> String {
    let c: Vec<char> = prepare(s).chars().collect();
    let mut out = String::with_capacity(c.len());
    let mut blank = false; // a dropped blank is pending
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() || ch == '~' || ch == '$' {
            blank = true;
            i += 1;
            continue;
        }
        if ch == '\\' && i + 1 < c.len() && !c[i + 1].is_ascii_alphabetic() {
            if matches!(c[i + 1], ',' | ';' | ':' | ' ' | '!') {
                blank = true;
            } else {
                out.push(ch);
                out.push(c[i + 1]);
            }
            i += 2;
            continue;
        }
        // a blank matters between two letters or digits (`1 2` ≠ `12`, `\pi r` ≠ `\pir`)
        if blank && ch.is_alphanumeric() && out.chars().last().is_some_and(|c| c.is_alphanumeric())
        {
            out.push(' ');
        }
        blank = false;
        if ch == '\\' {
            let mut j = i + 1;
            while j < c.len() && c[j].is_ascii_alphabetic() {
                j += 1;
            }
            let name: String = c[i + 1..j].iter().collect();
            match name.as_str() {
                "displaystyle" | "left" | "right" | "quad" | "qquad" => blank = true,
                "dfrac" | "tfrac" => out.push_str("\\frac"),
                _ => {
                    out.push('\\');
                    out.push_str(&name);
                }
            }
            i = j;
            continue;
        }
        out.push(ch);
        i += 1;
    }
    out.trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_decimal_commas() {
        assert_eq!(prepare("7,425,000"), "7425000");
        assert_eq!(prepare("8{,}747{,}862"), "8747862");
        assert_eq!(prepare("12,\\!000,\\!003"), "12000003");
        assert_eq!(prepare("1 000"), "1000");
        assert_eq!(prepare("1,000.99"), "1000.99");
        assert_eq!(prepare("1000,99"), "1000.99");
        assert_eq!(prepare("1,22"), "1.22");
        assert_eq!(prepare("0,111"), "0.111");
        // not thousands: inside a tuple, or a space after the comma
        assert_eq!(prepare("(3,100)"), "(3,100)");
        assert_eq!(prepare("32, 349"), "32, 349");
        assert_eq!(prepare("21,16,11"), "21,16,11");
        assert_eq!(prepare("1,2"), "1,2");
        assert_eq!(prepare("14 {, }916"), "14916");
        assert_eq!(prepare("1\\,000\\,000"), "1000000");
        assert_eq!(prepare("1\\,0000"), "1\\,0000");
    }

    #[test]
    fn key_ignores_markup_but_keeps_structure() {
        assert_eq!(text_key("\\left( a \\right)"), text_key("(a)"));
        assert_eq!(text_key("\\dfrac{1}{2}"), text_key("\\frac{1}{2}"));
        assert_ne!(text_key("12:00"), text_key("1:00"));
        for (a, b) in [
            ("2^{n+1}", "2^n+1"),
            ("\\sqrt{x+1}", "\\sqrt{x}+1"),
            ("\\frac{11}{2}", "\\frac{1}{12}"),
            ("e^{2x}", "e^{2}x"),
            ("\\sqrt{2}x", "\\sqrt{2x}"),
            ("\\pi r", "\\pir"),
            ("\\leftarrow", "arrow"),
            ("1\\quad 2", "12"),
            ("5~6", "56"),
        ] {
            assert_ne!(text_key(a), text_key(b), "{a} vs {b}");
        }
    }
}
