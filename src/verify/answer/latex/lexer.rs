//! Stage 1: the lexer. Turns LaTeX / plain math into tokens ([`Tok`]): drops spacing commands,
//! `\left`/`\right`, `$` delimiters, degree marks, percent signs and unit words, and reads
//! `\text{}` groups whole. Numbers are read with [`super::numbers`].
use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Num(String),
    /// an exact value written in a form the number grammar does not cover (`0.\overline{3}`)
    Exact(BigRational),
    /// `\rfloor`, `\rceil`: closes a floor / ceiling
    Close(&'static str),
    Letter(char),
    Word(String),
    Cmd(String),
    Text(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBrack,
    RBrack,
    LSet,
    RSet,
    Op(char),
    Rel(RelOp),
    Pm,
    Mp,
    Cup,
    RowSep,
    Amp,
    Percent,
    Begin(String),
    End(String),
}

pub(super) const TEXT_CMDS: &[&str] = &[
    "text",
    "textbf",
    "textit",
    "textrm",
    "textsf",
    "texttt",
    "textnormal",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "mbox",
    "operatorname",
    "textup",
    "emph",
    "hbox",
];
pub(super) const SKIP_CMDS: &[&str] = &[
    "left",
    "right",
    "big",
    "Big",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "bigg",
    "Bigg",
    "biggl",
    "biggr",
    "Biggl",
    "Biggr",
    "displaystyle",
    "textstyle",
    "quad",
    "qquad",
    "limits",
    "nolimits",
    "mathstrut",
    "hfill",
    "degree",
    "dollar",
    "euro",
    "pounds",
    "nonumber",
    "notag",
    "hline",
    "rm",
    "bf",
    "it",
    "noindent",
];
/// Functions that take one argument.
pub(crate) const FUNCS: &[&str] = &[
    "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "lg",
];
pub(super) const UNIT_WORDS: &[&str] = &[
    "percent",
    "percentage",
    "pct",
    "cm",
    "mm",
    "km",
    "meter",
    "meters",
    "metre",
    "metres",
    "mile",
    "miles",
    "feet",
    "foot",
    "ft",
    "inch",
    "inches",
    "yard",
    "yards",
    "unit",
    "units",
    "dollar",
    "dollars",
    "cent",
    "cents",
    "degree",
    "degrees",
    "yuan",
    "hour",
    "hours",
    "minute",
    "minutes",
    "second",
    "seconds",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "kg",
    "gram",
    "grams",
    "liter",
    "liters",
    "litre",
    "litres",
    "ml",
    "mph",
    "kmh",
    "sq",
    "square",
    "cubic",
    "people",
    "students",
    "ways",
    "times",
    "points",
    "pages",
    "items",
    "dots",
    "mins",
    "hrs",
    "cups",
    "boxes",
    "apples",
    "marbles",
    "coins",
    "rad",
    "radians",
    "m",
];

/// True for a unit or counting word dropped after a number (`5 cm`, `28 percent`).
pub(crate) fn is_unit_word(w: &str) -> bool {
    let w = w.trim().trim_end_matches(['.', '²', '³']);
    let w = w.strip_suffix("^2").or(w.strip_suffix("^3")).unwrap_or(w);
    UNIT_WORDS.contains(&w.to_ascii_lowercase().as_str())
}

pub(super) fn is_connector(w: &str) -> bool {
    matches!(w.trim(), "and" | "or" | "," | ";" | "or else")
}

pub(super) fn read_group_raw(chars: &[char], i: &mut usize) -> PResult<String> {
    // skip spaces
    while *i < chars.len() && chars[*i].is_whitespace() {
        *i += 1;
    }
    if *i >= chars.len() {
        return Ok(String::new());
    }
    if chars[*i] != '{' {
        // single character / command argument
        let c = chars[*i];
        *i += 1;
        if c == '\\' {
            let mut s = String::from("\\");
            while *i < chars.len() && chars[*i].is_ascii_alphabetic() {
                s.push(chars[*i]);
                *i += 1;
            }
            return Ok(s);
        }
        return Ok(c.to_string());
    }
    let mut depth = 0usize;
    let start = *i + 1;
    while *i < chars.len() {
        match chars[*i] {
            '\\' => {
                *i += 2;
                continue;
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let s: String = chars[start..*i].iter().collect();
                    *i += 1;
                    return Ok(s);
                }
            }
            _ => {}
        }
        *i += 1;
    }
    Err(ParseError::Syntax("unbalanced braces".into()))
}

