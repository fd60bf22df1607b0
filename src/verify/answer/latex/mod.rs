//! Tokenizer and recursive-descent parser from LaTeX / plain math to [`Expr`], with depth,
//! token and node caps. Spacing commands, `\left`/`\right`, `$` delimiters, degree marks,
//! percent signs and unit words are dropped here; thousands separators and decimal commas are
//! resolved in [`super::normalize`] before tokenizing.
//!
//! Stages, one file each: [`lexer`] (text → tokens), [`numbers`] (number literals → exact
//! rationals), and the parser here (tokens → [`Expr`]).
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Zero};
use thiserror::Error;

use super::ast::{Const, Expr, RelOp};
use super::limits::{Budget, Limits};

mod lexer;
mod numbers;

use lexer::*;
use numbers::*;

/// Why an answer could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Input longer than `Limits::max_answer_bytes` or with too many tokens.
    #[error("answer too large ({0})")]
    TooLarge(String),
    /// Nesting deeper than `Limits::max_depth`.
    #[error("nesting deeper than {0}")]
    TooDeep(u32),
    /// The step budget ran out.
    #[error("step budget exhausted")]
    Budget,
    /// Anything else: unexpected token, unbalanced brackets, prose.
    #[error("syntax: {0}")]
    Syntax(String),
}

type PResult<T> = Result<T, ParseError>;

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    depth: u32,
    abs_depth: u32,
    /// inside the argument of a trigonometric function: `60^\circ` means 60·π/180
    in_trig: bool,
    limits: &'a Limits,
    budget: &'a Budget,
    /// Reject unknown lowercase prose words (used when the answer came from running text).
    strict_words: bool,
}

/// Parse an answer string into an expression. `strict_words` rejects unknown multi-letter
/// lowercase words (prose) instead of reading them as products of variables.
pub fn parse_expr(s: &str, limits: &Limits, budget: &Budget, strict_words: bool) -> PResult<Expr> {
    let toks = tokenize(s, limits)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        abs_depth: 0,
        in_trig: false,
        limits,
        budget,
        strict_words,
    };
    let items = p.parse_list()?;
    if p.pos < p.toks.len() {
        return Err(ParseError::Syntax(format!(
            "unexpected {:?}",
            p.toks[p.pos]
        )));
    }
    match items.len() {
        0 => Err(ParseError::Syntax("empty answer".into())),
        1 => Ok(items.into_iter().next().unwrap_or(Expr::List(vec![]))),
        _ => Ok(Expr::List(items)),
    }
}

