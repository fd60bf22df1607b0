//! Values of expressions: exact big-rational evaluation (with caps on exponents and
//! factorials) and seeded complex floating-point evaluation for symbolic expressions.
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::ast::{Const, Expr};
use super::limits::{Budget, Limits};

fn rbits(x: &BigRational) -> u64 {
    x.numer().bits() + x.denom().bits()
}

/// a + b, gcd-free for integers, else charged as a gcd.
fn rat_add(a: BigRational, b: BigRational, budget: &Budget) -> Option<BigRational> {
    if a.is_integer() && b.is_integer() {
        budget
            .charge_linear(rbits(&a).max(rbits(&b)))
            .then_some(())?;
        return Some(BigRational::from_integer(a.to_integer() + b.to_integer()));
    }
    (budget.charge_mul(rbits(&a), rbits(&b)) && budget.charge_gcd(rbits(&a), rbits(&b)))
        .then(|| a + b)
}

/// a · b, gcd-free for integers, else charged as a gcd.
fn rat_mul(a: BigRational, b: BigRational, budget: &Budget) -> Option<BigRational> {
    if !budget.charge_mul(rbits(&a), rbits(&b)) {
        return None;
    }
    if a.is_integer() && b.is_integer() {
        return Some(BigRational::from_integer(a.to_integer() * b.to_integer()));
    }
    budget.charge_gcd(rbits(&a), rbits(&b)).then(|| a * b)
}

/// Charge and size-check one binary rational operation whose result is `r`.
fn checked(r: BigRational, lim: &Limits, budget: &Budget) -> Option<BigRational> {
    (rbits(&r) <= lim.max_power_bits && budget.charge_linear(rbits(&r))).then_some(r)
}

/// Exact rational value of `e`, or None when it is not rational, contains symbols, or would
/// exceed the limits (huge powers / factorials / binomials / products are refused, never
/// computed). Every big-number operation is charged to `budget` by operand size.
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
                let y = exact(x, lim, budget)?;
                acc = checked(rat_add(acc, y, budget)?, lim, budget)?;
            }
            Some(acc)
        }
        Expr::Mul(v) => {
            let mut acc = BigRational::one();
            for x in v {
                let y = exact(x, lim, budget)?;
                if rbits(&acc) + rbits(&y) > lim.max_power_bits + 2 {
                    return None;
                }
                acc = checked(rat_mul(acc, y, budget)?, lim, budget)?;
            }
            Some(acc)
        }
        Expr::Div(a, b) => {
            let d = exact(b, lim, budget)?;
            if d.is_zero() {
                return None;
            }
            let n = exact(a, lim, budget)?;
            if rbits(&n) + rbits(&d) > lim.max_power_bits + 2 {
                return None;
            }
            checked(rat_mul(n, d.recip(), budget)?, lim, budget)
        }
        Expr::Pow(a, b) => {
            let base = exact(a, lim, budget)?;
            let ex = exact(b, lim, budget)?;
            pow_exact(&base, &ex, lim, budget)
        }
        Expr::Func(f, args) => match (f.as_str(), args.as_slice()) {
            ("sqrt", [x]) => root_exact(&exact(x, lim, budget)?, 2, budget),
            ("root", [x, n]) => {
                let n = exact(n, lim, budget)?;
                if !n.is_integer() || n <= BigRational::zero() {
                    return None;
                }
                let n = n.to_integer().to_u32().filter(|&n| n <= 64)?;
                root_exact(&exact(x, lim, budget)?, n, budget)
            }
            ("abs", [x]) => Some(exact(x, lim, budget)?.abs()),
            ("floor", [x]) => Some(exact(x, lim, budget)?.floor()),
            ("percent", [x]) => {
                Some(exact(x, lim, budget)? / BigRational::from_integer(100.into()))
            }
            ("max" | "min", [x, rest @ ..]) if !rest.is_empty() => {
                let mut best = exact(x, lim, budget)?;
                for y in rest {
                    let v = exact(y, lim, budget)?;
                    if (f.as_str() == "max" && v > best) || (f.as_str() == "min" && v < best) {
                        best = v;
                    }
                }
                Some(best)
            }
            ("gcd" | "lcm", [x, rest @ ..]) if !rest.is_empty() => {
                let mut acc = exact(x, lim, budget)?;
                for y in rest {
                    let v = exact(y, lim, budget)?;
                    if !acc.is_integer()
                        || !v.is_integer()
                        || !budget.charge_mul(rbits(&acc), rbits(&v))
                    {
                        return None;
                    }
                    let (a, b) = (acc.to_integer(), v.to_integer());
                    acc = BigRational::from_integer(if f.as_str() == "gcd" {
                        a.gcd(&b)
                    } else {
                        a.lcm(&b)
                    });
                }
                Some(acc)
            }
            ("ceil", [x]) => Some(exact(x, lim, budget)?.ceil()),
            ("fact", [x]) => {
                let n = exact(x, lim, budget)?;
                if !n.is_integer() || n.is_negative() {
                    return None;
                }
                let n = n
                    .to_integer()
                    .to_u64()
                    .filter(|&n| n <= lim.max_factorial)?;
                // log2(n!) ≤ n·log2(n)
                let est = n.saturating_mul(64 - n.leading_zeros() as u64);
                if est > lim.max_power_bits {
                    return None;
                }
                let mut acc = BigInt::one();
                for k in 2..=n {
                    if !budget.charge_mul(acc.bits(), 64) {
                        return None;
                    }
                    acc *= k;
                }
                Some(BigRational::from_integer(acc))
            }
            ("binom", [n, k]) => {
                let n = exact(n, lim, budget)?;
                let k = exact(k, lim, budget)?;
                binom_exact(&n, &k, lim, budget)
            }
            _ => None,
        },
        _ => None,
    }
}

