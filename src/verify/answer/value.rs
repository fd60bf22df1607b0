//! Values of expressions: exact big-rational evaluation (with caps on exponents and
//! factorials) and seeded complex floating-point evaluation for symbolic expressions.
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::ast::{Const, Expr};
use super::limits::{Budget, Limits};

/// Exact rational value of `e`, or None when it is not rational, contains symbols, or would
/// exceed the limits (huge powers / factorials are refused, never computed).
pub fn exact(e: &Expr, lim: &Limits, budget: &Budget) -> Option<BigRational> {
    if !budget.spend(1) {
        return None;
    }
    match e {
        Expr::Num { value, .. } => Some(value.clone()),
        Expr::Neg(a) => Some(-exact(a, lim, budget)?),
        Expr::Add(v) => {
            let mut acc = BigRational::zero();
            for x in v {
                acc += exact(x, lim, budget)?;
            }
            Some(acc)
        }
        Expr::Mul(v) => {
            let mut acc = BigRational::one();
            for x in v {
                acc *= exact(x, lim, budget)?;
            }
            Some(acc)
        }
        Expr::Div(a, b) => {
            let d = exact(b, lim, budget)?;
            if d.is_zero() {
                return None;
            }
            Some(exact(a, lim, budget)? / d)
        }
        Expr::Pow(a, b) => {
            let base = exact(a, lim, budget)?;
            let ex = exact(b, lim, budget)?;
            pow_exact(&base, &ex, lim, budget)
        }
        Expr::Func(f, args) => match (f.as_str(), args.as_slice()) {
            ("sqrt", [x]) => root_exact(&exact(x, lim, budget)?, 2),
            ("root", [x, n]) => {
                let n = exact(n, lim, budget)?;
                if !n.is_integer() || n <= BigRational::zero() {
                    return None;
                }
                let n = n.to_integer().to_u32().filter(|&n| n <= 64)?;
                root_exact(&exact(x, lim, budget)?, n)
            }
            ("abs", [x]) => Some(exact(x, lim, budget)?.abs()),
            ("fact", [x]) => {
                let n = exact(x, lim, budget)?;
                if !n.is_integer() || n.is_negative() {
                    return None;
                }
                let n = n
                    .to_integer()
                    .to_u64()
                    .filter(|&n| n <= lim.max_factorial)?;
                if !budget.spend(n) {
                    return None;
                }
                let mut acc = BigInt::one();
                for k in 2..=n {
                    acc *= k;
                }
                Some(BigRational::from_integer(acc))
            }
            ("binom", [n, k]) => {
                let n = exact(n, lim, budget)?;
                let k = exact(k, lim, budget)?;
                if !n.is_integer() || !k.is_integer() || k.is_negative() {
                    return None;
                }
                let k = k
                    .to_integer()
                    .to_u64()
                    .filter(|&k| k <= lim.max_factorial)?;
                if !budget.spend(k) {
                    return None;
                }
                let n = n.to_integer();
                let mut acc = BigRational::one();
                for j in 0..k {
                    acc = acc * BigRational::from_integer(&n - BigInt::from(j))
                        / BigRational::from_integer(BigInt::from(j + 1));
                }
                Some(acc)
            }
            _ => None,
        },
        _ => None,
    }
}

fn pow_exact(
    base: &BigRational,
    ex: &BigRational,
    lim: &Limits,
    budget: &Budget,
) -> Option<BigRational> {
    if ex.is_integer() {
        let n = ex.to_integer();
        let mag = n.abs().to_u64()?;
        if base.is_zero() {
            return if n.is_negative() {
                None
            } else if mag == 0 {
                Some(BigRational::one())
            } else {
                Some(BigRational::zero())
            };
        }
        if base.abs().is_one() {
            let neg = base.is_negative() && mag % 2 == 1;
            return Some(if neg {
                -BigRational::one()
            } else {
                BigRational::one()
            });
        }
        if mag > lim.max_exponent {
            return None;
        }
        let bits = base.numer().bits().max(base.denom().bits());
        if bits.saturating_mul(mag) > lim.max_power_bits
            || !budget.spend(bits.saturating_mul(mag) / 64 + 1)
        {
            return None;
        }
        let p = num_traits::pow(base.clone(), mag as usize);
        return Some(if n.is_negative() { p.recip() } else { p });
    }
    // rational exponent p/q: exact only when base is a perfect q-th power
    let q = ex.denom().to_u32().filter(|&q| q <= 64)?;
    let r = root_exact(base, q)?;
    pow_exact(
        &r,
        &BigRational::from_integer(ex.numer().clone()),
        lim,
        budget,
    )
}