fn mk_add(mut v: Vec<Expr>) -> Expr {
    if v.len() == 1 {
        v.pop().unwrap_or(Expr::int(0))
    } else {
        Expr::Add(v)
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }
    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(ParseError::TooDeep(self.limits.max_depth));
        }
        if !self.budget.spend(1) {
            return Err(ParseError::Budget);
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }
    fn err<T>(&self, what: &str) -> PResult<T> {
        Err(ParseError::Syntax(format!(
            "{what} at token {} ({:?})",
            self.pos,
            self.peek()
        )))
    }

    /// `_{k=` next (the bounds of a sum or product over an index)?
    fn finite_range_follows(&self) -> bool {
        self.peek() == Some(&Tok::Op('_'))
            && self.peek_at(1) == Some(&Tok::LBrace)
            && matches!(self.peek_at(2), Some(Tok::Letter(_)))
            && self.peek_at(3) == Some(&Tok::Rel(RelOp::Eq))
    }

    /// After `\angle`, `\overrightarrow` etc.: is a name of points next (`ABC`, `{AB}`)?
    fn name_follows(&self) -> bool {
        let is_name = |w: &str| {
            w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        match self.peek() {
            Some(Tok::Word(w)) => is_name(w),
            Some(Tok::Letter(c)) => c.is_ascii_uppercase(),
            Some(Tok::LBrace) => {
                let mut k = 1;
                let mut name = String::new();
                while let Some(t) = self.peek_at(k) {
                    match t {
                        Tok::Letter(c) => name.push(*c),
                        Tok::Word(w) => name.push_str(w),
                        Tok::RBrace => break,
                        _ => return false,
                    }
                    k += 1;
                }
                name.len() >= 2 && is_name(&name)
            }
            _ => false,
        }
    }

    fn is_separator(&self) -> bool {
        match self.peek() {
            Some(Tok::Op(',')) | Some(Tok::Op(';')) => true,
            Some(Tok::Word(w)) => is_connector(w),
            Some(Tok::Text(t)) => is_connector(t),
            _ => false,
        }
    }
    fn at_list_end(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::RParen)
                | Some(Tok::RBrack)
                | Some(Tok::RBrace)
                | Some(Tok::RSet)
                | Some(Tok::End(_))
                | Some(Tok::Amp)
                | Some(Tok::RowSep)
                | Some(Tok::Close(_))
        ) || matches!(self.peek(), Some(Tok::Cmd(c)) if c == "choose")
            || (self.abs_depth > 0 && self.peek() == Some(&Tok::Op('|')))
    }

    /// Comma / semicolon / "and" separated items.
    fn parse_list(&mut self) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        loop {
            while self.is_separator() {
                self.pos += 1;
            }
            if self.at_list_end() {
                break;
            }
            items.push(self.parse_rel()?);
            if !self.is_separator() {
                break;
            }
        }
        Ok(items)
    }

    fn parse_rel(&mut self) -> PResult<Expr> {
        self.enter()?;
        let first = self.parse_union()?;
        let mut parts = vec![first];
        let mut ops = Vec::new();
        while let Some(Tok::Rel(op)) = self.peek().cloned() {
            self.pos += 1;
            ops.push(op);
            parts.push(self.parse_union()?);
        }
        self.leave();
        if ops.is_empty() {
            Ok(parts.pop().unwrap_or(Expr::int(0)))
        } else {
            Ok(Expr::Rel { parts, ops })
        }
    }

    fn parse_union(&mut self) -> PResult<Expr> {
        let first = self.parse_additive()?;
        if self.peek() != Some(&Tok::Cup) {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.eat(&Tok::Cup) {
            v.push(self.parse_additive()?);
        }
        Ok(Expr::Union(v))
    }

    fn parse_additive(&mut self) -> PResult<Expr> {
        self.enter()?;
        let mut terms = vec![self.parse_term()?];
        let mut pm_depth = 0;
        loop {
            match self.peek() {
                Some(Tok::Op('+')) => {
                    self.pos += 1;
                    terms.push(self.parse_term()?);
                }
                Some(Tok::Op('-')) => {
                    self.pos += 1;
                    let t = self.parse_term()?;
                    terms.push(Expr::Neg(Box::new(t)));
                }
                Some(Tok::Pm) | Some(Tok::Mp) => {
                    self.pos += 1;
                    self.enter()?; // ± nests: counts as depth until this sum ends
                    pm_depth += 1;
                    let t = self.parse_term()?;
                    let left = mk_add(std::mem::take(&mut terms));
                    terms.push(Expr::PlusMinus(Box::new(left), Box::new(t)));
                }
                _ => break,
            }
        }
        self.depth -= pm_depth;
        self.leave();
        Ok(mk_add(terms))
    }

    fn starts_factor(&self) -> bool {
        match self.peek() {
            Some(Tok::Num(_)) | Some(Tok::Exact(_)) | Some(Tok::Letter(_)) | Some(Tok::LParen)
            | Some(Tok::LBrace) | Some(Tok::LBrack) => true,
            Some(Tok::Word(w)) => !is_connector(w) && !is_unit_word(w),
            Some(Tok::Cmd(c)) => c != "circ" && c != "choose",
            Some(Tok::Begin(_)) => true,
            Some(Tok::Op('|')) => self.abs_depth == 0,
            Some(Tok::Text(t)) => !is_connector(t) && !is_unit_word(t) && !t.trim().is_empty(),
            _ => false,
        }
    }

    fn skip_units(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Percent) => self.pos += 1,
                Some(Tok::Word(w)) if is_unit_word(w) => {
                    self.pos += 1;
                    self.skip_unit_power();
                }
                Some(Tok::Text(t)) if is_unit_word(t) || t.trim().is_empty() => {
                    self.pos += 1;
                    self.skip_unit_power();
                }
                _ => break,
            }
        }
    }
    fn skip_unit_power(&mut self) {
        if self.peek() == Some(&Tok::Op('^'))
            && matches!(self.peek_at(1), Some(Tok::Num(n)) if n == "2" || n == "3")
        {
            self.pos += 2;
        }
    }

    fn parse_term(&mut self) -> PResult<Expr> {
        self.enter()?;
        let mut acc = self.parse_unary()?;
        let mut last_was_num = matches!(acc, Expr::Num { .. });
        let mut divs = 0u32;
        // products stay flat; quotients nest, so their count is capped like nesting depth
        let mul = |acc: Expr, f: Expr, fresh: &mut bool| -> Expr {
            match acc {
                Expr::Mul(mut v) if !*fresh => {
                    v.push(f);
                    Expr::Mul(v)
                }
                other => {
                    *fresh = false;
                    Expr::Mul(vec![other, f])
                }
            }
        };
        let mut fresh = true;
        loop {
            self.skip_units();
            match self.peek() {
                Some(Tok::Op('*')) => {
                    self.pos += 1;
                    let f = self.parse_unary()?;
                    acc = mul(acc, f, &mut fresh);
                    last_was_num = false;
                }
                Some(Tok::Op('/')) | Some(Tok::Op(':')) => {
                    self.pos += 1;
                    divs += 1;
                    if divs > self.limits.max_depth {
                        return Err(ParseError::TooDeep(self.limits.max_depth));
                    }
                    let f = self.parse_unary()?;
                    acc = Expr::Div(Box::new(acc), Box::new(f));
                    fresh = true;
                    last_was_num = false;
                }
                _ if self.starts_factor() => {
                    if last_was_num && matches!(self.peek(), Some(Tok::Num(_) | Tok::Exact(_))) {
                        return self.err("two numbers in a row");
                    }
                    let mixed_candidate = fresh
                        && is_int_literal(&acc)
                        && matches!(self.peek(), Some(Tok::Cmd(c)) if matches!(c.as_str(), "frac" | "dfrac" | "tfrac"));
                    let f = self.parse_power()?;
                    last_was_num = false;
                    if mixed_candidate && is_proper_fraction(&f) {
                        // mixed number: 2\frac{1}{2} = 5/2, -1\frac{1}{2} = -3/2
                        acc = match acc {
                            Expr::Neg(a) => Expr::Neg(Box::new(Expr::Add(vec![*a, f]))),
                            a => Expr::Add(vec![a, f]),
                        };
                        continue;
                    }
                    acc = mul(acc, f, &mut fresh);
                }
                _ => break,
            }
        }
        self.leave();
        Ok(acc)
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = match self.peek() {
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Expr::Neg(Box::new(self.parse_unary()?))
            }
            Some(Tok::Op('+')) => {
                self.pos += 1;
                self.parse_unary()?
            }
            Some(Tok::Pm) | Some(Tok::Mp) => {
                self.pos += 1;
                Expr::PlusMinus(Box::new(Expr::int(0)), Box::new(self.parse_unary()?))
            }
            _ => self.parse_power()?,
        };
        self.leave();
        Ok(r)
    }

    fn parse_power(&mut self) -> PResult<Expr> {
        self.enter()?;
        let base = self.parse_postfix()?;
        let prime = match (self.peek_at(1), self.peek_at(2), self.peek_at(3)) {
            (Some(Tok::Op('\'')), _, _) => 2,
            (Some(Tok::LBrace), Some(Tok::Op('\'')), Some(Tok::RBrace)) => 4,
            _ => 0,
        };
        let r = if self.peek() == Some(&Tok::Op('^')) && prime > 0 {
            self.pos += prime;
            let p = match base {
                Expr::Sym(s) => Expr::Sym(format!("{s}'")),
                other => Expr::Func("prime".into(), vec![other]),
            };
            self.parse_postfix_ops(p)?
        } else if self.peek() == Some(&Tok::Op('^')) {
            self.pos += 1;
            match self.parse_exponent()? {
                Some(e) => {
                    let p = Expr::Pow(Box::new(base), Box::new(e));
                    self.parse_postfix_ops(p)?
                }
                // a degree mark: dropped in a final answer (`90^\circ` = 90), converted to
                // radians inside a trigonometric argument (`\cos 60^\circ` = 1/2)
                None if self.in_trig => Expr::Mul(vec![
                    base,
                    Expr::Div(Box::new(Expr::Const(Const::Pi)), Box::new(Expr::int(180))),
                ]),
                None => base,
            }
        } else {
            base
        };
        self.leave();
        Ok(r)
    }

    /// Exponent after `^`; None for a degree mark (`^\circ`, `^{\circ}`).
    fn parse_exponent(&mut self) -> PResult<Option<Expr>> {
        match self.peek() {
            Some(Tok::Cmd(c)) if c == "circ" => {
                self.pos += 1;
                Ok(None)
            }
            Some(Tok::LBrace)
                if matches!(self.peek_at(1), Some(Tok::Cmd(c)) if c == "circ")
                    && self.peek_at(2) == Some(&Tok::RBrace) =>
            {
                self.pos += 3;
                Ok(None)
            }
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Ok(Some(Expr::Neg(Box::new(self.parse_power()?))))
            }
            Some(Tok::Op('\'')) => {
                self.pos += 1;
                Ok(Some(Expr::Sym("'".into())))
            }
            // TeX takes one digit: `10^12` is 10^1·2
            Some(Tok::Num(n)) if n.len() > 1 && !n.contains(['.', 'e', 'E']) => {
                let n = n.clone();
                let (first, rest) = n.split_at(1);
                self.toks[self.pos] = Tok::Num(rest.to_string());
                Ok(Some(Expr::int(first.parse().unwrap_or(0))))
            }
            _ => Ok(Some(self.parse_power()?)),
        }
    }

    fn parse_postfix(&mut self) -> PResult<Expr> {
        let p = self.parse_primary()?;
        self.parse_postfix_ops(p)
    }

    fn parse_postfix_ops(&mut self, mut p: Expr) -> PResult<Expr> {
        loop {
            match self.peek() {
                Some(Tok::Op('!')) => {
                    self.pos += 1;
                    p = Expr::Func("fact".into(), vec![p]);
                }
                Some(Tok::Percent) => {
                    // `50\%`: the fraction 50/100 under a marker (see compare: a top-level
                    // percentage also equals the written number)
                    self.pos += 1;
                    p = Expr::Func("percent".into(), vec![p]);
                }
                Some(Tok::Op('\'')) => {
                    self.pos += 1;
                    p = match p {
                        Expr::Sym(s) => Expr::Sym(format!("{s}'")),
                        other => Expr::Func("prime".into(), vec![other]),
                    };
                }
                Some(Tok::Op('_')) => {
                    self.pos += 1;
                    let sub = self.raw_subscript()?;
                    p = match p {
                        Expr::Num {
                            value,
                            decimals: None,
                        } if value.is_integer() => match base_convert(&value, &sub) {
                            Some(v) => Expr::Num {
                                value: v,
                                decimals: None,
                            },
                            None => return self.err("bad base subscript"),
                        },
                        Expr::Sym(s) => Expr::Sym(format!("{s}_{{{sub}}}")),
                        Expr::Const(Const::E) => Expr::Sym(format!("e_{{{sub}}}")),
                        Expr::Const(Const::I) => Expr::Sym(format!("i_{{{sub}}}")),
                        other => other,
                    };
                }
                _ => break,
            }
        }
        Ok(p)
    }

    /// The subscript's tokens as a canonical string (`{n-1}` and `n-1` give the same).
    fn raw_subscript(&mut self) -> PResult<String> {
        let mut out = String::new();
        if self.eat(&Tok::LBrace) {
            let mut depth = 1;
            while let Some(t) = self.bump() {
                match t {
                    Tok::LBrace => depth += 1,
                    Tok::RBrace => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
                out.push_str(&tok_str(&t));
            }
            self.err("unbalanced subscript")
        } else {
            match self.bump() {
                Some(Tok::Num(n)) => {
                    // LaTeX takes one digit: `x_12` is x_1 2; keep whole for base subscripts.
                    Ok(n)
                }
                Some(t) => Ok(tok_str(&t)),
                None => self.err("missing subscript"),
            }
        }
    }

    /// Argument of `\frac`, `\sqrt`: a brace group, or one character / token.
    fn parse_arg(&mut self) -> PResult<Expr> {
        match self.peek().cloned() {
            Some(Tok::LBrace) => {
                self.pos += 1;
                let items = self.parse_list()?;
                if !self.eat(&Tok::RBrace) {
                    return self.err("expected }");
                }
                group_of(items)
            }
            Some(Tok::Num(n)) if n.len() > 1 => {
                let first: String = n.chars().take(1).collect();
                let rest: String = n.chars().skip(1).collect();
                self.toks[self.pos] = Tok::Num(rest);
                let (v, d) = parse_number(&first).ok_or(ParseError::Syntax("number".into()))?;
                Ok(Expr::Num {
                    value: v,
                    decimals: d,
                })
            }
            Some(Tok::Word(w)) => {
                let mut cs = w.chars();
                let first = cs.next().unwrap_or('x');
                let rest: String = cs.collect();
                if rest.chars().count() == 1 {
                    self.toks[self.pos] = Tok::Letter(rest.chars().next().unwrap_or('x'));
                } else {
                    self.toks[self.pos] = Tok::Word(rest);
                }
                Ok(letter_expr(first))
            }
            Some(_) => self.parse_primary(),
            None => self.err("missing argument"),
        }
    }

    fn parse_function(&mut self, name: &str) -> PResult<Expr> {
        // optional power (\sin^2 x) and log base (\log_2 x)
        let mut power = None;
        let mut base = None;
        loop {
            if self.eat(&Tok::Op('^')) {
                power = self.parse_exponent()?;
            } else if self.eat(&Tok::Op('_')) {
                base = Some(self.parse_arg()?);
            } else {
                break;
            }
        }
        let trig = TRIG.contains(&name);
        let outer = std::mem::replace(&mut self.in_trig, trig);
        let arg = self.function_argument();
        self.in_trig = outer;
        let arg = arg?;
        let f = match (name, base) {
            ("log", Some(b)) => Expr::Div(
                Box::new(Expr::Func("ln".into(), vec![arg])),
                Box::new(Expr::Func("ln".into(), vec![b])),
            ),
            ("lg", _) => Expr::Func("log".into(), vec![arg]),
            (n, _) => Expr::Func(n.to_string(), vec![arg]),
        };
        Ok(match power {
            Some(Expr::Neg(one)) if matches!(*one, Expr::Num{ref value, ..} if value.is_one()) => {
                match f {
                    Expr::Func(n, a) if ["sin", "cos", "tan"].contains(&n.as_str()) => {
                        Expr::Func(format!("arc{n}"), a)
                    }
                    other => Expr::Pow(Box::new(other), Box::new(Expr::int(-1))),
                }
            }
            Some(p) => Expr::Pow(Box::new(f), Box::new(p)),
            None => f,
        })
    }

    /// The argument of a function written without parentheses. Rule: a function applied to
    /// an unparenthesised product of a number and letters takes the whole product
    /// (`\sin 2x` = sin(2x), `\cos \pi x` = cos(πx), `\ln x^2y` = ln(x²y)); the product ends
    /// at an operator, a parenthesis, a fraction, another function or a second number
    /// (`\sin x \cos x` = sin(x)·cos(x)).
    fn function_argument(&mut self) -> PResult<Expr> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let items = self.parse_list()?;
            if !self.eat(&Tok::RParen) {
                return self.err("expected )");
            }
            return group_of(items);
        }
        let first = self.parse_power()?;
        if !matches!(
            first,
            Expr::Num { .. } | Expr::Sym(_) | Expr::Const(_) | Expr::Pow(..)
        ) {
            return Ok(first);
        }
        let mut v = vec![first];
        loop {
            self.skip_units();
            let more = match self.peek() {
                Some(Tok::Letter(_)) => true,
                Some(Tok::Word(w)) => {
                    !is_connector(w) && !is_unit_word(w) && !FUNCS.contains(&w.as_str())
                }
                Some(Tok::Cmd(c)) => c == "pi" || GREEK.contains(&c.as_str()),
                _ => false,
            };
            if !more || v.len() > self.limits.max_tokens {
                break;
            }
            v.push(self.parse_power()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::int(0))
        } else {
            Expr::Mul(v)
        })
    }

    fn parse_delimited(&mut self, open: Tok) -> PResult<Expr> {
        let items = self.parse_list()?;
        if open == Tok::LBrace && matches!(self.peek(), Some(Tok::Cmd(c)) if c == "choose") {
            // `{n \choose k}`
            self.pos += 1;
            let k = self.parse_list()?;
            if !self.eat(&Tok::RBrace) {
                return self.err("expected } after \\choose");
            }
            return Ok(Expr::Func(
                "binom".into(),
                vec![group_of(items)?, group_of(k)?],
            ));
        }
        let close = self.bump();
        let n = items.len();
        match (open, close) {
            (Tok::LParen, Some(Tok::RParen)) => {
                if n == 1 {
                    Ok(items.into_iter().next().unwrap_or(Expr::int(0)))
                } else if n == 0 {
                    self.err("empty parentheses")
                } else {
                    Ok(Expr::Tuple(items))
                }
            }
            (Tok::LBrack, Some(Tok::RBrack)) if n == 1 => {
                Ok(items.into_iter().next().unwrap_or(Expr::int(0)))
            }
            (o @ (Tok::LParen | Tok::LBrack), Some(c @ (Tok::RParen | Tok::RBrack))) if n == 2 => {
                let mut it = items.into_iter();
                let lo = it.next().unwrap_or(Expr::int(0));
                let hi = it.next().unwrap_or(Expr::int(0));
                Ok(Expr::Interval {
                    lo: Box::new(lo),
                    hi: Box::new(hi),
                    lo_closed: o == Tok::LBrack,
                    hi_closed: c == Tok::RBrack,
                })
            }
            (Tok::LBrack, Some(Tok::RBrack)) => Ok(Expr::Tuple(items)),
            (Tok::LSet, Some(Tok::RSet)) => Ok(Expr::Set(items)),
            (Tok::LBrace, Some(Tok::RBrace)) => group_of(items),
            _ => self.err("unbalanced brackets"),
        }
    }

    fn parse_matrix(&mut self, env: &str) -> PResult<Expr> {
        let mut rows: Vec<Vec<Expr>> = Vec::new();
        let mut row: Vec<Expr> = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::End(e)) => {
                    if e != env {
                        return self.err("mismatched \\end");
                    }
                    self.pos += 1;
                    if !row.is_empty() {
                        rows.push(row);
                    }
                    break;
                }
                Some(Tok::Amp) => {
                    self.pos += 1;
                }
                Some(Tok::RowSep) => {
                    self.pos += 1;
                    if !row.is_empty() {
                        rows.push(std::mem::take(&mut row));
                    }
                }
                None => return self.err("missing \\end"),
                _ => {
                    let cell = self.parse_rel()?;
                    row.push(cell);
                    if !matches!(
                        self.peek(),
                        Some(Tok::Amp) | Some(Tok::RowSep) | Some(Tok::End(_))
                    ) {
                        return self.err("bad matrix cell");
                    }
                }
            }
        }
        if rows.is_empty() || rows.iter().any(|r| r.len() != rows[0].len()) {
            return self.err("ragged matrix");
        }
        Ok(Expr::Matrix(rows))
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let t = match self.bump() {
            Some(t) => t,
            None => return self.err("unexpected end"),
        };
        let r = match t {
            Tok::Num(n) => match parse_number(&n) {
                Some((value, decimals)) => Expr::Num { value, decimals },
                None => return self.err("bad number"),
            },
            Tok::Exact(value) => Expr::Num {
                value,
                decimals: None,
            },
            Tok::Letter(c) => letter_expr(c),
            Tok::Word(w) => self.word_expr(&w)?,
            Tok::Text(t) => self.text_expr(&t)?,
            Tok::LParen | Tok::LBrack | Tok::LSet | Tok::LBrace => self.parse_delimited(t)?,
            Tok::Op('|') => {
                self.abs_depth += 1;
                let e = self.parse_additive()?;
                self.abs_depth -= 1;
                if !self.eat(&Tok::Op('|')) {
                    return self.err("expected |");
                }
                Expr::Func("abs".into(), vec![e])
            }
            Tok::Begin(env) => match env.as_str() {
                "pmatrix" | "bmatrix" | "matrix" | "Bmatrix" | "smallmatrix" | "array" => {
                    self.parse_matrix(&env)?
                }
                // a determinant, never a matrix
                "vmatrix" => match self.parse_matrix(&env)? {
                    Expr::Matrix(rows) => match determinant(&rows) {
                        Some(d) => d,
                        None => return self.err("determinant larger than 4x4"),
                    },
                    _ => return self.err("bad determinant"),
                },
                _ => return self.err("unsupported environment"),
            },
            Tok::Cmd(c) => self.command_expr(&c)?,
            _ => return self.err("unexpected token"),
        };
        self.leave();
        Ok(r)
    }

    fn command_expr(&mut self, c: &str) -> PResult<Expr> {
        Ok(match c {
            "frac" | "dfrac" | "tfrac" | "cfrac" => {
                let a = self.parse_arg()?;
                let b = self.parse_arg()?;
                Expr::Div(Box::new(a), Box::new(b))
            }
            "binom" | "dbinom" | "tbinom" | "choose" => {
                let a = self.parse_arg()?;
                let b = self.parse_arg()?;
                Expr::Func("binom".into(), vec![a, b])
            }
            "sqrt" => {
                if self.eat(&Tok::LBrack) {
                    let items = self.parse_list()?;
                    if !self.eat(&Tok::RBrack) {
                        return self.err("expected ]");
                    }
                    let n = group_of(items)?;
                    let x = self.parse_arg()?;
                    Expr::Func("root".into(), vec![x, n])
                } else {
                    let x = self.parse_arg()?;
                    Expr::Func("sqrt".into(), vec![x])
                }
            }
            "pi" => Expr::Const(Const::Pi),
            "infty" | "infin" | "infinity" => Expr::Const(Const::Inf),
            "varnothing" | "emptyset" | "empty" => Expr::Set(vec![]),
            "lfloor" | "lceil" => {
                let items = self.parse_list()?;
                let want = if c == "lfloor" { "floor" } else { "ceil" };
                if self.bump() != Some(Tok::Close(want)) {
                    return self.err(&format!("expected \\r{want}"));
                }
                Expr::Func(want.into(), vec![group_of(items)?])
            }
            "mathbb" => match self.peek() {
                Some(Tok::Letter('R')) => {
                    self.pos += 1;
                    real_line()
                }
                Some(Tok::LBrace)
                    if self.peek_at(1) == Some(&Tok::Letter('R'))
                        && self.peek_at(2) == Some(&Tok::RBrace) =>
                {
                    self.pos += 3;
                    real_line()
                }
                _ => {
                    let name = self.raw_subscript()?;
                    Expr::Sym(format!("\\mathbb{{{name}}}"))
                }
            },
            // named geometric objects: the letters are a name, not a product
            "angle" | "measuredangle" | "triangle" | "overrightarrow" | "overleftarrow" | "vec"
            | "overline" | "overarc" | "arc" | "widehat" | "wideparen"
                if self.name_follows() =>
            {
                let name = self.raw_subscript()?;
                Expr::Sym(geometric_name(c, &name))
            }
            "boxed" | "fbox" | "overline" | "underline" | "vec" | "hat" | "bar" | "mathcal"
            | "widehat" | "overrightarrow" | "tilde" | "mathring" | "angle" | "measuredangle" => {
                self.parse_arg()?
            }
            "sum" | "prod" if self.finite_range_follows() => {
                // `\sum_{k=1}^{10} k`: integer bounds at most MAX_EXPAND apart are expanded
                self.pos += 3; // _ { letter
                let var = match self.toks.get(self.pos - 1) {
                    Some(Tok::Letter(v)) => v.to_string(),
                    _ => return self.err("bad index"),
                };
                self.pos += 1; // =
                let lo = self.parse_additive()?;
                if !self.eat(&Tok::RBrace) || !self.eat(&Tok::Op('^')) {
                    return self.err("bad bounds");
                }
                let hi = self.parse_arg()?;
                let body = self.parse_term()?;
                match expand_range(c, &var, &lo, &hi, &body, self.limits, self.budget) {
                    Some(e) => e,
                    None => Expr::Func(format!("{c}_{{{var}={lo:?}}}^{{{hi:?}}}"), vec![body]),
                }
            }
            "sum" | "prod" | "int" | "lim" => {
                // opaque operator: its bounds become part of its name
                let mut name = c.to_string();
                while matches!(self.peek(), Some(Tok::Op('_')) | Some(Tok::Op('^'))) {
                    let t = self.bump();
                    let s = self.raw_subscript()?;
                    name.push_str(&format!("{}{{{s}}}", tok_str(&t.unwrap_or(Tok::Op('_')))));
                }
                let body = self.parse_term()?;
                Expr::Func(name, vec![body])
            }
            "cdots" | "ldots" | "dots" | "vdots" => Expr::Sym("...".into()),
            "circ" => return self.err("stray \\circ"),
            f if FUNCS.contains(&f) => self.parse_function(f)?,
            "max" | "min" | "gcd" | "lcm" if self.peek() == Some(&Tok::LParen) => {
                self.pos += 1;
                let items = self.parse_list()?;
                if !self.eat(&Tok::RParen) {
                    return self.err("expected )");
                }
                Expr::Func(c.to_string(), items)
            }
            "max" | "min" | "gcd" | "lcm" if self.peek() == Some(&Tok::LSet) => {
                self.pos += 1;
                let items = self.parse_list()?;
                if !self.eat(&Tok::RSet) {
                    return self.err("expected \\}");
                }
                Expr::Func(c.to_string(), items)
            }
            "arcsec" | "arccsc" | "arccot" | "max" | "min" | "gcd" | "lcm" | "det" | "deg" => {
                let arg = self.parse_arg()?;
                Expr::Func(c.to_string(), vec![arg])
            }
            // an unknown macro with an argument cannot be interpreted: refuse, so that only
            // the tree-preserving text key can equate it (`\foo{ab}{c}` ≠ `\foo{a}{bc}`)
            _ if self.peek() == Some(&Tok::LBrace) => return self.err("unknown command"),
            other => Expr::Sym(format!("\\{other}")),
        })
    }

    fn word_expr(&mut self, w: &str) -> PResult<Expr> {
        Ok(match w {
            "pi" => Expr::Const(Const::Pi),
            "inf" | "infty" | "infinity" | "oo" => Expr::Const(Const::Inf),
            "sqrt" => {
                let x = self.parse_arg()?;
                Expr::Func("sqrt".into(), vec![x])
            }
            f if FUNCS.contains(&f) => self.parse_function(f)?,
            // `sinx`, `lnx`: a function name glued to one or two variables
            f if !self.strict_words
                && FUNCS
                    .iter()
                    .any(|n| f.starts_with(n) && f.len() - n.len() <= 2) =>
            {
                let n = FUNCS
                    .iter()
                    .filter(|n| f.starts_with(*n) && f.len() - n.len() <= 2)
                    .max_by_key(|n| n.len())
                    .copied()
                    .unwrap_or("sin");
                let rest: Vec<Tok> = f[n.len()..].chars().map(Tok::Letter).collect();
                self.toks.splice(self.pos..self.pos, rest).for_each(drop);
                self.parse_function(n)?
            }
            _ => {
                let lower = w.chars().any(|c| c.is_lowercase());
                let upper = w.chars().any(|c| c.is_uppercase());
                if !w.is_ascii() || (self.strict_words && (lower || w.len() > 4)) {
                    return self.err("prose word");
                }
                if upper && !lower {
                    // `ABC`: a name of points (order matters), not a product
                    return Ok(Expr::Sym(w.to_string()));
                }
                if upper || w.len() > 3 || ANSWER_WORDS.contains(&w) {
                    // `Evelyn`, `even`, `yes`: a word
                    return Ok(Expr::Text(w.to_string()));
                }
                // `xy`: single-letter variables side by side, each its own factor
                // (`xy^2` = x·y²): the remaining letters go back to the token stream
                let mut cs = w.chars();
                let first = cs.next().unwrap_or('x');
                let rest: Vec<Tok> = cs.map(Tok::Letter).collect();
                self.toks.splice(self.pos..self.pos, rest).for_each(drop);
                letter_expr(first)
            }
        })
    }

    fn text_expr(&mut self, t: &str) -> PResult<Expr> {
        let t = t.trim();
        if t.is_empty() {
            return self.err("empty text");
        }
        let simple = t
            .chars()
            .all(|c| c.is_alphanumeric() || "()+-. ".contains(c));
        let word = t
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '-' || c == '\'');
        if simple && !(word && t.chars().count() > 1) {
            if let Ok(e) = parse_expr(t, self.limits, self.budget, false) {
                return Ok(e);
            }
        }
        Ok(Expr::Text(
            t.split_whitespace().collect::<Vec<_>>().join(" "),
        ))
    }
}

