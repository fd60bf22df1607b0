//! Exact arithmetic on quadratic surds: sums of `c·√n` with rational `c` and square-free
//! integer `n`. Decides `6√2 = √72`, `√72/√2 = 6` and `√(10^20+1) ≠ 10^10` exactly, where
//! floating-point evaluation could not.
use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::ast::Expr;
use super::limits::{Budget, Limits};
use super::value::exact;

const MAX_TERMS: usize = 16;
const TRIAL_LIMIT: u64 = 20_000;

/// Σ c·√n. `certain` is false when some radicand could not be proven square-free (then two
/// different-looking forms might still be equal).
#[derive(Debug, Clone, PartialEq)]
pub struct Surd {
    terms: BTreeMap<BigInt, BigRational>,
    /// every radicand is proven square-free
    pub certain: bool,
}

impl Surd {
    fn rational(c: BigRational) -> Surd {
        let mut terms = BTreeMap::new();
        if !c.is_zero() {
            terms.insert(BigInt::one(), c);
        }
        Surd {
            terms,
            certain: true,
        }
    }
    fn add(mut self, o: &Surd) -> Option<Surd> {
        for (n, c) in &o.terms {
            let e = self
                .terms
                .entry(n.clone())
                .or_insert_with(BigRational::zero);
            *e += c;
            if e.is_zero() {
                self.terms.remove(n);
            }
        }
        self.certain &= o.certain;
        (self.terms.len() <= MAX_TERMS).then_some(self)
    }
    fn neg(mut self) -> Surd {
        for c in self.terms.values_mut() {
            *c = -c.clone();
        }
        self
    }
    fn mul(&self, o: &Surd) -> Option<Surd> {
        let mut out = Surd::rational(BigRational::zero());
        out.certain = self.certain && o.certain;
        for (a, ca) in &self.terms {
            for (b, cb) in &o.terms {
                // √a·√b = g·√((a/g)(b/g)) with g = gcd(a, b), square-free when a, b are
                let g = a.gcd(b);
                let n = (a / &g) * (b / &g);
                let c = ca * cb * BigRational::from_integer(g);
                let mut t = BTreeMap::new();
                t.insert(n, c);
                out = out.add(&Surd {
                    terms: t,
                    certain: true,
                })?;
            }
        }
        Some(out)
    }
    /// Size of all coefficients and radicands, bits (what one operation on it costs).
    fn bits(&self) -> u64 {
        self.terms
            .iter()
            .map(|(n, c)| n.bits() + c.numer().bits() + c.denom().bits())
            .sum()
    }
    fn as_rational(&self) -> Option<BigRational> {
        match self.terms.len() {
            0 => Some(BigRational::zero()),
            1 => self.terms.get(&BigInt::one()).cloned(),
            _ => None,
        }
    }
    fn recip(&self) -> Option<Surd> {
        let one = BigInt::one();
        match self.terms.len() {
            1 => {
                let (n, c) = self.terms.iter().next()?;
                // 1/(c√n) = √n/(c·n)
                let mut t = BTreeMap::new();
                t.insert(
                    n.clone(),
                    (c * BigRational::from_integer(n.clone())).recip(),
                );
                Some(Surd {
                    terms: t,
                    certain: self.certain,
                })
            }
            2 if self.terms.contains_key(&one) => {
                // 1/(a + b√n) = (a − b√n)/(a² − b²n)
                let a = self.terms.get(&one)?.clone();
                let (n, b) = self.terms.iter().find(|(k, _)| **k != one)?;
                let den = &a * &a - b * b * BigRational::from_integer(n.clone());
                if den.is_zero() {
                    return None;
                }
                let mut t = BTreeMap::new();
                t.insert(one, &a / &den);
                t.insert(n.clone(), -(b / &den));
                Some(Surd {
                    terms: t,
                    certain: self.certain,
                })
            }
            _ => None,
        }
    }
}

