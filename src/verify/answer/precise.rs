//! High-precision evaluation (astro-float big floats, pure Rust): the last word on whether
//! two symbolic values agree at one sample point, and on whether a decimal is a correct
//! rounding of an irrational value.
//!
//! Rule ("noise shrinks, differences stay"): both sides are evaluated at a working precision
//! P and again at 2P. A difference that is only rounding noise shrinks by about 2^-P when the
//! precision doubles; a true difference D stays put. The values agree when the difference at
//! 2P is zero or at most 2^-(P/2) times the difference at P. P starts at 192 bits and grows
//! with the dynamic range of the intermediate values (largest minus smallest binary exponent);
//! a range that `MAX_PREC` cannot resolve is refused (not equal), so `x` vs `x + 10^{-100}`, `\pi` vs `103993/33102`, `50` vs
//! `\log_2(2^{50}+1)` and `e^{-30}` vs `0` are told apart while `\sin\pi` vs `0` agree.
//! Exponents are unbounded in practice (2^±2^31), so `e^{40}` vs `(e^{20})^2` compare without
//! overflow. Every operation is charged to the step budget by precision.
//!
//! Semantics match [`super::value::numeric`]: in real mode (neither side mentions `i`) a
//! value that is not real (√ of a negative, ln of a non-positive, a negative base to a
//! non-integer power) is undefined; trigonometric functions take real arguments only.
use std::cell::RefCell;

use astro_float_num::{BigFloat, Consts, RoundingMode, Sign, Word};
use num_bigint::BigInt;
use num_rational::BigRational;

use super::ast::{Const, Expr};
use super::limits::Budget;
use super::value::{odd_root_exponent, opaque_coefficients};

const RM: RoundingMode = RoundingMode::ToEven;
const START_PREC: usize = 192;
const MAX_PREC: usize = 1024;

thread_local! {
    static CONSTS: RefCell<Option<Consts>> = const { RefCell::new(None) };
}

fn with_cc<T>(f: impl FnOnce(&mut Consts) -> T) -> Option<T> {
    CONSTS.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Consts::new().ok();
        }
        c.as_mut().map(f)
    })
}

/// A complex big float.
#[derive(Debug, Clone)]
struct Cb {
    re: BigFloat,
    im: BigFloat,
}

struct Ev<'a> {
    p: usize,
    real: bool,
    env: &'a dyn Fn(&str) -> f64,
    budget: &'a Budget,
    cc: &'a mut Consts,
    /// smallest and largest binary exponent of any nonzero intermediate value
    lo: i64,
    hi: i64,
}

fn ok(x: BigFloat) -> Option<BigFloat> {
    (!x.is_nan() && !x.is_inf()).then_some(x)
}

fn zero(p: usize) -> BigFloat {
    BigFloat::from_f64(0.0, p)
}

fn bigint_to_bf(n: &BigInt, p: usize) -> Option<BigFloat> {
    let (sign, words) = n.to_u64_digits();
    if words.is_empty() {
        return Some(zero(p));
    }
    let keep = p / 64 + 2;
    let top: Vec<Word> = words[words.len().saturating_sub(keep)..].to_vec();
    let e = i32::try_from(words.len().checked_mul(64)?).ok()?;
    let s = if sign == num_bigint::Sign::Minus {
        Sign::Neg
    } else {
        Sign::Pos
    };
    let mut x = BigFloat::from_words(&top, s, e);
    x.set_precision(p, RM).ok()?;
    ok(x)
}

fn rational_to_bf(v: &BigRational, p: usize) -> Option<BigFloat> {
    let n = bigint_to_bf(v.numer(), p + 64)?;
    let d = bigint_to_bf(v.denom(), p + 64)?;
    ok(n.div(&d, p, RM))
}