fn is_int_literal(e: &Expr) -> bool {
    match e {
        Expr::Num {
            value,
            decimals: None,
        } => value.is_integer() && value > &BigRational::zero(),
        Expr::Neg(a) => is_int_literal(a),
        _ => false,
    }
}

fn is_proper_fraction(e: &Expr) -> bool {
    match e {
        Expr::Div(a, b) => match (a.as_ref(), b.as_ref()) {
            (
                Expr::Num {
                    value: x,
                    decimals: None,
                },
                Expr::Num {
                    value: y,
                    decimals: None,
                },
            ) => x.is_integer() && y.is_integer() && x > &BigRational::zero() && x < y,
            _ => false,
        },
        _ => false,
    }
}

fn letter_expr(c: char) -> Expr {
    match c {
        'e' => Expr::Const(Const::E),
        'i' => Expr::Const(Const::I),
        c => Expr::Sym(c.to_string()),
    }
}

fn group_of(items: Vec<Expr>) -> PResult<Expr> {
    match items.len() {
        0 => Err(ParseError::Syntax("empty group".into())),
        1 => Ok(items.into_iter().next().unwrap_or(Expr::int(0))),
        _ => Ok(Expr::List(items)),
    }
}

/// Most terms of a sum or product that is expanded.
const MAX_EXPAND: i64 = 200;

