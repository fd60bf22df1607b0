//! Equivalence of two parsed answers. Rational values are compared exactly; symbolic ones by
//! structure, then by seeded evaluation at several points with a relative tolerance (values
//! that are huge or not finite are refused, never accepted); tuples, intervals, sets, lists,
//! `±`, equations, inequalities and matrices by their own rules. See `mod.rs` for the rules.
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use super::ast::{Const, Expr, RelOp};
use super::constpoly::{const_poly, const_poly_equal};
use super::limits::{Budget, Limits};
use super::precise;
use super::surd::{surd, surd_equal};
use super::value::{exact, free_symbols, numeric, C64};
use super::CheckerConfig;

/// Everything a comparison needs.
pub struct Ctx<'a> {
    /// settings
    pub cfg: &'a CheckerConfig,
    /// resource limits
    pub lim: &'a Limits,
    /// per-pair work budget
    pub budget: &'a Budget,
}

const MAX_ITEMS: usize = 256;
const POINTS: u64 = 14;
/// Points confirmed at high precision ([`precise::agree`]) after the f64 screen.
const CONFIRM: usize = 2;

/// Is `pred` an acceptable answer for reference `gold`?
pub fn equal(g: &Expr, p: &Expr, cx: &Ctx, depth: u32) -> bool {
    if depth > cx.lim.max_depth || !cx.budget.spend(1) {
        return false;
    }
    if g == p {
        return true;
    }
    let d = depth + 1;
    if has_matrix_op(g) || has_matrix_op(p) {
        return match (matrix_value(g, 0), matrix_value(p, 0)) {
            (Some(a), Some(b)) => equal(&Expr::Matrix(a), &Expr::Matrix(b), cx, d),
            _ => false,
        };
    }
    // a top-level percentage equals its fraction (x/100, as parsed) and, by policy, x itself
    if let Some(x) = percent_of(g) {
        if equal(x, p, cx, d) {
            return true;
        }
    }
    if let Some(x) = percent_of(p) {
        if equal(g, x, cx, d) {
            return true;
        }
    }
    use Expr::*;
    match (g, p) {
        (List(a), List(b)) if is_named_list(a) => named_values(a, b, cx, d),
        // `(p,q) = (3,2)` vs `q=2, p=3` (and the other way round)
        (Rel { .. }, List(b)) if is_named_list(b) => match named_tuple(g) {
            Some(a) => named_values(&a, b, cx, d),
            None => false,
        },
        (List(a), Rel { .. }) if is_named_list(a) => match named_tuple(p) {
            Some(b) => named_values(a, &b, cx, d),
            None => false,
        },
        // a column vector is the tuple of its entries
        (Matrix(m), Tuple(t)) | (Tuple(t), Matrix(m))
            if m.len() == t.len() && m.iter().all(|r| r.len() == 1) =>
        {
            m.iter().zip(t).all(|(r, y)| equal(&r[0], y, cx, d))
        }
        (List(a), _) if a.len() == 1 => equal(&a[0], p, cx, d),
        (_, List(b)) if b.len() == 1 => equal(g, &b[0], cx, d),
        (List(_) | Set(_) | PlusMinus(..), List(_) | Set(_) | PlusMinus(..)) => {
            if matches!(
                (g, p),
                (Set(_), PlusMinus(..))
                    | (PlusMinus(..), Set(_))
                    | (List(_), List(_))
                    | (Set(_), Set(_))
                    | (List(_), Set(_))
                    | (Set(_), List(_))
                    | (PlusMinus(..), PlusMinus(..))
                    | (PlusMinus(..), List(_))
                    | (List(_), PlusMinus(..))
            ) {
                unordered(&expand(g), &expand(p), cx, d)
            } else {
                false
            }
        }
        (List(a), Tuple(b)) | (Tuple(a), List(b)) | (Tuple(a), Tuple(b)) => ordered(a, b, cx, d),
        (Interval { .. }, Interval { .. }) => interval_eq(g, p, cx, d),
        (
            Tuple(t),
            Interval {
                lo_closed: false,
                hi_closed: false,
                lo,
                hi,
            },
        )
        | (
            Interval {
                lo_closed: false,
                hi_closed: false,
                lo,
                hi,
            },
            Tuple(t),
        ) if t.len() == 2 => equal(&t[0], lo, cx, d) && equal(&t[1], hi, cx, d),
        (Union(a), Union(b)) => ordered(a, b, cx, d) || unordered(a, b, cx, d),
        // `(-\infty, 2) \cup (3, \infty)` vs `x < 2 or x > 3`
        (Union(a), List(b)) | (List(b), Union(a)) => match rels_to_sets(b) {
            Some(sets) => unordered(a, &sets, cx, d),
            None => false,
        },
        (Matrix(a), Matrix(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(ra, rb)| {
                    ra.len() == rb.len() && ra.iter().zip(rb).all(|(x, y)| equal(x, y, cx, d))
                })
        }
        (Rel { .. }, Rel { .. }) => rel_eq(g, p, cx, d),
        (Rel { .. }, Interval { .. } | Union(_) | Tuple(_)) => match rel_to_set(g) {
            Some(s) => equal(&s, p, cx, d),
            None => gold_rel_value(g).is_some_and(|v| equal(v, p, cx, d)),
        },
        (Interval { .. } | Union(_) | Tuple(_), Rel { .. }) => {
            if let Some(v) = pred_rel_value(p) {
                if equal(g, v, cx, d) {
                    return true;
                }
            }
            cx.cfg.allow_inequality_for_interval
                && rel_to_set(p).is_some_and(|s| equal(g, &s, cx, d))
        }
        (Rel { .. }, _) => gold_rel_value(g).is_some_and(|v| equal(v, p, cx, d)),
        (_, Rel { .. }) => pred_rel_value(p).is_some_and(|v| equal(g, v, cx, d)),
        (Text(a), Text(b)) => a.eq_ignore_ascii_case(b),
        // `\text{ABC}` vs `ABC`: the same name
        (Text(a), Sym(b)) | (Sym(b), Text(a)) => a == b,
        (Text(_), _) | (_, Text(_)) => false,
        (List(_) | Set(_) | Tuple(_) | Interval { .. } | Union(_) | Matrix(_), _)
        | (_, List(_) | Set(_) | Tuple(_) | Interval { .. } | Union(_) | Matrix(_)) => false,
        (PlusMinus(..), _) | (_, PlusMinus(..)) => false,
        _ => scalar_eq(g, p, cx),
    }
}