impl Ev<'_> {
    fn charge(&self, heavy: bool) -> Option<()> {
        let bits = self.p as u64;
        let n = if heavy { 48 } else { 1 };
        for _ in 0..n {
            if !self.budget.charge_mul(bits, bits) {
                return None;
            }
        }
        Some(())
    }
    fn note(&mut self, x: &BigFloat) {
        if !x.is_zero() {
            if let Some(e) = x.exponent() {
                self.lo = self.lo.min(e as i64);
                self.hi = self.hi.max(e as i64);
            }
        }
    }
    fn real(&self, x: BigFloat) -> Cb {
        Cb {
            re: x,
            im: zero(self.p),
        }
    }
    fn is_real(c: &Cb) -> bool {
        c.im.is_zero()
    }
    fn add(&self, a: &Cb, b: &Cb) -> Option<Cb> {
        Some(Cb {
            re: ok(a.re.add(&b.re, self.p, RM))?,
            im: ok(a.im.add(&b.im, self.p, RM))?,
        })
    }
    fn mul(&self, a: &Cb, b: &Cb) -> Option<Cb> {
        if Self::is_real(a) && Self::is_real(b) {
            return Some(self.real(ok(a.re.mul(&b.re, self.p, RM))?));
        }
        let p = self.p;
        let rr = a.re.mul(&b.re, p, RM).sub(&a.im.mul(&b.im, p, RM), p, RM);
        let ii = a.re.mul(&b.im, p, RM).add(&a.im.mul(&b.re, p, RM), p, RM);
        Some(Cb {
            re: ok(rr)?,
            im: ok(ii)?,
        })
    }
    fn recip(&self, b: &Cb) -> Option<Cb> {
        let p = self.p;
        if b.re.is_zero() && b.im.is_zero() {
            return None;
        }
        if Self::is_real(b) {
            return Some(self.real(ok(BigFloat::from_f64(1.0, p).div(&b.re, p, RM))?));
        }
        let d = b.re.mul(&b.re, p, RM).add(&b.im.mul(&b.im, p, RM), p, RM);
        Some(Cb {
            re: ok(b.re.div(&d, p, RM))?,
            im: ok(b.im.neg().div(&d, p, RM))?,
        })
    }
    fn modulus(&self, a: &Cb) -> Option<BigFloat> {
        if Self::is_real(a) {
            return Some(a.re.abs());
        }
        let p = self.p;
        let s = a.re.mul(&a.re, p, RM).add(&a.im.mul(&a.im, p, RM), p, RM);
        ok(s.sqrt(p, RM))
    }
    fn pi(&mut self) -> BigFloat {
        self.cc.pi(self.p, RM)
    }
    /// atan2(y, x) for the principal argument.
    fn arg(&mut self, a: &Cb) -> Option<BigFloat> {
        let p = self.p;
        let (x, y) = (&a.re, &a.im);
        if x.is_zero() {
            if y.is_zero() {
                return None;
            }
            let h = self.pi().div(&BigFloat::from_f64(2.0, p), p, RM);
            return Some(if y.is_negative() { h.neg() } else { h });
        }
        let t = ok(y.div(x, p, RM).atan(p, RM, self.cc))?;
        if x.is_positive() {
            return Some(t);
        }
        let pi = self.pi();
        Some(if y.is_negative() {
            t.sub(&pi, p, RM)
        } else {
            t.add(&pi, p, RM)
        })
    }
    fn ln(&mut self, a: &Cb) -> Option<Cb> {
        self.charge(true)?;
        let p = self.p;
        if Self::is_real(a) && a.re.is_positive() && !a.re.is_zero() {
            let l = ok(a.re.ln(p, RM, self.cc))?;
            return Some(self.real(l));
        }
        if self.real {
            return None;
        }
        let m = self.modulus(a)?;
        Some(Cb {
            re: ok(m.ln(p, RM, self.cc))?,
            im: self.arg(a)?,
        })
    }
    fn exp(&mut self, a: &Cb) -> Option<Cb> {
        self.charge(true)?;
        let p = self.p;
        let m = ok(a.re.exp(p, RM, self.cc))?;
        if Self::is_real(a) {
            return Some(self.real(m));
        }
        let c = a.im.cos(p, RM, self.cc);
        let s = a.im.sin(p, RM, self.cc);
        Some(Cb {
            re: ok(m.mul(&c, p, RM))?,
            im: ok(m.mul(&s, p, RM))?,
        })
    }
    fn sqrt(&mut self, a: &Cb) -> Option<Cb> {
        if Self::is_real(a) && !a.re.is_negative() {
            return Some(self.real(ok(a.re.sqrt(self.p, RM))?));
        }
        if self.real {
            return None;
        }
        let l = self.ln(a)?;
        let half = self.real(BigFloat::from_f64(0.5, self.p));
        let h = self.mul(&l, &half)?;
        self.exp(&h)
    }
    fn powi(&self, a: &Cb, n: i64) -> Option<Cb> {
        let p = self.p;
        let m = n.unsigned_abs();
        let r = if Self::is_real(a) {
            self.real(ok(a.re.powi(m as usize, p, RM))?)
        } else {
            let mut acc = self.real(BigFloat::from_f64(1.0, p));
            let mut b = a.clone();
            let mut k = m;
            while k > 0 {
                self.charge(false)?;
                if k & 1 == 1 {
                    acc = self.mul(&acc, &b)?;
                }
                b = self.mul(&b, &b)?;
                k >>= 1;
            }
            acc
        };
        if n < 0 {
            self.recip(&r)
        } else {
            Some(r)
        }
    }
    fn pow(&mut self, a: &Cb, b: &Cb) -> Option<Cb> {
        self.charge(true)?;
        if Self::is_real(b) && b.re.is_int() {
            let bits = b.re.exponent().unwrap_or(0);
            if bits <= 40 {
                let n = big_to_i64(&b.re)?;
                if n == 0 {
                    return Some(self.real(BigFloat::from_f64(1.0, self.p)));
                }
                if a.re.is_zero() && a.im.is_zero() {
                    return (n > 0).then(|| self.real(zero(self.p)));
                }
                return self.powi(a, n);
            }
        }
        if a.re.is_zero() && a.im.is_zero() {
            return (Self::is_real(b) && b.re.is_positive()).then(|| self.real(zero(self.p)));
        }
        let l = self.ln(a)?;
        let t = self.mul(b, &l)?;
        self.exp(&t)
    }
    fn real_fn(
        &mut self,
        a: &Cb,
        f: impl Fn(&BigFloat, usize, &mut Consts) -> BigFloat,
    ) -> Option<Cb> {
        if !Self::is_real(a) {
            return None;
        }
        self.charge(true)?;
        let v = ok(f(&a.re, self.p, self.cc))?;
        Some(self.real(v))
    }

    fn eval(&mut self, e: &Expr) -> Option<Cb> {
        if !self.budget.spend(1) {
            return None;
        }
        self.charge(false)?;
        let p = self.p;
        let r = match e {
            Expr::Num { value, .. } => self.real(rational_to_bf(value, p)?),
            Expr::Sym(s) => {
                let v = (self.env)(s);
                self.real(ok(BigFloat::from_f64(v, p))?)
            }
            Expr::Const(Const::Pi) => {
                let pi = self.pi();
                self.real(pi)
            }
            Expr::Const(Const::E) => {
                let e = self.cc.e(p, RM);
                self.real(e)
            }
            Expr::Const(Const::I) => Cb {
                re: zero(p),
                im: BigFloat::from_f64(1.0, p),
            },
            Expr::Const(Const::Inf) => return None,
            Expr::Neg(a) => {
                let x = self.eval(a)?;
                Cb {
                    re: x.re.neg(),
                    im: x.im.neg(),
                }
            }
            Expr::Add(v) => {
                let mut acc = self.real(zero(p));
                for x in v {
                    let y = self.eval(x)?;
                    acc = self.add(&acc, &y)?;
                }
                acc
            }
            Expr::Mul(v) => {
                let mut acc = self.real(BigFloat::from_f64(1.0, p));
                for x in v {
                    let y = self.eval(x)?;
                    acc = self.mul(&acc, &y)?;
                }
                acc
            }
            Expr::Div(a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                let r = self.recip(&y)?;
                self.mul(&x, &r)?
            }
            Expr::Pow(a, b) => {
                let x = self.eval(a)?;
                match odd_root_exponent(b, self.budget) {
                    // a negative base to p/q with q odd is the real root (as in `numeric`)
                    Some((pn, q)) if self.real && Self::is_real(&x) && x.re.is_negative() => {
                        self.charge(true)?;
                        let e = BigFloat::from_f64(pn as f64, p).div(
                            &BigFloat::from_f64(q as f64, p),
                            p,
                            RM,
                        );
                        let m = ok(x.re.neg().pow(&e, p, RM, self.cc))?;
                        self.real(if pn % 2 == 0 { m } else { m.neg() })
                    }
                    _ => {
                        let y = self.eval(b)?;
                        self.pow(&x, &y)?
                    }
                }
            }
            Expr::Func(f, args) => self.func(f, args)?,
            _ => return None,
        };
        self.note(&r.re);
        self.note(&r.im);
        Some(r)
    }

    fn func(&mut self, f: &str, args: &[Expr]) -> Option<Cb> {
        let p = self.p;
        let x = self.eval(args.first()?)?;
        Some(match f {
            "sqrt" => self.sqrt(&x)?,
            "root" => {
                let n = self.eval(args.get(1)?)?;
                if !Self::is_real(&n) || !n.re.is_int() {
                    return None;
                }
                let k = big_to_i64(&n.re)?;
                if k <= 0 {
                    return None;
                }
                if Self::is_real(&x) && x.re.is_negative() {
                    if k % 2 == 0 {
                        if self.real {
                            return None;
                        }
                    } else {
                        let inv = BigFloat::from_f64(1.0 / k as f64, p);
                        let inv = if (1.0 / k as f64) * k as f64 == 1.0 && k.count_ones() == 1 {
                            inv
                        } else {
                            BigFloat::from_f64(1.0, p).div(&BigFloat::from_f64(k as f64, p), p, RM)
                        };
                        let m = ok(x.re.neg().pow(&inv, p, RM, self.cc))?;
                        return Some(self.real(m.neg()));
                    }
                }
                let inv = BigFloat::from_f64(1.0, p).div(&BigFloat::from_f64(k as f64, p), p, RM);
                let inv = self.real(inv);
                self.pow(&x, &inv)?
            }
            "abs" => {
                let m = self.modulus(&x)?;
                self.real(m)
            }
            "exp" => self.exp(&x)?,
            "ln" => self.ln(&x)?,
            "log" => {
                let l = self.ln(&x)?;
                let ten = self.real(BigFloat::from_f64(10.0, p));
                let l10 = self.ln(&ten)?;
                let r = self.recip(&l10)?;
                self.mul(&l, &r)?
            }
            "sin" => self.real_fn(&x, |v, p, cc| v.sin(p, RM, cc))?,
            "cos" => self.real_fn(&x, |v, p, cc| v.cos(p, RM, cc))?,
            "tan" => self.real_fn(&x, |v, p, cc| v.tan(p, RM, cc))?,
            "sec" => self.real_fn(&x, |v, p, cc| {
                BigFloat::from_f64(1.0, p).div(&v.cos(p, RM, cc), p, RM)
            })?,
            "csc" => self.real_fn(&x, |v, p, cc| {
                BigFloat::from_f64(1.0, p).div(&v.sin(p, RM, cc), p, RM)
            })?,
            "cot" => self.real_fn(&x, |v, p, cc| {
                BigFloat::from_f64(1.0, p).div(&v.tan(p, RM, cc), p, RM)
            })?,
            "arcsin" => self.real_fn(&x, |v, p, cc| v.asin(p, RM, cc))?,
            "arccos" => self.real_fn(&x, |v, p, cc| v.acos(p, RM, cc))?,
            "arctan" => self.real_fn(&x, |v, p, cc| v.atan(p, RM, cc))?,
            "sinh" => self.real_fn(&x, |v, p, cc| v.sinh(p, RM, cc))?,
            "cosh" => self.real_fn(&x, |v, p, cc| v.cosh(p, RM, cc))?,
            "tanh" => self.real_fn(&x, |v, p, cc| v.tanh(p, RM, cc))?,
            "floor" => self.real_fn(&x, |v, _, _| v.floor())?,
            "ceil" => self.real_fn(&x, |v, _, _| v.ceil())?,
            "percent" => {
                let h = BigFloat::from_f64(1.0, p).div(&BigFloat::from_f64(100.0, p), p, RM);
                let h = self.real(h);
                self.mul(&x, &h)?
            }
            "fact" => {
                if !Self::is_real(&x) || !x.re.is_int() || x.re.is_negative() {
                    return None;
                }
                let n = big_to_i64(&x.re).filter(|&n| n <= 1000)?;
                let mut acc = BigFloat::from_f64(1.0, p);
                for k in 2..=n {
                    self.charge(false)?;
                    acc = acc.mul(&BigFloat::from_f64(k as f64, p), p, RM);
                }
                self.real(ok(acc)?)
            }
            "binom" => {
                let k = self.eval(args.get(1)?)?;
                if !Self::is_real(&k) || !k.re.is_int() || k.re.is_negative() {
                    return None;
                }
                let k = big_to_i64(&k.re).filter(|&k| k <= 1000)?;
                let mut acc = self.real(BigFloat::from_f64(1.0, p));
                for j in 0..k {
                    self.charge(false)?;
                    let t = self.add(&x, &self.real(BigFloat::from_f64(-(j as f64), p)))?;
                    acc = self.mul(&acc, &t)?;
                    let r = self.recip(&self.real(BigFloat::from_f64(j as f64 + 1.0, p)))?;
                    acc = self.mul(&acc, &r)?;
                }
                acc
            }
            "max" | "min" => {
                let mut best = x;
                for a in &args[1..] {
                    let y = self.eval(a)?;
                    if !Self::is_real(&best) || !Self::is_real(&y) {
                        return None;
                    }
                    let c = y.re.cmp(&best.re)?;
                    if (f == "max" && c > 0) || (f == "min" && c < 0) {
                        best = y;
                    }
                }
                best
            }
            other => {
                // opaque operator: the same fixed nonlinear function as the f64 evaluator
                let (a, b) = opaque_coefficients(other);
                let mut v = x;
                for extra in &args[1..] {
                    let y = self.eval(extra)?;
                    let s = self.real(BigFloat::from_f64(std::f64::consts::FRAC_1_SQRT_2, 53));
                    let t = self.mul(&y, &s)?;
                    v = self.add(&v, &t)?;
                }
                if !Self::is_real(&v) {
                    return None;
                }
                self.charge(true)?;
                let (a, b) = (BigFloat::from_f64(a, p), BigFloat::from_f64(b, p));
                let s = v.re.mul(&a, p, RM).add(&b, p, RM).sin(p, RM, self.cc);
                let c = v.re.mul(&b, p, RM).cos(p, RM, self.cc);
                let r = s.add(&c.mul(&BigFloat::from_f64(0.5, p), p, RM), p, RM);
                self.real(ok(r)?)
            }
        })
    }
}