/// `\sum`/`\prod` over var = lo..=hi with exact integer bounds, as an explicit sum /
/// product (None: bounds not integers, or more than MAX_EXPAND terms).
fn expand_range(
    op: &str,
    var: &str,
    lo: &Expr,
    hi: &Expr,
    body: &Expr,
    lim: &Limits,
    budget: &Budget,
) -> Option<Expr> {
    let lo = super::value::exact(lo, lim, budget)?;
    let hi = super::value::exact(hi, lim, budget)?;
    if !lo.is_integer() || !hi.is_integer() {
        return None;
    }
    let (a, b) = (lo.to_integer(), hi.to_integer());
    let n: i64 = num_traits::ToPrimitive::to_i64(&(&b - &a))?;
    if !(0..MAX_EXPAND).contains(&n) {
        return None;
    }
    let terms: Vec<Expr> = (0..=n)
        .map(|j| {
            let v = Expr::Num {
                value: BigRational::from_integer(&a + BigInt::from(j)),
                decimals: None,
            };
            substitute(body, var, &v)
        })
        .collect();
    Some(if op == "sum" {
        Expr::Add(terms)
    } else {
        Expr::Mul(terms)
    })
}

/// `e` with every `Sym(var)` replaced by `v`.
fn substitute(e: &Expr, var: &str, v: &Expr) -> Expr {
    let s = |x: &Expr| substitute(x, var, v);
    let b = |x: &Expr| Box::new(substitute(x, var, v));
    match e {
        Expr::Sym(n) if n == var => v.clone(),
        Expr::Add(xs) => Expr::Add(xs.iter().map(s).collect()),
        Expr::Mul(xs) => Expr::Mul(xs.iter().map(s).collect()),
        Expr::Func(f, xs) => Expr::Func(f.clone(), xs.iter().map(s).collect()),
        Expr::Tuple(xs) => Expr::Tuple(xs.iter().map(s).collect()),
        Expr::List(xs) => Expr::List(xs.iter().map(s).collect()),
        Expr::Set(xs) => Expr::Set(xs.iter().map(s).collect()),
        Expr::Neg(a) => Expr::Neg(b(a)),
        Expr::Div(x, y) => Expr::Div(b(x), b(y)),
        Expr::Pow(x, y) => Expr::Pow(b(x), b(y)),
        Expr::PlusMinus(x, y) => Expr::PlusMinus(b(x), b(y)),
        other => other.clone(),
    }
}