/// √r for rational r ≥ 0 as c·√n.
fn sqrt_rational(r: &BigRational, budget: &Budget) -> Option<Surd> {
    if r.is_negative() {
        return None;
    }
    if r.is_zero() {
        return Some(Surd::rational(BigRational::zero()));
    }
    // √(p/q) = √(pq)/q
    let mut m = r.numer() * r.denom();
    if m.bits() > 256 {
        return None;
    }
    let mut out = BigInt::one();
    if let Some(mut v) = m.to_u128() {
        // fast path: machine integers
        let mut o: u128 = 1;
        let mut p: u128 = 2;
        while p <= TRIAL_LIMIT as u128 && p * p <= v {
            while v % (p * p) == 0 {
                v /= p * p;
                o *= p;
            }
            p += if p == 2 { 1 } else { 2 };
        }
        if !budget.spend(64) {
            return None;
        }
        m = BigInt::from(v);
        out = BigInt::from(o);
    } else {
        let mut p: u64 = 2;
        while p <= TRIAL_LIMIT {
            let pb = BigInt::from(p);
            let sq = &pb * &pb;
            if sq > m {
                break;
            }
            while (&m % &sq).is_zero() {
                m /= &sq;
                out *= &pb;
            }
            p += if p == 2 { 1 } else { 2 };
            if !budget.spend(1) {
                return None;
            }
        }
    }
    let root = m.sqrt();
    if &root * &root == m {
        out *= &root;
        m = BigInt::one();
    }
    // square-free is proven when the cofactor is below TRIAL_LIMIT²: every square p² with
    // p ≤ TRIAL_LIMIT was divided out, and a larger square would exceed the cofactor
    let certain = m.to_u64().is_some_and(|v| v < TRIAL_LIMIT * TRIAL_LIMIT);
    let c = BigRational::new(out, r.denom().clone());
    let mut t = BTreeMap::new();
    t.insert(m, c);
    Some(Surd { terms: t, certain })
}

/// The surd form of `e`, when it is built from rationals with + − × ÷, small integer powers
/// and square roots of rationals.
pub fn surd(e: &Expr, lim: &Limits, budget: &Budget, depth: u32) -> Option<Surd> {
    if depth > lim.max_depth || !budget.spend(1) {
        return None;
    }
    let d = depth + 1;
    if !matches!(e, Expr::Num { .. }) {
        if let Some(r) = exact(e, lim, budget) {
            return Some(Surd::rational(r));
        }
    }
    match e {
        Expr::Num { value, .. } => Some(Surd::rational(value.clone())),
        Expr::Neg(a) => Some(surd(a, lim, budget, d)?.neg()),
        Expr::Add(v) => {
            let mut acc = Surd::rational(BigRational::zero());
            for x in v {
                let y = surd(x, lim, budget, d)?;
                charge(&acc, &y, lim, budget)?;
                acc = acc.add(&y)?;
            }
            Some(acc)
        }
        Expr::Mul(v) => {
            let mut acc = Surd::rational(BigRational::one());
            for x in v {
                let y = surd(x, lim, budget, d)?;
                charge(&acc, &y, lim, budget)?;
                acc = acc.mul(&y)?;
            }
            Some(acc)
        }
        Expr::Div(a, b) => {
            let x = surd(a, lim, budget, d)?;
            let y = surd(b, lim, budget, d)?;
            charge(&x, &y, lim, budget)?;
            charge(&y, &y, lim, budget)?;
            x.mul(&y.recip()?)
        }
        Expr::Func(f, args) if f == "sqrt" && args.len() == 1 => {
            let x = surd(&args[0], lim, budget, d)?.as_rational()?;
            sqrt_rational(&x, budget)
        }
        Expr::Pow(a, b) => {
            let base = surd(a, lim, budget, d)?;
            let ex = surd(b, lim, budget, d)?.as_rational()?;
            let half = BigRational::new(BigInt::one(), BigInt::from(2));
            if ex == half || ex == -half.clone() {
                let s = sqrt_rational(&base.as_rational()?, budget)?;
                return if ex.is_negative() { s.recip() } else { Some(s) };
            }
            if !ex.is_integer() {
                return None;
            }
            let n = ex.to_integer().to_i64().filter(|n| n.abs() <= 16)?;
            let b = if n < 0 { base.recip()? } else { base };
            let mut acc = Surd::rational(BigRational::one());
            for _ in 0..n.abs() {
                charge(&acc, &b, lim, budget)?;
                acc = acc.mul(&b)?;
            }
            Some(acc)
        }
        _ => None,
    }
}

/// Charge one operation on `a` and `b` (all term pairs) and refuse oversized operands.
fn charge(a: &Surd, b: &Surd, lim: &Limits, budget: &Budget) -> Option<()> {
    let (x, y) = (a.bits(), b.bits());
    (x + y <= lim.max_power_bits && budget.charge_mul(x, y) && budget.charge_gcd(x, y))
        .then_some(())
}

/// Exact equality of two surd forms: Some(true/false) when decided, None when unsure.
pub fn surd_equal(a: &Surd, b: &Surd) -> Option<bool> {
    if a.terms == b.terms {
        return Some(true);
    }
    (a.certain && b.certain).then_some(false)
}