/// `x\%` (parsed as x/100 under a `percent` marker): the written number x.
fn percent_of(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Func(f, a) if f == "percent" && a.len() == 1 => Some(&a[0]),
        _ => None,
    }
}

/// `label = value` with a label (`x`, `a_1`, `f(2)`).
fn named(e: &Expr) -> Option<(&Expr, &Expr)> {
    match e {
        Expr::Rel { parts, ops } if ops == &[RelOp::Eq] && is_label(&parts[0]) => {
            Some((&parts[0], &parts[1]))
        }
        _ => None,
    }
}

/// `(p, q) = (3, 2)` as the named values `p = 3, q = 2`.
fn named_tuple(e: &Expr) -> Option<Vec<Expr>> {
    let Expr::Rel { parts, ops } = e else {
        return None;
    };
    match (parts.as_slice(), ops.as_slice()) {
        ([Expr::Tuple(l), Expr::Tuple(v)], [RelOp::Eq]) if l.len() == v.len() && l.len() >= 2 => {
            let out: Vec<Expr> = l
                .iter()
                .zip(v)
                .map(|(a, b)| Expr::Rel {
                    parts: vec![a.clone(), b.clone()],
                    ops: vec![RelOp::Eq],
                })
                .collect();
            is_named_list(&out).then_some(out)
        }
        _ => None,
    }
}

/// A list of at least two named values `x = 1, y = 2`.
fn is_named_list(v: &[Expr]) -> bool {
    v.len() >= 2 && v.iter().all(|e| named(e).is_some())
}

/// Named values compare by name, never unordered: `x=1, y=2` accepts `y=2, x=1` and the bare
/// values in the written order `1, 2`, but not `2, 1`.
fn named_values(a: &[Expr], b: &[Expr], cx: &Ctx, d: u32) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if b.iter().all(|e| named(e).is_some()) {
        let mut used = vec![false; b.len()];
        'outer: for x in a {
            let (lx, vx) = named(x).unwrap_or((x, x));
            for (j, y) in b.iter().enumerate() {
                let (ly, vy) = named(y).unwrap_or((y, y));
                if !used[j] && lx == ly {
                    if !equal(vx, vy, cx, d) {
                        return false;
                    }
                    used[j] = true;
                    continue 'outer;
                }
            }
            return false;
        }
        return true;
    }
    if b.iter().any(|e| matches!(e, Expr::Rel { .. })) {
        return false;
    }
    a.iter()
        .zip(b)
        .all(|(x, y)| named(x).is_some_and(|(_, v)| equal(v, y, cx, d)))
}