/// Words that are answers in their own right, not products of variables.
const ANSWER_WORDS: &[&str] = &[
    "yes", "no", "odd", "all", "any", "one", "two", "six", "ten", "not", "nor", "the",
];
/// Trigonometric functions (their argument may carry degree marks).
const TRIG: &[&str] = &["sin", "cos", "tan", "sec", "csc", "cot"];
/// Greek letters (variables).
const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
];

fn real_line() -> Expr {
    Expr::Interval {
        lo: Box::new(Expr::Neg(Box::new(Expr::Const(Const::Inf)))),
        hi: Box::new(Expr::Const(Const::Inf)),
        lo_closed: false,
        hi_closed: false,
    }
}

/// The canonical name of a geometric object: an angle and a segment read the same both
/// ways (`\angle ABC` = `\angle CBA`, `\overline{AB}` = `\overline{BA}`); a vector, an
/// arc and a triangle keep their order.
fn geometric_name(cmd: &str, name: &str) -> String {
    let kind = match cmd {
        "angle" | "measuredangle" => "angle",
        "overline" => "segment",
        "triangle" => "triangle",
        "overarc" | "arc" | "widehat" | "wideparen" => "arc",
        _ => "vector",
    };
    let rev: String = name.chars().rev().collect();
    let name = if matches!(kind, "angle" | "segment") && rev.as_str() < name {
        rev
    } else {
        name.to_string()
    };
    format!("{kind} {name}")
}