pub(super) fn tokenize(s: &str, limits: &Limits) -> PResult<Vec<Tok>> {
    if s.len() > limits.max_answer_bytes {
        return Err(ParseError::TooLarge(format!("{} bytes", s.len())));
    }
    let chars: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if toks.len() > limits.max_tokens {
            return Err(ParseError::TooLarge(format!(
                "over {} tokens",
                limits.max_tokens
            )));
        }
        let c = chars[i];
        if c.is_whitespace() || c == '~' || c == '$' {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && i + 1 < chars.len() && chars[i + 1].is_ascii_digit())
        {
            let st = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            } else if i < chars.len()
                && chars[i] == '.'
                && (i + 1 == chars.len() || chars[i + 1].is_whitespace())
            {
                // "5." -> 5
                let num: String = chars[st..i].iter().collect();
                i += 1;
                toks.push(Tok::Num(num));
                continue;
            }
            // scientific notation 1.5e10, 3E-4
            if i + 1 < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    if j >= chars.len() || !chars[j].is_ascii_alphabetic() {
                        i = j;
                    }
                }
            }
            let lit: String = chars[st..i].iter().collect();
            if let Some((v, end)) = repeating_decimal(&chars, st, i) {
                toks.push(Tok::Exact(v));
                i = end;
                continue;
            }
            toks.push(Tok::Num(lit));
            continue;
        }
        if c.is_ascii_alphabetic() {
            let st = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i - st == 1 {
                toks.push(Tok::Letter(c));
            } else {
                toks.push(Tok::Word(chars[st..i].iter().collect()));
            }
            continue;
        }
        if c == '\\' {
            i += 1;
            if i >= chars.len() {
                break;
            }
            let d = chars[i];
            if !d.is_ascii_alphabetic() {
                i += 1;
                match d {
                    '\\' => toks.push(Tok::RowSep),
                    '{' => toks.push(Tok::LSet),
                    '}' => toks.push(Tok::RSet),
                    '%' => toks.push(Tok::Percent),
                    '|' => toks.push(Tok::Op('|')),
                    _ => {} // \, \; \! \: \  \$ \# and friends
                }
                continue;
            }
            let st = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let name: String = chars[st..i].iter().collect();
            let n = name.as_str();
            if TEXT_CMDS.contains(&n) {
                let content = read_group_raw(&chars, &mut i)?;
                toks.push(Tok::Text(content));
                continue;
            }
            if SKIP_CMDS.contains(&n) {
                // `\left.` / `\right.`
                if (n == "left" || n == "right") && i < chars.len() && chars[i] == '.' {
                    i += 1;
                }
                continue;
            }
            match n {
                "begin" | "end" => {
                    let env = read_group_raw(&chars, &mut i)?;
                    let env = env.trim().trim_end_matches('*').to_string();
                    if n == "begin" {
                        if env == "array" || env == "tabular" {
                            let _ = read_group_raw(&chars, &mut i)?;
                        }
                        toks.push(Tok::Begin(env));
                    } else {
                        toks.push(Tok::End(env));
                    }
                }
                "le" | "leq" | "leqslant" | "leqq" => toks.push(Tok::Rel(RelOp::Le)),
                "ge" | "geq" | "geqslant" | "geqq" => toks.push(Tok::Rel(RelOp::Ge)),
                "ne" | "neq" => toks.push(Tok::Rel(RelOp::Ne)),
                "lt" => toks.push(Tok::Rel(RelOp::Lt)),
                "gt" => toks.push(Tok::Rel(RelOp::Gt)),
                "approx" | "simeq" | "approxeq" => toks.push(Tok::Rel(RelOp::Approx)),
                "in" => toks.push(Tok::Rel(RelOp::In)),
                "cup" => toks.push(Tok::Cup),
                "rfloor" => toks.push(Tok::Close("floor")),
                "rceil" => toks.push(Tok::Close("ceil")),
                "pm" => toks.push(Tok::Pm),
                "mp" => toks.push(Tok::Mp),
                "cdot" | "times" | "ast" => toks.push(Tok::Op('*')),
                "div" => toks.push(Tok::Op('/')),
                "colon" => toks.push(Tok::Op(':')),
                "lbrace" => toks.push(Tok::LSet),
                "rbrace" => toks.push(Tok::RSet),
                "langle" | "lparen" => toks.push(Tok::LParen),
                "rangle" | "rparen" => toks.push(Tok::RParen),
                "lbrack" => toks.push(Tok::LBrack),
                "rbrack" => toks.push(Tok::RBrack),
                "lvert" | "rvert" | "vert" | "mid" | "lVert" | "rVert" | "Vert" => {
                    toks.push(Tok::Op('|'))
                }
                "and" => toks.push(Tok::Text("and".into())),
                "prime" => toks.push(Tok::Op('\'')),
                _ => toks.push(Tok::Cmd(name)),
            }
            continue;
        }
        i += 1;
        let t = match c {
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBrack,
            ']' => Tok::RBrack,
            '&' => Tok::Amp,
            '%' => Tok::Percent,
            '<' | '>' | '!' | '=' => {
                let next_eq = i < chars.len() && chars[i] == '=';
                if next_eq {
                    i += 1;
                }
                match (c, next_eq) {
                    ('<', false) => Tok::Rel(RelOp::Lt),
                    ('<', true) => Tok::Rel(RelOp::Le),
                    ('>', false) => Tok::Rel(RelOp::Gt),
                    ('>', true) => Tok::Rel(RelOp::Ge),
                    ('!', true) => Tok::Rel(RelOp::Ne),
                    ('!', false) => Tok::Op('!'),
                    _ => Tok::Rel(RelOp::Eq),
                }
            }
            '+' | '-' | '*' | '/' | '^' | '_' | ',' | ';' | ':' | '|' | '\'' => Tok::Op(c),
            '−' | '–' => Tok::Op('-'),
            '×' | '·' | '⋅' | '∙' => Tok::Op('*'),
            '÷' => Tok::Op('/'),
            '≤' | '⩽' => Tok::Rel(RelOp::Le),
            '≥' | '⩾' => Tok::Rel(RelOp::Ge),
            '≠' => Tok::Rel(RelOp::Ne),
            '≈' => Tok::Rel(RelOp::Approx),
            '∈' => Tok::Rel(RelOp::In),
            '∪' => Tok::Cup,
            '⌊' => Tok::Cmd("lfloor".into()),
            '⌈' => Tok::Cmd("lceil".into()),
            '⌋' => Tok::Close("floor"),
            '⌉' => Tok::Close("ceil"),
            '∅' => Tok::Cmd("varnothing".into()),
            '±' => Tok::Pm,
            'π' => Tok::Cmd("pi".into()),
            '∞' => Tok::Cmd("infty".into()),
            '√' => Tok::Cmd("sqrt".into()),
            '²' => {
                toks.push(Tok::Op('^'));
                Tok::Num("2".into())
            }
            '³' => {
                toks.push(Tok::Op('^'));
                Tok::Num("3".into())
            }
            '°' | '€' | '£' | '¥' | '.' | '"' | '?' => continue,
            c if c.is_alphabetic() => Tok::Word(c.to_string()),
            _ => return Err(ParseError::Syntax(format!("unexpected character {c:?}"))),
        };
        toks.push(t);
    }
    Ok(toks)
}

pub(super) fn tok_str(t: &Tok) -> String {
    match t {
        Tok::Num(n) => n.clone(),
        Tok::Exact(v) => v.to_string(),
        Tok::Letter(c) => c.to_string(),
        Tok::Word(w) => w.clone(),
        Tok::Cmd(c) => format!("\\{c}"),
        Tok::Text(t) => t.trim().to_string(),
        Tok::Op(c) => c.to_string(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::LBrack => "[".into(),
        Tok::RBrack => "]".into(),
        Tok::Rel(r) => format!("{r:?}"),
        other => format!("{other:?}"),
    }
}