/// C(n, k) for rational n and integer k ≥ 0, refused when the result could exceed
/// `max_power_bits` (bounded by k·bits(n)) or the budget.
fn binom_exact(
    n: &BigRational,
    k: &BigRational,
    lim: &Limits,
    budget: &Budget,
) -> Option<BigRational> {
    if !k.is_integer() || k.is_negative() {
        return None;
    }
    let k = k.to_integer();
    if n.is_integer() {
        let mut n = n.to_integer();
        let mut sign = false;
        if n.is_negative() {
            // C(n, k) = (−1)^k C(k − n − 1, k)
            sign = k.is_odd();
            n = &k - &n - BigInt::one();
        }
        if k > n {
            return Some(BigRational::zero());
        }
        let k = std::cmp::min(k.clone(), &n - &k).to_u64()?;
        let nb = n.bits().max(1);
        if k > lim.max_factorial || k.saturating_mul(nb) > lim.max_power_bits {
            return None;
        }
        let mut acc = BigInt::one();
        for j in 0..k {
            // acc·(n − j)/(j + 1) = C(n, j + 1), an exact integer division
            if !budget.charge_mul(acc.bits(), nb) || !budget.charge_mul(acc.bits() + nb, 64) {
                return None;
            }
            acc = acc * (&n - BigInt::from(j)) / BigInt::from(j + 1);
        }
        return Some(BigRational::from_integer(if sign { -acc } else { acc }));
    }
    let k = k.to_u64().filter(|&k| k <= 64)?;
    let mut acc = BigRational::one();
    for j in 0..k {
        let t = n - BigRational::from_integer(BigInt::from(j));
        if !budget.charge_mul(rbits(&acc), rbits(&t)) || !budget.charge_gcd(rbits(&acc), rbits(&t))
        {
            return None;
        }
        acc = checked(
            acc * t / BigRational::from_integer(BigInt::from(j + 1)),
            lim,
            budget,
        )?;
    }
    Some(acc)
}

fn pow_exact(
    base: &BigRational,
    ex: &BigRational,
    lim: &Limits,
    budget: &Budget,
) -> Option<BigRational> {
    if ex.is_integer() {
        let n = ex.to_integer();
        if base.is_zero() {
            return if n.is_negative() {
                None
            } else if n.is_zero() {
                Some(BigRational::one())
            } else {
                Some(BigRational::zero())
            };
        }
        if base.abs().is_one() {
            let neg = base.is_negative() && n.is_odd();
            return Some(if neg {
                -BigRational::one()
            } else {
                BigRational::one()
            });
        }
        let mag = n.abs().to_u64()?;
        if mag > lim.max_exponent {
            return None;
        }
        let bits = base.numer().bits().max(base.denom().bits());
        let out = bits.saturating_mul(mag);
        // repeated squaring: about two multiplications of the result's size
        if out > lim.max_power_bits || !budget.charge_mul(out, out) || !budget.charge_mul(out, out)
        {
            return None;
        }
        // numerator and denominator separately: coprime stays coprime, no gcd
        let num = num_traits::pow(base.numer().clone(), mag as usize);
        let den = num_traits::pow(base.denom().clone(), mag as usize);
        let p = BigRational::new_raw(num, den);
        return Some(if n.is_negative() { p.recip() } else { p });
    }
    // rational exponent p/q: exact only when base is a perfect q-th power
    let q = ex.denom().to_u32().filter(|&q| q <= 64)?;
    let r = root_exact(base, q, budget)?;
    pow_exact(
        &r,
        &BigRational::from_integer(ex.numer().clone()),
        lim,
        budget,
    )
}