/// Each relation of a list as the set it describes (`x < 2 or x > 3`).
fn rels_to_sets(v: &[Expr]) -> Option<Vec<Expr>> {
    v.iter().map(rel_to_set).collect()
}

fn expand(e: &Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    fn go(e: &Expr, out: &mut Vec<Expr>) {
        if out.len() > MAX_ITEMS {
            return;
        }
        match e {
            Expr::List(v) | Expr::Set(v) => v.iter().for_each(|x| go(x, out)),
            Expr::PlusMinus(a, b) => {
                out.push(Expr::Add(vec![(**a).clone(), (**b).clone()]));
                out.push(Expr::Add(vec![(**a).clone(), Expr::Neg(b.clone())]));
            }
            other => out.push(other.clone()),
        }
    }
    go(e, &mut out);
    out
}

fn ordered(a: &[Expr], b: &[Expr], cx: &Ctx, d: u32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y, cx, d))
}

/// Multiset equality: every reference item matched by a distinct predicted item.
fn unordered(a: &[Expr], b: &[Expr], cx: &Ctx, d: u32) -> bool {
    // duplicates in a set/list answer count once
    let dedup = |v: &[Expr]| {
        let mut out: Vec<Expr> = Vec::new();
        for x in v {
            if !out.contains(x) {
                out.push(x.clone());
            }
        }
        out
    };
    let (a, b) = (dedup(a), dedup(b));
    if a.len() != b.len() || a.len() > MAX_ITEMS {
        return false;
    }
    let mut used = vec![false; b.len()];
    'outer: for x in &a {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && equal(x, y, cx, d) {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

fn interval_eq(g: &Expr, p: &Expr, cx: &Ctx, d: u32) -> bool {
    match (g, p) {
        (
            Expr::Interval {
                lo: a,
                hi: b,
                lo_closed: c1,
                hi_closed: c2,
            },
            Expr::Interval {
                lo: x,
                hi: y,
                lo_closed: k1,
                hi_closed: k2,
            },
        ) => c1 == k1 && c2 == k2 && equal(a, x, cx, d) && equal(b, y, cx, d),
        _ => false,
    }
}

/// A "label" is what may stand left of `=` in a final answer: `x`, `a_3`, `f(x)`, `|AB|`,
/// `V_1:V_2`, `(p, q)`.
fn is_label(e: &Expr) -> bool {
    match e {
        Expr::Sym(_) => true,
        Expr::Mul(v) => v.iter().all(is_label),
        Expr::Func(f, a) => f == "abs" && a.iter().all(is_label),
        Expr::Div(a, b) => is_label(a) && is_label(b),
        Expr::Tuple(v) => v.iter().all(is_label),
        Expr::Pow(a, _) => is_label(a),
        _ => false,
    }
}

/// Value named by a reference relation: `x = 5` → 5, `a = b = 5` → 5, `x \in S` → S.
fn gold_rel_value(e: &Expr) -> Option<&Expr> {
    let Expr::Rel { parts, ops } = e else {
        return None;
    };
    if !ops.iter().all(|o| matches!(o, RelOp::Eq | RelOp::In)) {
        return None;
    }
    if parts.len() >= 3 || is_label(&parts[0]) {
        parts.last()
    } else {
        None
    }
}

/// Value given by a predicted relation chain: the last part of `x = 5+5 = 10`, cut before an
/// `\approx` that follows an `=` (`x = 1/3 \approx 0.33` → 1/3).
fn pred_rel_value(e: &Expr) -> Option<&Expr> {
    let Expr::Rel { parts, ops } = e else {
        return None;
    };
    if !ops
        .iter()
        .all(|o| matches!(o, RelOp::Eq | RelOp::In | RelOp::Approx))
    {
        return None;
    }
    match ops.iter().position(|o| *o == RelOp::Approx) {
        Some(k) if k >= 1 => Some(&parts[k]),
        _ => parts.last(),
    }
}

fn neg_inf() -> Expr {
    Expr::Neg(Box::new(Expr::Const(Const::Inf)))
}

/// `e` as a·x + b with exact rationals a, b when it is linear in the variable `x`
/// (decided structurally, never by sampling).
fn linear_in(e: &Expr, x: &str) -> Option<(BigRational, BigRational)> {
    let lim = Limits::default();
    let budget = Budget::new(10_000);
    lin(e, x, &lim, &budget, 0)
}

fn lin(
    e: &Expr,
    x: &str,
    lim: &Limits,
    budget: &Budget,
    depth: u32,
) -> Option<(BigRational, BigRational)> {
    if depth > lim.max_depth || !budget.spend(1) {
        return None;
    }
    let d = depth + 1;
    let zero = BigRational::zero;
    Some(match e {
        Expr::Sym(s) if s == x => (BigRational::one(), zero()),
        Expr::Neg(a) => {
            let (p, q) = lin(a, x, lim, budget, d)?;
            (-p, -q)
        }
        Expr::Add(v) => {
            let (mut p, mut q) = (zero(), zero());
            for t in v {
                let (a, b) = lin(t, x, lim, budget, d)?;
                p += a;
                q += b;
            }
            (p, q)
        }
        Expr::Mul(v) => {
            let (mut p, mut q) = (zero(), BigRational::one());
            for t in v {
                let (a, b) = lin(t, x, lim, budget, d)?;
                if !a.is_zero() && !p.is_zero() {
                    return None; // x·x
                }
                p = &p * &b + &a * &q;
                q *= b;
            }
            (p, q)
        }
        Expr::Div(a, b) => {
            let (p, q) = lin(a, x, lim, budget, d)?;
            let c = exact(b, lim, budget)?;
            if c.is_zero() {
                return None;
            }
            (p / &c, q / c)
        }
        other => (zero(), exact(other, lim, budget)?),
    })
}

fn num(v: BigRational) -> Expr {
    Expr::Num {
        value: v,
        decimals: None,
    }
}

fn vars(e: &Expr) -> Vec<String> {
    let mut v = Vec::new();
    free_symbols(e, &mut v);
    v
}

/// `-2 \le x \le 7` → `[-2, 7]`, `x > 2` → `(2, ∞)`, `2x > 4` → `(2, ∞)`, `x \in S` → S.
/// A relation becomes a set only when one side is exactly the variable, or when it is
/// linear in one variable and is solved exactly; anything else (`x^2 > 0`) is refused.
fn rel_to_set(e: &Expr) -> Option<Expr> {
    let Expr::Rel { parts, ops } = e else {
        return None;
    };
    let iv = |lo: &Expr, hi: &Expr, lc: bool, hc: bool| Expr::Interval {
        lo: Box::new(lo.clone()),
        hi: Box::new(hi.clone()),
        lo_closed: lc,
        hi_closed: hc,
    };
    let inf = Expr::Const(Const::Inf);
    let all = vars(e);
    if all.len() != 1 {
        return match (parts.as_slice(), ops.as_slice()) {
            ([x, s], [RelOp::In]) if is_label(x) => Some(s.clone()),
            _ => None,
        };
    }
    let x = all[0].as_str();
    let is_x = |t: &Expr| matches!(t, Expr::Sym(s) if s == x);
    let cst = |t: &Expr| vars(t).is_empty();
    // `x op c` with op one of < ≤ > ≥
    let half = |o: RelOp, c: &Expr| match o {
        RelOp::Lt | RelOp::Le => Some(iv(&neg_inf(), c, false, o == RelOp::Le)),
        RelOp::Gt | RelOp::Ge => Some(iv(c, &inf, o == RelOp::Ge, false)),
        _ => None,
    };
    let flip = |o: RelOp| match o {
        RelOp::Lt => RelOp::Gt,
        RelOp::Gt => RelOp::Lt,
        RelOp::Le => RelOp::Ge,
        RelOp::Ge => RelOp::Le,
        o => o,
    };
    match (parts.as_slice(), ops.as_slice()) {
        ([l, s], [RelOp::In]) if is_label(l) => Some(s.clone()),
        ([l, r], [o]) if is_x(l) && cst(r) => half(*o, r),
        ([l, r], [o]) if is_x(r) && cst(l) => half(flip(*o), l),
        ([l, r], [o]) => {
            // a·x + b op 0, solved exactly
            let (a, b) = linear_in(&sub(l, r), x)?;
            if a.is_zero() {
                return None;
            }
            let c = num(-b / &a);
            half(if a.is_negative() { flip(*o) } else { *o }, &c)
        }
        ([a, m, b], [o1, o2]) if cst(a) && cst(b) => {
            let (o1, o2) = (*o1, *o2);
            let (lo, hi, lc, hc) = match (o1, o2) {
                (RelOp::Lt | RelOp::Le, RelOp::Lt | RelOp::Le) => {
                    (a, b, o1 == RelOp::Le, o2 == RelOp::Le)
                }
                (RelOp::Gt | RelOp::Ge, RelOp::Gt | RelOp::Ge) => {
                    (b, a, o2 == RelOp::Ge, o1 == RelOp::Ge)
                }
                _ => return None,
            };
            if is_x(m) {
                return Some(iv(lo, hi, lc, hc));
            }
            // lo < p·x + q < hi with exact constant bounds
            let (p, q) = linear_in(m, x)?;
            if p.is_zero() {
                return None;
            }
            let lim = Limits::default();
            let budget = Budget::new(10_000);
            let lo = exact(lo, &lim, &budget)?;
            let hi = exact(hi, &lim, &budget)?;
            let (u, v) = ((lo - &q) / &p, (hi - &q) / &p);
            Some(if p.is_negative() {
                iv(&num(v), &num(u), hc, lc)
            } else {
                iv(&num(u), &num(v), lc, hc)
            })
        }
        _ => None,
    }
}

fn sub(a: &Expr, b: &Expr) -> Expr {
    Expr::Add(vec![a.clone(), Expr::Neg(Box::new(b.clone()))])
}

/// One relation `lhs op rhs` as `(d, op)` with `d op' 0`, op' ∈ {=, >, ≥, ≠}.
fn rel_as_zero(l: &Expr, op: RelOp, r: &Expr) -> Option<(Expr, RelOp)> {
    Some(match op {
        RelOp::Eq => (sub(l, r), RelOp::Eq),
        RelOp::Ne => (sub(l, r), RelOp::Ne),
        RelOp::Gt => (sub(l, r), RelOp::Gt),
        RelOp::Ge => (sub(l, r), RelOp::Ge),
        RelOp::Lt => (sub(r, l), RelOp::Gt),
        RelOp::Le => (sub(r, l), RelOp::Ge),
        _ => return None,
    })
}

fn rel_eq(g: &Expr, p: &Expr, cx: &Ctx, d: u32) -> bool {
    let (Expr::Rel { parts: gp, ops: go }, Expr::Rel { parts: pp, ops: po }) = (g, p) else {
        return false;
    };
    // membership vs inequality needs the set/relation switch
    if !cx.cfg.allow_inequality_for_interval
        && go == &[RelOp::In]
        && po
            .iter()
            .all(|o| matches!(o, RelOp::Lt | RelOp::Le | RelOp::Gt | RelOp::Ge))
    {
        return false;
    }
    // `x = 1/3` vs `x = 5+5+1 = 1/3 \approx 11`: same label, then the predicted value
    if let (Some(gv), Some(pv)) = (gold_rel_value(g), pred_rel_value(p)) {
        if go.len() == 1 && po.len() >= 2 && equal(&gp[0], &pp[0], cx, d) && equal(gv, pv, cx, d) {
            return true;
        }
    }
    // same shape, part by part (also with one side reversed: a < x < b vs b > x > a)
    let flip = |o: &RelOp| match o {
        RelOp::Lt => RelOp::Gt,
        RelOp::Gt => RelOp::Lt,
        RelOp::Le => RelOp::Ge,
        RelOp::Ge => RelOp::Le,
        o => *o,
    };
    if go.len() == po.len() {
        if go == po && ordered(gp, pp, cx, d) {
            return true;
        }
        let rev_ops: Vec<RelOp> = po.iter().rev().map(flip).collect();
        let rev_parts: Vec<Expr> = pp.iter().rev().cloned().collect();
        if *go == rev_ops && ordered(gp, &rev_parts, cx, d) {
            return true;
        }
    }
    // equation chains: same first and last part
    let all_eq = |o: &[RelOp]| o.iter().all(|x| *x == RelOp::Eq);
    if all_eq(go) && all_eq(po) && (gp.len() >= 3 || pp.len() >= 3) {
        return equal(&gp[0], &pp[0], cx, d) && equal(&gp[gp.len() - 1], &pp[pp.len() - 1], cx, d);
    }
    // x \in S vs an inequality, or two inequalities describing the same set
    if let (Some(a), Some(b)) = (rel_to_set(g), rel_to_set(p)) {
        if equal(&a, &b, cx, d) {
            return true;
        }
    }
    // single relations: proportional differences
    if go.len() == 1 && po.len() == 1 {
        let (Some((dg, og)), Some((dp, op))) = (
            rel_as_zero(&gp[0], go[0], &gp[1]),
            rel_as_zero(&pp[0], po[0], &pp[1]),
        ) else {
            return false;
        };
        if og != op {
            return false;
        }
        return proportional(&dg, &dp, matches!(og, RelOp::Gt | RelOp::Ge), cx);
    }
    false
}

fn symbols_of(a: &Expr, b: &Expr) -> Option<Vec<String>> {
    let mut sa = Vec::new();
    let mut sb = Vec::new();
    free_symbols(a, &mut sa);
    free_symbols(b, &mut sb);
    (sa == sb).then_some(sa)
}

/// The sample shapes: negative values, zero's neighbourhood, values around 1, large values
/// and integers (for `n!`, `\binom{n}{k}`, floor). Non-integer shapes are perturbed per
/// variable (so `x` and `y` differ at every point) and never land on an integer.
const SHAPES: [f64; POINTS as usize] = [
    0.73, -1.37, 2.91, -0.213, 0.0371, 13.7, -7.93, 1.613, 3.0, 5.0, -0.61, 41.3, 2.0, 7.0,
];

/// Deterministic value of symbol `name` at point `k`. Each variable walks the shapes from
/// its own offset (from its name), so two variables take different signs and sizes at the
/// same point (`|x+y|` ≠ `|x|+|y|`).
fn point_value(name: &str, k: u64) -> f64 {
    let mut h: u64 = 0x9e3779b97f4a7c15 ^ k.wrapping_mul(0xbf58476d1ce4e5b9);
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
        h ^= h >> 29;
    }
    h = h.wrapping_mul(0x94d049bb133111eb);
    h ^= h >> 31;
    let u = (h >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
    let mut off: u64 = 0;
    for b in name.bytes() {
        off = off.wrapping_mul(31).wrapping_add(b as u64);
    }
    let s = SHAPES[((k + 5 * off) % POINTS) as usize];
    if s.fract() == 0.0 {
        s + (h % 4) as f64 // integers 2..10
    } else {
        s * (1.0 + 0.17 * u)
    }
}

fn eval_at(e: &Expr, k: u64, real: bool, cx: &Ctx) -> Option<C64> {
    numeric(e, &|s| point_value(s, k), real, cx.budget)
}

fn has_i(e: &Expr) -> bool {
    match e {
        Expr::Const(Const::I) => true,
        Expr::Add(v) | Expr::Mul(v) | Expr::Func(_, v) => v.iter().any(has_i),
        Expr::Neg(a) => has_i(a),
        Expr::Div(a, b) | Expr::Pow(a, b) => has_i(a) || has_i(b),
        _ => false,
    }
}

/// `a` = c·`b` for one constant c (c > 0 when `positive`), at every sample point.
fn proportional(a: &Expr, b: &Expr, positive: bool, cx: &Ctx) -> bool {
    let Some(syms) = symbols_of(a, b) else {
        return false;
    };
    let n = if syms.is_empty() { 1 } else { POINTS };
    let mut ratio: Option<f64> = None;
    let mut valid = 0;
    for k in 0..n {
        let (Some(x), Some(y)) = (eval_at(a, k, false, cx), eval_at(b, k, false, cx)) else {
            continue;
        };
        let (zx, zy) = (x.abs() < 1e-12, y.abs() < 1e-12);
        if zx && zy {
            valid += 1;
            continue;
        }
        if zx != zy || x.im.abs() > 1e-12 * x.abs() || y.im.abs() > 1e-12 * y.abs() {
            return false;
        }
        let r = x.re / y.re;
        if !r.is_finite() || r == 0.0 || (positive && r < 0.0) {
            return false;
        }
        match ratio {
            None => ratio = Some(r),
            Some(r0) => {
                if (r - r0).abs() > cx.cfg.relative_tolerance * r0.abs().max(r.abs()) {
                    return false;
                }
            }
        }
        valid += 1;
    }
    valid >= if syms.is_empty() { 1 } else { 3 }
}

fn inf_sign(e: &Expr) -> Option<i8> {
    match e {
        Expr::Const(Const::Inf) => Some(1),
        Expr::Neg(a) => inf_sign(a).map(|s| -s),
        Expr::Add(v) if v.len() == 1 => inf_sign(&v[0]),
        _ => None,
    }
}

fn contains_inf(e: &Expr) -> bool {
    match e {
        Expr::Const(Const::Inf) => true,
        Expr::Add(v) | Expr::Mul(v) | Expr::Func(_, v) => v.iter().any(contains_inf),
        Expr::Neg(a) => contains_inf(a),
        Expr::Div(a, b) | Expr::Pow(a, b) => contains_inf(a) || contains_inf(b),
        _ => false,
    }
}

/// Digits after the point of a (possibly negated) decimal literal.
fn decimal_places(e: &Expr) -> Option<(u32, BigRational)> {
    match e {
        Expr::Num {
            value,
            decimals: Some(d),
        } => Some((*d, value.clone())),
        Expr::Neg(a) => decimal_places(a).map(|(d, v)| (d, -v)),
        _ => None,
    }
}

/// Is `v` a terminating decimal (denominator 2^a·5^b)? None when deciding would exceed
/// the budget.
fn terminates(v: &BigRational, budget: &Budget) -> Option<bool> {
    let mut d = v.denom().clone();
    let twos = d.trailing_zeros().unwrap_or(0);
    d >>= twos;
    let five = BigInt::from(5);
    while !d.is_one() {
        if !budget.charge_mul(d.bits(), 3) {
            return None;
        }
        let (q, r) = d.div_rem(&five);
        if !r.is_zero() {
            return Some(false);
        }
        d = q;
    }
    Some(true)
}

/// `dec` (written with `places` digits) is `v` correctly rounded: |v − dec| ≤ ½·10^−places.
fn rounds_to(v: &BigRational, dec: &BigRational, places: u32) -> bool {
    if places > 60 {
        return false;
    }
    let scale = BigRational::from_integer(num_traits::pow(BigInt::from(10), places as usize));
    let diff = (v - dec).abs() * scale * BigRational::from_integer(BigInt::from(2));
    diff <= BigRational::from_integer(BigInt::from(1))
}

fn rounding_ok(exact_side: &BigRational, dec_side: &Expr, min: Option<u32>, cx: &Ctx) -> bool {
    let (Some(min), Some((d, dec))) = (min, decimal_places(dec_side)) else {
        return false;
    };
    let b = exact_side.numer().bits() + exact_side.denom().bits();
    d >= min
        && terminates(exact_side, cx.budget) == Some(false)
        && cx.budget.charge_mul(b, b)
        && cx.budget.charge_gcd(b, b + 256)
        && rounds_to(exact_side, &dec, d)
}

/// f64 screen: could a and b be equal? Loose on purpose (1e-7 relative, or both tiny):
/// the decision is [`precise::agree`]'s.
fn maybe_close(a: C64, b: C64) -> bool {
    let m = a.abs().max(b.abs());
    let d = (a.re - b.re).hypot(a.im - b.im);
    d <= 1e-7 * m || m < 1e-9
}

/// The documented rounding rule, decided before any closeness test when either side is a
/// decimal literal: Some(verdict) when it applies.
fn decimal_rule(
    g: &Expr,
    p: &Expr,
    eg: &Option<BigRational>,
    ep: &Option<BigRational>,
    cx: &Ctx,
) -> Option<bool> {
    let (dg, dp) = (decimal_places(g), decimal_places(p));
    if dg.is_none() && dp.is_none() {
        return None;
    }
    if let (Some(a), Some(b)) = (eg, ep) {
        return Some(
            a == b
                || rounding_ok(a, p, cx.cfg.rounding_min_places, cx)
                || rounding_ok(b, g, cx.cfg.reference_rounding_min_places, cx),
        );
    }
    // one side a decimal, the other irrational (or symbolic): the decimal must be that
    // value correctly rounded to the digits shown, with enough digits
    let irrational = |exact_side: &Expr, dec: Option<(u32, BigRational)>, min: Option<u32>| {
        let (Some(min), Some((d, v))) = (min, dec) else {
            return false;
        };
        d >= min
            && symbols_of(exact_side, exact_side).is_some_and(|s| s.is_empty())
            && precise::rounds_to(exact_side, &v, d, cx.budget) == Some(true)
    };
    // a decimal exactly equal to a value that only looks irrational (`\sin 30^\circ` = 0.5)
    if symbols_of(g, p).is_some_and(|v| v.is_empty())
        && precise::agree(g, p, &|_| f64::NAN, true, cx.budget) == Some(true)
    {
        return Some(true);
    }
    Some(if dp.is_some() && eg.is_none() {
        irrational(g, dp, cx.cfg.rounding_min_places)
    } else if dg.is_some() && ep.is_none() {
        irrational(p, dg, cx.cfg.reference_rounding_min_places)
    } else {
        false
    })
}

/// Two scalar expressions.
fn scalar_eq(g: &Expr, p: &Expr, cx: &Ctx) -> bool {
    match (inf_sign(g), inf_sign(p)) {
        (Some(a), Some(b)) => return a == b,
        (Some(_), None) | (None, Some(_)) => return false,
        _ => {}
    }
    if contains_inf(g) || contains_inf(p) {
        return false;
    }
    let eg = exact(g, cx.lim, cx.budget);
    let ep = exact(p, cx.lim, cx.budget);
    if let Some(r) = decimal_rule(g, p, &eg, &ep, cx) {
        return r;
    }
    if let (Some(a), Some(b)) = (&eg, &ep) {
        return a == b;
    }
    // quadratic surds: decided exactly, never by floating point
    if let (Some(a), Some(b)) = (surd(g, cx.lim, cx.budget, 0), surd(p, cx.lim, cx.budget, 0)) {
        if let Some(r) = surd_equal(&a, &b) {
            return r;
        }
    }
    // rational polynomials in π (or in e): decided exactly
    if let (Some(a), Some(b)) = (
        const_poly(g, cx.lim, cx.budget, 0),
        const_poly(p, cx.lim, cx.budget, 0),
    ) {
        if let Some(r) = const_poly_equal(&a, &b) {
            return r;
        }
    }
    // the union of both sides' variables: `\sin^2 x + \cos^2 x` = `1` at every point
    let mut syms = Vec::new();
    free_symbols(g, &mut syms);
    free_symbols(p, &mut syms);
    let real = !has_i(g) && !has_i(p);
    let n = if syms.is_empty() { 1 } else { POINTS };
    let mut valid = Vec::new();
    for k in 0..n {
        match (eval_at(g, k, real, cx), eval_at(p, k, real, cx)) {
            (None, None) => continue,
            (Some(a), Some(b)) => {
                if !maybe_close(a, b) {
                    return false;
                }
                valid.push(k);
            }
            // defined on one side only: the domains differ
            _ => return false,
        }
    }
    if cx.budget.exhausted() || valid.len() < if syms.is_empty() { 1 } else { 4 } {
        return false;
    }
    // the decision: agreement at high precision
    let mut confirmed = 0;
    for &k in &valid {
        match precise::agree(g, p, &|s| point_value(s, k), real, cx.budget) {
            Some(true) => confirmed += 1,
            Some(false) => return false,
            None => {}
        }
        if confirmed >= CONFIRM {
            break;
        }
    }
    confirmed >= CONFIRM.min(valid.len())
}

fn is_matrix(e: &Expr) -> bool {
    matches!(e, Expr::Matrix(_))
}

/// A sum / product / negation with a matrix operand.
fn has_matrix_op(e: &Expr) -> bool {
    match e {
        Expr::Add(v) | Expr::Mul(v) => v.iter().any(|x| is_matrix(x) || has_matrix_op(x)),
        Expr::Neg(a) => is_matrix(a) || has_matrix_op(a),
        _ => false,
    }
}

/// Evaluate matrix sums, products, scalings and negations entry-wise (symbolically).
fn matrix_value(e: &Expr, depth: u32) -> Option<Vec<Vec<Expr>>> {
    if depth > 16 {
        return None;
    }
    match e {
        Expr::Matrix(rows) => Some(rows.clone()),
        Expr::Neg(a) => Some(
            matrix_value(a, depth + 1)?
                .into_iter()
                .map(|r| r.into_iter().map(|x| Expr::Neg(Box::new(x))).collect())
                .collect(),
        ),
        Expr::Add(v) => {
            let ms: Vec<_> = v
                .iter()
                .map(|x| matrix_value(x, depth + 1))
                .collect::<Option<_>>()?;
            let (r, c) = (ms[0].len(), ms[0][0].len());
            if ms.iter().any(|m| m.len() != r || m[0].len() != c) {
                return None;
            }
            Some(
                (0..r)
                    .map(|i| {
                        (0..c)
                            .map(|j| Expr::Add(ms.iter().map(|m| m[i][j].clone()).collect()))
                            .collect()
                    })
                    .collect(),
            )
        }
        Expr::Mul(v) if v.len() == 2 => {
            let (a, b) = (&v[0], &v[1]);
            match (matrix_value(a, depth + 1), matrix_value(b, depth + 1)) {
                (Some(x), Some(y)) => {
                    let (n, k, m) = (x.len(), y.len(), y[0].len());
                    if x[0].len() != k || n * m * k > 4096 {
                        return None;
                    }
                    Some(
                        (0..n)
                            .map(|i| {
                                (0..m)
                                    .map(|j| {
                                        Expr::Add(
                                            (0..k)
                                                .map(|t| {
                                                    Expr::Mul(vec![
                                                        x[i][t].clone(),
                                                        y[t][j].clone(),
                                                    ])
                                                })
                                                .collect(),
                                        )
                                    })
                                    .collect()
                            })
                            .collect(),
                    )
                }
                (Some(x), None) if !has_matrix_op(b) && !is_matrix(b) => Some(scale(x, b)),
                (None, Some(y)) if !has_matrix_op(a) && !is_matrix(a) => Some(scale(y, a)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn scale(m: Vec<Vec<Expr>>, s: &Expr) -> Vec<Vec<Expr>> {
    m.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|x| Expr::Mul(vec![s.clone(), x]))
                .collect()
        })
        .collect()
}