/// Determinant of a square matrix of at most 4 rows, by cofactor expansion along the first
/// row.
fn determinant(rows: &[Vec<Expr>]) -> Option<Expr> {
    let n = rows.len();
    if n == 0 || n > 4 || rows.iter().any(|r| r.len() != n) {
        return None;
    }
    if n == 1 {
        return Some(rows[0][0].clone());
    }
    let mut terms = Vec::with_capacity(n);
    for j in 0..n {
        let minor: Vec<Vec<Expr>> = rows[1..]
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .filter(|(k, _)| *k != j)
                    .map(|(_, x)| x.clone())
                    .collect()
            })
            .collect();
        let t = Expr::Mul(vec![rows[0][j].clone(), determinant(&minor)?]);
        terms.push(if j % 2 == 1 {
            Expr::Neg(Box::new(t))
        } else {
            t
        });
    }
    Some(Expr::Add(terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        let l = Limits::default();
        let b = Budget::new(l.max_steps);
        parse_expr(s, &l, &b, false).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn numbers_are_exact() {
        assert_eq!(
            p("0.1"),
            Expr::Num {
                value: BigRational::new(1.into(), 10.into()),
                decimals: Some(1)
            }
        );
        assert!(matches!(p("1.5e3"), Expr::Num { decimals: None, .. }));
        assert_eq!(p("1011_2"), Expr::int(11));
    }

    #[test]
    fn frac_shorthand_and_sqrt() {
        assert_eq!(p("\\frac12"), p("\\frac{1}{2}"));
        assert_eq!(p("\\sqrt3"), p("\\sqrt{3}"));
        assert!(matches!(p("\\sqrt[3]{x}"), Expr::Func(ref n, _) if n == "root"));
    }

    #[test]
    fn structures() {
        assert!(matches!(
            p("[0,1)"),
            Expr::Interval {
                lo_closed: true,
                hi_closed: false,
                ..
            }
        ));
        assert!(matches!(p("(1,2,3)"), Expr::Tuple(_)));
        assert!(matches!(p("\\{1,2\\}"), Expr::Set(_)));
        assert!(matches!(p("x \\le 5"), Expr::Rel { .. }));
        assert!(matches!(
            p("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
            Expr::Matrix(_)
        ));
        assert!(matches!(p("1 \\pm \\sqrt{2}"), Expr::PlusMinus(..)));
    }

    #[test]
    fn degrees_units_percent_dropped() {
        assert_eq!(p("90^\\circ"), Expr::int(90));
        assert_eq!(p("90^{\\circ}"), Expr::int(90));
        assert_eq!(
            p("28\\%"),
            Expr::Func("percent".into(), vec![Expr::int(28)])
        );
        assert_eq!(p("5 \\text{ cm}"), Expr::int(5));
        assert_eq!(p("28 percent"), Expr::int(28));
    }

    #[test]
    fn conventions() {
        let prod = |v: Vec<Expr>| Expr::Mul(v);
        let x = || Expr::Sym("x".into());
        let y = || Expr::Sym("y".into());
        assert_eq!(
            p("xy^2"),
            prod(vec![x(), Expr::Pow(Box::new(y()), Box::new(Expr::int(2)))])
        );
        assert_eq!(
            p("\\sin 2x"),
            Expr::Func("sin".into(), vec![prod(vec![Expr::int(2), x()])])
        );
        assert_eq!(
            p("\\lfloor x \\rfloor"),
            Expr::Func("floor".into(), vec![x()])
        );
        assert_eq!(p("Evelyn"), Expr::Text("Evelyn".into()));
        assert_eq!(p("ABC"), Expr::Sym("ABC".into()));
        assert_eq!(p("\\angle CBA"), Expr::Sym("angle ABC".into()));
        assert_eq!(p("\\overrightarrow{BA}"), Expr::Sym("vector BA".into()));
        assert_eq!(
            p("1.\\overline{3}"),
            Expr::Num {
                value: BigRational::new(4.into(), 3.into()),
                decimals: None
            }
        );
        assert_eq!(p("3m"), prod(vec![Expr::int(3), Expr::Sym("m".into())]));
        assert_eq!(p("\\varnothing"), Expr::Set(vec![]));
    }

    #[test]
    fn depth_cap() {
        let l = Limits::default();
        let b = Budget::new(l.max_steps);
        let s = "{".repeat(5000) + "1" + &"}".repeat(5000);
        assert!(parse_expr(&s, &l, &b, false).is_err());
    }
}
