//! The parsed form of an answer: numbers are exact rationals, everything else is a tree.
use num_rational::BigRational;

/// Relation operators between parts of a [`Expr::Rel`] chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelOp {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `\le`, `<=`
    Le,
    /// `>`
    Gt,
    /// `\ge`, `>=`
    Ge,
    /// `\ne`, `!=`
    Ne,
    /// `\approx`
    Approx,
    /// `\in`
    In,
}

/// Named constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Const {
    /// π
    Pi,
    /// Euler's e (`e`, `\mathrm{e}`)
    E,
    /// the imaginary unit `i`
    I,
    /// ∞ (only meaningful as an interval end or a limit)
    Inf,
}

/// An answer expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Exact number; `decimals` is the count of digits after the point when written as a
    /// decimal literal (used by the rounding rule).
    Num {
        /// exact value
        value: BigRational,
        /// digits after the decimal point in the written literal, if any
        decimals: Option<u32>,
    },
    /// A variable (possibly subscripted: `a_3`, `F_{n-1}`).
    Sym(String),
    /// π, e, i, ∞.
    Const(Const),
    /// Sum.
    Add(Vec<Expr>),
    /// Product.
    Mul(Vec<Expr>),
    /// Negation.
    Neg(Box<Expr>),
    /// Quotient.
    Div(Box<Expr>, Box<Expr>),
    /// Power.
    Pow(Box<Expr>, Box<Expr>),
    /// Function application: sqrt, root (radicand, index), sin, ..., abs, fact, binom, or an
    /// opaque operator (e.g. `\sum_{k=0}^{n}`) whose name carries its bounds.
    Func(String, Vec<Expr>),
    /// `a ± b` (a is 0 for a bare `±b`).
    PlusMinus(Box<Expr>, Box<Expr>),
    /// Ordered tuple `(a, b, ...)`.
    Tuple(Vec<Expr>),
    /// Unordered list of answers `a, b, c` / `a and b`.
    List(Vec<Expr>),
    /// Set `\{a, b\}`.
    Set(Vec<Expr>),
    /// Interval with open/closed ends.
    Interval {
        /// lower end
        lo: Box<Expr>,
        /// upper end
        hi: Box<Expr>,
        /// `[` at the lower end
        lo_closed: bool,
        /// `]` at the upper end
        hi_closed: bool,
    },
    /// Union of intervals / sets.
    Union(Vec<Expr>),
    /// Matrix rows.
    Matrix(Vec<Vec<Expr>>),
    /// Relation chain `p0 op0 p1 op1 p2 ...`.
    Rel {
        /// the parts, one more than the operators
        parts: Vec<Expr>,
        /// the operators
        ops: Vec<RelOp>,
    },
    /// Free text (a word answer such as `\text{Evelyn}`), whitespace-normalized.
    Text(String),
}

impl Expr {
    /// An integer literal.
    pub fn int(n: i64) -> Expr {
        Expr::Num {
            value: BigRational::from_integer(n.into()),
            decimals: None,
        }
    }
}
