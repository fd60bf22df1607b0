//! Exact Laurent polynomials in π and e with rational coefficients: decides `\frac{3\pi}{6}`
//! = `\pi/2` and `2\pi` ≠ `\frac{11\pi}{6}` without floating point.
//!
//! Soundness: equal forms are equal numbers. Different forms are different numbers only when
//! both use a single constant (π alone or e alone): both are transcendental (Lindemann,
//! Hermite), so a nonzero Laurent polynomial in one of them with rational coefficients is not
//! zero. Forms that mix π and e are left undecided (their algebraic independence is open).
use std::collections::BTreeMap;

use num_rational::BigRational;
use num_traits::{One, ToPrimitive, Zero};

use super::ast::{Const, Expr};
use super::limits::{Budget, Limits};

const MAX_TERMS: usize = 8;
const MAX_POW: i32 = 8;

/// Σ c·π^a·e^b, keyed by (a, b).
#[derive(Debug, Clone, PartialEq)]
pub struct ConstPoly(BTreeMap<(i32, i32), BigRational>);

impl ConstPoly {
    fn constant(c: BigRational) -> Self {
        let mut m = BTreeMap::new();
        if !c.is_zero() {
            m.insert((0, 0), c);
        }
        ConstPoly(m)
    }
    fn monomial(k: (i32, i32)) -> Self {
        let mut m = BTreeMap::new();
        m.insert(k, BigRational::one());
        ConstPoly(m)
    }
    fn bits(&self) -> u64 {
        self.0
            .values()
            .map(|c| c.numer().bits() + c.denom().bits())
            .sum()
    }
    fn add(mut self, o: &Self) -> Option<Self> {
        for (k, c) in &o.0 {
            let e = self.0.entry(*k).or_insert_with(BigRational::zero);
            *e += c;
            if e.is_zero() {
                self.0.remove(k);
            }
        }
        (self.0.len() <= MAX_TERMS).then_some(self)
    }
    fn neg(mut self) -> Self {
        for c in self.0.values_mut() {
            *c = -c.clone();
        }
        self
    }
    fn mul(&self, o: &Self) -> Option<Self> {
        let mut out = ConstPoly::constant(BigRational::zero());
        for (ka, ca) in &self.0 {
            for (kb, cb) in &o.0 {
                let k = (ka.0 + kb.0, ka.1 + kb.1);
                if k.0.abs() > MAX_POW || k.1.abs() > MAX_POW {
                    return None;
                }
                let mut t = BTreeMap::new();
                t.insert(k, ca * cb);
                out = out.add(&ConstPoly(t))?;
            }
        }
        Some(out)
    }
    /// 1/m for a single term m.
    fn recip(&self) -> Option<Self> {
        if self.0.len() != 1 {
            return None;
        }
        let (k, c) = self.0.iter().next()?;
        let mut t = BTreeMap::new();
        t.insert((-k.0, -k.1), c.recip());
        Some(ConstPoly(t))
    }
    fn mentions(&self) -> (bool, bool) {
        let pi = self.0.keys().any(|k| k.0 != 0);
        let e = self.0.keys().any(|k| k.1 != 0);
        (pi, e)
    }
}

fn charge(a: &ConstPoly, b: &ConstPoly, lim: &Limits, budget: &Budget) -> Option<()> {
    let (x, y) = (a.bits(), b.bits());
    (x + y <= lim.max_power_bits && budget.charge_mul(x, y) && budget.charge_gcd(x, y))
        .then_some(())
}

/// The form of `e` when it is built from rationals, π and e with + − × ÷ (by a single term)
/// and small integer powers.
pub fn const_poly(e: &Expr, lim: &Limits, budget: &Budget, depth: u32) -> Option<ConstPoly> {
    if depth > lim.max_depth || !budget.spend(1) {
        return None;
    }
    let d = depth + 1;
    Some(match e {
        Expr::Num { value, .. } => ConstPoly::constant(value.clone()),
        Expr::Const(Const::Pi) => ConstPoly::monomial((1, 0)),
        Expr::Const(Const::E) => ConstPoly::monomial((0, 1)),
        Expr::Neg(a) => const_poly(a, lim, budget, d)?.neg(),
        Expr::Add(v) => {
            let mut acc = ConstPoly::constant(BigRational::zero());
            for x in v {
                let y = const_poly(x, lim, budget, d)?;
                charge(&acc, &y, lim, budget)?;
                acc = acc.add(&y)?;
            }
            acc
        }
        Expr::Mul(v) => {
            let mut acc = ConstPoly::constant(BigRational::one());
            for x in v {
                let y = const_poly(x, lim, budget, d)?;
                charge(&acc, &y, lim, budget)?;
                acc = acc.mul(&y)?;
            }
            acc
        }
        Expr::Div(a, b) => {
            let x = const_poly(a, lim, budget, d)?;
            let y = const_poly(b, lim, budget, d)?.recip()?;
            charge(&x, &y, lim, budget)?;
            x.mul(&y)?
        }
        Expr::Pow(a, b) => {
            let Expr::Num { value, .. } = b.as_ref() else {
                return None;
            };
            if !value.is_integer() {
                return None;
            }
            let n = value.to_integer().to_i32().filter(|n| n.abs() <= MAX_POW)?;
            let base = const_poly(a, lim, budget, d)?;
            let base = if n < 0 { base.recip()? } else { base };
            let mut acc = ConstPoly::constant(BigRational::one());
            for _ in 0..n.abs() {
                charge(&acc, &base, lim, budget)?;
                acc = acc.mul(&base)?;
            }
            acc
        }
        _ => return None,
    })
}

/// Some(equal?) when decided exactly, None when the forms mix π and e.
pub fn const_poly_equal(a: &ConstPoly, b: &ConstPoly) -> Option<bool> {
    if a == b {
        return Some(true);
    }
    let (pa, ea) = a.mentions();
    let (pb, eb) = b.mentions();
    ((!ea && !eb) || (!pa && !pb)).then_some(false)
}