/// An integer-valued big float as i64 (|x| < 2^62).
fn big_to_i64(x: &BigFloat) -> Option<i64> {
    if x.is_zero() {
        return Some(0);
    }
    let e = x.exponent()?;
    if e <= 0 {
        return Some(0);
    }
    if e > 62 {
        return None;
    }
    let top = *x.mantissa_digits()?.last()?;
    let n = (top >> (64 - e as u32)) as i64;
    Some(if x.is_negative() { -n } else { n })
}

fn eval_at(
    e: &Expr,
    env: &dyn Fn(&str) -> f64,
    p: usize,
    real: bool,
    budget: &Budget,
    cc: &mut Consts,
) -> Option<(Cb, i64)> {
    let mut ev = Ev {
        p,
        real,
        env,
        budget,
        cc,
        lo: i64::MAX,
        hi: i64::MIN,
    };
    let v = ev.eval(e)?;
    let range = if ev.hi >= ev.lo { ev.hi - ev.lo } else { 0 };
    Some((v, range))
}

/// Largest binary exponent of |re| and |im| of a − b (None: exactly zero).
fn diff_exp(a: &Cb, b: &Cb, p: usize) -> Option<i64> {
    let dr = a.re.sub(&b.re, p, RM);
    let di = a.im.sub(&b.im, p, RM);
    let e = |x: &BigFloat| {
        (!x.is_zero())
            .then(|| x.exponent().map(|e| e as i64))
            .flatten()
    };
    match (e(&dr), e(&di)) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x),
        (Some(x), Some(y)) => Some(x.max(y)),
    }
}