/// Exact n-th root of a rational when it is rational (perfect powers only).
fn root_exact(x: &BigRational, n: u32, budget: &Budget) -> Option<BigRational> {
    if x.is_negative() {
        if n % 2 == 1 {
            return root_exact(&-x, n, budget).map(|r| -r);
        }
        return None;
    }
    if x.numer().bits() > 100_000 || x.denom().bits() > 100_000 {
        return None;
    }
    // Newton iterations plus the check power: a few multiplications of the full size
    for _ in 0..8 {
        if !budget.charge_mul(rbits(x), rbits(x)) {
            return None;
        }
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
    fn pow(self, e: C64, real: bool) -> Option<C64> {
        if e.is_real() && e.re.fract() == 0.0 && e.re.abs() <= (1u64 << 31) as f64 {
            let n = e.re as i64;
            if self.is_real() {
                return C64::real(self.re.powi(n as i32)).finite();
            }
            let (mut acc, mut b, mut k) = (C64::real(1.0), self, n.unsigned_abs());
            while k > 0 {
                if k & 1 == 1 {
                    acc = acc.mul(b);
                }
                b = b.mul(b);
                k >>= 1;
            }
            return if n < 0 {
                C64::real(1.0).div(acc)
            } else {
                acc.finite()
            };
        }
        if self.is_real() && self.re > 0.0 && e.is_real() {
            return Some(C64::real(self.re.powf(e.re)));
        }
        if self.re == 0.0 && self.im == 0.0 {
            return if e.is_real() && e.re > 0.0 {
                Some(C64::real(0.0))
            } else {
                None
            };
        }
        if real {
            return None; // a negative base to a non-integer power is not real
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

/// The coefficients `(a, b)` of the fixed nonlinear function an opaque operator named `name`
/// stands for (the f64 and the high-precision evaluators must use the same ones).
pub(crate) fn opaque_coefficients(name: &str) -> (f64, f64) {
    let h = hash_str(name);
    (
        1.0 + (h % 1000) as f64 / 1000.0,
        ((h >> 20) % 1000) as f64 / 1000.0,
    )
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
/// infinities or budget exhaustion. In `real` mode (an answer without `i`) a value that is
/// not real is undefined: √ of a negative, ln of a non-positive number, a negative base to a
/// non-integer power.
pub fn numeric(e: &Expr, env: &dyn Fn(&str) -> f64, real: bool, budget: &Budget) -> Option<C64> {
    if !budget.spend(1) {
        return None;
    }
    let numeric =
        |e: &Expr, env: &dyn Fn(&str) -> f64, budget: &Budget| numeric(e, env, real, budget);
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
        Expr::Pow(a, b) => {
            let x = numeric(a, env, budget)?;
            match odd_root_exponent(b, budget) {
                // a negative base to p/q with q odd is the real root: (−8)^{2/3} = 4
                Some((p, q)) if real && x.is_real() && x.re < 0.0 => {
                    let m = (-x.re).powf(p as f64 / q as f64);
                    C64::real(if p % 2 == 0 { m } else { -m })
                }
                _ => x.pow(numeric(b, env, budget)?, real)?,
            }
        }
        Expr::Func(f, args) => {
            let x = numeric(args.first()?, env, budget)?;
            match f.as_str() {
                "sqrt" if real && (!x.is_real() || x.re < 0.0) => return None,
                "ln" | "log" if real && (!x.is_real() || x.re <= 0.0) => return None,
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
                        x.pow(C64::real(1.0).div(n)?, real)?
                    }
                }
                "abs" => C64::real(x.abs()),
                "floor" => real_fn(x, f64::floor)?,
                "ceil" => real_fn(x, f64::ceil)?,
                "percent" => x.mul(C64::real(0.01)),
                "max" | "min" => {
                    let mut best = real_fn(x, |t| t)?;
                    for a in &args[1..] {
                        let y = real_fn(numeric(a, env, budget)?, |t| t)?;
                        let f = f.as_str();
                        if (f == "max" && y.re > best.re) || (f == "min" && y.re < best.re) {
                            best = y;
                        }
                    }
                    best
                }
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
                    let (a, b) = opaque_coefficients(other);
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

/// The exponent `e` as p/q in lowest terms with q odd and > 1 (a real root), when it is an
/// exact rational.
pub(crate) fn odd_root_exponent(e: &Expr, budget: &Budget) -> Option<(i64, i64)> {
    if !matches!(e, Expr::Num { .. } | Expr::Div(..) | Expr::Neg(_)) {
        return None;
    }
    let v = exact(e, &Limits::default(), budget)?;
    let (p, q) = (v.numer().to_i64()?, v.denom().to_i64()?);
    (q > 1 && q % 2 == 1 && p.abs() <= 1 << 20 && q <= 1 << 20).then_some((p, q))
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