/// Exact n-th root of a rational when it is rational (perfect powers only).
fn root_exact(x: &BigRational, n: u32) -> Option<BigRational> {
    if x.is_negative() {
        if n % 2 == 1 {
            return root_exact(&-x, n).map(|r| -r);
        }
        return None;
    }
    if x.numer().bits() > 100_000 || x.denom().bits() > 100_000 {
        return None;
    }
    let a = x.numer().nth_root(n);
    let b = x.denom().nth_root(n);
    if num_traits::pow(a.clone(), n as usize) == *x.numer()
        && num_traits::pow(b.clone(), n as usize) == *x.denom()
    {
        Some(BigRational::new(a, b))
    } else {
        None
    }
}

/// Complex number for numeric evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct C64 {
    /// real part
    pub re: f64,
    /// imaginary part
    pub im: f64,
}

impl C64 {
    /// A real number.
    pub fn real(re: f64) -> C64 {
        C64 { re, im: 0.0 }
    }
    fn add(self, o: C64) -> C64 {
        C64 {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn mul(self, o: C64) -> C64 {
        C64 {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn neg(self) -> C64 {
        C64 {
            re: -self.re,
            im: -self.im,
        }
    }
    fn div(self, o: C64) -> Option<C64> {
        let d = o.re * o.re + o.im * o.im;
        if d == 0.0 || !d.is_finite() {
            return None;
        }
        Some(C64 {
            re: (self.re * o.re + self.im * o.im) / d,
            im: (self.im * o.re - self.re * o.im) / d,
        })
    }
    /// Modulus.
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    fn is_real(self) -> bool {
        self.im == 0.0
    }
    fn exp(self) -> C64 {
        let m = self.re.exp();
        C64 {
            re: m * self.im.cos(),
            im: m * self.im.sin(),
        }
    }
    fn ln(self) -> Option<C64> {
        if self.re == 0.0 && self.im == 0.0 {
            return None;
        }
        Some(C64 {
            re: self.abs().ln(),
            im: self.im.atan2(self.re),
        })
    }
    fn sqrt(self) -> C64 {
        if self.is_real() && self.re >= 0.0 {
            return C64::real(self.re.sqrt());
        }
        let r = self.abs();
        let re = ((r + self.re) / 2.0).sqrt();
        let im = ((r - self.re) / 2.0)
            .sqrt()
            .copysign(if self.im == 0.0 { 1.0 } else { self.im });
        C64 { re, im }
    }
    fn pow(self, e: C64) -> Option<C64> {
        if e.is_real() && e.re.fract() == 0.0 && e.re.abs() <= 64.0 {
            let n = e.re as i32;
            let mut acc = C64::real(1.0);
            for _ in 0..n.unsigned_abs() {
                acc = acc.mul(self);
            }
            return if n < 0 {
                C64::real(1.0).div(acc)
            } else {
                Some(acc)
            };
        }
        if self.is_real() && self.re > 0.0 && e.is_real() {
            return Some(C64::real(self.re.powf(e.re)));
        }
        if self.re == 0.0 && self.im == 0.0 {
            return if e.re > 0.0 {
                Some(C64::real(0.0))
            } else {
                None
            };
        }
        Some(e.mul(self.ln()?).exp())
    }
    fn finite(self) -> Option<C64> {
        (self.re.is_finite() && self.im.is_finite()).then_some(self)
    }
}

fn real_fn(x: C64, f: impl Fn(f64) -> f64) -> Option<C64> {
    if x.im.abs() > 1e-300 {
        return None;
    }
    C64::real(f(x.re)).finite()
}

fn hash_str(s: &str) -> u64 {
    // FNV-1a: a fixed, platform-independent hash for opaque operators
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Numeric value of `e` with each free symbol bound by `env`. None on domain errors,
/// infinities or budget exhaustion.
pub fn numeric(e: &Expr, env: &dyn Fn(&str) -> f64, budget: &Budget) -> Option<C64> {
    if !budget.spend(1) {
        return None;
    }
    let r = match e {
        Expr::Num { value, .. } => C64::real(value.to_f64()?),
        Expr::Sym(s) => C64::real(env(s)),
        Expr::Const(Const::Pi) => C64::real(std::f64::consts::PI),
        Expr::Const(Const::E) => C64::real(std::f64::consts::E),
        Expr::Const(Const::I) => C64 { re: 0.0, im: 1.0 },
        Expr::Const(Const::Inf) => return None,
        Expr::Neg(a) => numeric(a, env, budget)?.neg(),
        Expr::Add(v) => {
            let mut acc = C64::real(0.0);
            for x in v {
                acc = acc.add(numeric(x, env, budget)?);
            }
            acc
        }
        Expr::Mul(v) => {
            let mut acc = C64::real(1.0);
            for x in v {
                acc = acc.mul(numeric(x, env, budget)?);
            }
            acc
        }
        Expr::Div(a, b) => numeric(a, env, budget)?.div(numeric(b, env, budget)?)?,
        Expr::Pow(a, b) => numeric(a, env, budget)?.pow(numeric(b, env, budget)?)?,
        Expr::Func(f, args) => {
            let x = numeric(args.first()?, env, budget)?;
            match f.as_str() {
                "sqrt" => x.sqrt(),
                "root" => {
                    let n = numeric(args.get(1)?, env, budget)?;
                    if x.is_real()
                        && n.is_real()
                        && x.re < 0.0
                        && n.re.fract() == 0.0
                        && (n.re as i64) % 2 != 0
                    {
                        C64::real(-(-x.re).powf(1.0 / n.re))
                    } else {
                        x.pow(C64::real(1.0).div(n)?)?
                    }
                }
                "abs" => C64::real(x.abs()),
                "exp" => x.exp(),
                "ln" => x.ln()?,
                "log" => x.ln()?.div(C64::real(std::f64::consts::LN_10))?,
                "sin" => real_fn(x, f64::sin)?,
                "cos" => real_fn(x, f64::cos)?,
                "tan" => real_fn(x, f64::tan)?,
                "sec" => real_fn(x, |t| 1.0 / t.cos())?,
                "csc" => real_fn(x, |t| 1.0 / t.sin())?,
                "cot" => real_fn(x, |t| 1.0 / t.tan())?,
                "arcsin" => real_fn(x, f64::asin)?,
                "arccos" => real_fn(x, f64::acos)?,
                "arctan" => real_fn(x, f64::atan)?,
                "sinh" => real_fn(x, f64::sinh)?,
                "cosh" => real_fn(x, f64::cosh)?,
                "tanh" => real_fn(x, f64::tanh)?,
                "fact" => {
                    if !x.is_real() || x.re < 0.0 || x.re.fract() != 0.0 || x.re > 170.0 {
                        return None;
                    }
                    C64::real((1..=x.re as u64).map(|k| k as f64).product())
                }
                "binom" => {
                    let k = numeric(args.get(1)?, env, budget)?;
                    if !k.is_real() || k.re < 0.0 || k.re.fract() != 0.0 || k.re > 170.0 {
                        return None;
                    }
                    let mut acc = C64::real(1.0);
                    for j in 0..k.re as u64 {
                        acc = acc
                            .mul(x.add(C64::real(-(j as f64))))
                            .div(C64::real(j as f64 + 1.0))?;
                    }
                    acc
                }
                other => {
                    // opaque operator (sum, integral, unknown function): a fixed nonlinear
                    // function of its argument, so equal arguments give equal values
                    let h = hash_str(other);
                    let a = 1.0 + (h % 1000) as f64 / 1000.0;
                    let b = ((h >> 20) % 1000) as f64 / 1000.0;
                    let mut v = x;
                    for extra in &args[1..] {
                        v = v.add(
                            numeric(extra, env, budget)?
                                .mul(C64::real(std::f64::consts::FRAC_1_SQRT_2)),
                        );
                    }
                    real_fn(v, |t| (a * t + b).sin() + 0.5 * (t * b).cos())?
                }
            }
        }
        _ => return None,
    };
    r.finite()
}

/// Free variables of `e` (sorted, deduplicated).
pub fn free_symbols(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Sym(s) => {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        Expr::Add(v)
        | Expr::Mul(v)
        | Expr::Tuple(v)
        | Expr::List(v)
        | Expr::Set(v)
        | Expr::Union(v) => v.iter().for_each(|x| free_symbols(x, out)),
        Expr::Func(_, v) => v.iter().for_each(|x| free_symbols(x, out)),
        Expr::Neg(a) => free_symbols(a, out),
        Expr::Div(a, b) | Expr::Pow(a, b) | Expr::PlusMinus(a, b) => {
            free_symbols(a, out);
            free_symbols(b, out);
        }
        Expr::Interval { lo, hi, .. } => {
            free_symbols(lo, out);
            free_symbols(hi, out);
        }
        Expr::Matrix(rows) => rows.iter().flatten().for_each(|x| free_symbols(x, out)),
        Expr::Rel { parts, .. } => parts.iter().for_each(|x| free_symbols(x, out)),
        Expr::Num { .. } | Expr::Const(_) | Expr::Text(_) => {}
    }
    out.sort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::answer::latex::parse_expr;

    fn ex(s: &str) -> Option<BigRational> {
        let l = Limits::default();
        let b = Budget::new(l.max_steps);
        exact(&parse_expr(s, &l, &b, false).unwrap(), &l, &b)
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(
            ex("\\frac{1}{2^{99}}").unwrap() * BigRational::from_integer(2.into()),
            ex("\\frac{1}{2^{98}}").unwrap()
        );
        assert_ne!(ex("1/2004!"), ex("1/2006!"));
        assert_eq!(ex("\\sqrt{72}/\\sqrt{2}"), None); // sqrt(72) is not rational
        assert_eq!(ex("\\sqrt{49}"), ex("7"));
        assert_eq!(ex("8^{2/3}"), ex("4"));
        assert_eq!(ex("\\binom{5}{2}"), ex("10"));
    }

    #[test]
    fn huge_powers_are_refused() {
        assert_eq!(ex("10^{10^{10}}"), None);
        assert_eq!(ex("100000!"), None);
        assert!(ex("2^{1000}").is_some());
    }
}