fn mag_exp(a: &Cb) -> Option<i64> {
    let e = |x: &BigFloat| {
        (!x.is_zero())
            .then(|| x.exponent().map(|e| e as i64))
            .flatten()
    };
    match (e(&a.re), e(&a.im)) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x),
        (Some(x), Some(y)) => Some(x.max(y)),
    }
}

/// Do `g` and `p` agree at the point `env`? Some(true/false) when decided, None when either
/// side is undefined there (or the budget ran out).
pub fn agree(
    g: &Expr,
    p: &Expr,
    env: &dyn Fn(&str) -> f64,
    real: bool,
    budget: &Budget,
) -> Option<bool> {
    with_cc(|cc| {
        // one pass at START_PREC measures the dynamic range; one more at a precision that
        // resolves it (no chasing: rounding noise itself widens the range)
        let (a0, ra) = eval_at(g, env, START_PREC, real, budget, cc)?;
        let (b0, rb) = eval_at(p, env, START_PREC, real, budget, cc)?;
        let range = ra.max(rb).max(0) as usize;
        if range + 96 > MAX_PREC {
            // beyond what MAX_PREC resolves: refuse rather than guess
            return Some(false);
        }
        let prec = START_PREC
            .max((range + 160).div_ceil(64) * 64)
            .min(MAX_PREC);
        let (a1, b1) = if prec == START_PREC {
            (a0, b0)
        } else {
            (
                eval_at(g, env, prec, real, budget, cc)?.0,
                eval_at(p, env, prec, real, budget, cc)?.0,
            )
        };
        let p2 = 2 * prec;
        let (a2, _) = eval_at(g, env, p2, real, budget, cc)?;
        let (b2, _) = eval_at(p, env, p2, real, budget, cc)?;
        let Some(d2) = diff_exp(&a2, &b2, p2) else {
            return Some(true);
        };
        Some(match diff_exp(&a1, &b1, prec) {
            Some(d1) => d2 <= d1 - (prec as i64) / 2,
            // exact cancellation at P: compare with the size of the values
            None => {
                let m = mag_exp(&a2).max(mag_exp(&b2));
                m.is_some_and(|m| d2 <= m - prec as i64)
            }
        })
    })
    .flatten()
}

/// Is the decimal `dec` (written with `places` digits after the point) the correctly rounded
/// value of the constant expression `e`: |e − dec| ≤ ½·10^−places? None when `e` cannot be
/// evaluated.
pub fn rounds_to(e: &Expr, dec: &BigRational, places: u32, budget: &Budget) -> Option<bool> {
    if places > 300 {
        return None;
    }
    with_cc(|cc| {
        let env = |_: &str| f64::NAN;
        let prec = START_PREC + (places as usize) * 4;
        let (v, _) = eval_at(e, &env, prec, true, budget, cc)?;
        if !v.im.is_zero() {
            return Some(false);
        }
        let half = BigRational::new(
            BigInt::from(1),
            BigInt::from(2) * num_traits::pow(BigInt::from(10), places as usize),
        );
        let lo = rational_to_bf(&(dec - &half), prec)?;
        let hi = rational_to_bf(&(dec + &half), prec)?;
        // strictly inside: an irrational value never sits on the boundary, and a value within
        // rounding noise of it is refused
        let inside = v.re.cmp(&lo)? > 0 && v.re.cmp(&hi)? < 0;
        Some(inside)
    })
    .flatten()
}
