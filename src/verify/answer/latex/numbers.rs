//! Stage 2: number literals. Decimal / scientific literals and repeating decimals
//! (`0.\overline{3}`) become exact rationals; `1011_2` is read in its base.
use super::*;

/// `I.F\overline{R}` (also `I.\overline{R}`) starting at `st`, whose digits `I.F` end at
/// `i`: the exact value (IFR − IF) / (10^|F|·(10^|R| − 1)) and the index after the `}`.
pub(super) fn repeating_decimal(
    chars: &[char],
    st: usize,
    i: usize,
) -> Option<(BigRational, usize)> {
    let lit: String = chars[st..i].iter().collect();
    let mut j = i;
    let has_point = lit.contains('.');
    if !has_point {
        if chars.get(j) != Some(&'.') {
            return None;
        }
        j += 1;
    }
    let rest: String = chars[j..chars.len().min(j + 10)].iter().collect();
    let skip = ["\\overline{", "\\dot{"]
        .iter()
        .find(|p| rest.starts_with(*p))?
        .len();
    j += skip;
    let rs = j;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    if j == rs || j - rs > 50 || chars.get(j) != Some(&'}') || lit.len() > 200 {
        return None;
    }
    let rep: String = chars[rs..j].iter().collect();
    let (ip, fp) = lit.split_once('.').unwrap_or((lit.as_str(), ""));
    let ifr: BigInt = format!("0{ip}{fp}{rep}").parse().ok()?;
    let if_: BigInt = format!("0{ip}{fp}").parse().ok()?;
    let ten = BigInt::from(10);
    let den =
        num_traits::pow(ten.clone(), fp.len()) * (num_traits::pow(ten, rep.len()) - BigInt::one());
    Some((BigRational::new(ifr - if_, den), j + 1))
}

/// Parse a decimal / scientific literal exactly. Returns the value and the digits after the
/// point (None for integers).
pub(crate) fn parse_number(s: &str) -> Option<(BigRational, Option<u32>)> {
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(p) => (&s[..p], s[p + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    if exp.unsigned_abs() > 400 || s.len() > 4096 {
        return None;
    }
    let (ip, fp) = match mant.find('.') {
        Some(p) => (&mant[..p], Some(&mant[p + 1..])),
        None => (mant, None),
    };
    let digits = format!("{}{}", ip, fp.unwrap_or(""));
    let n: BigInt = if digits.is_empty() {
        BigInt::zero()
    } else {
        digits.parse().ok()?
    };
    let places = fp.map(|f| f.len() as i64).unwrap_or(0) - exp;
    if places > 400 {
        return None; // reducing by a huge power of ten is a quadratic gcd
    }
    let ten = BigInt::from(10);
    let v = if places > 0 {
        BigRational::new(n, num_traits::pow(ten, places as usize))
    } else if places == 0 {
        BigRational::from_integer(n)
    } else {
        BigRational::from_integer(n * num_traits::pow(ten, (-places) as usize))
    };
    let decimals = if exp == 0 {
        fp.map(|f| f.len() as u32)
    } else {
        None
    };
    Some((v, decimals))
}

/// `1011_2` → 11. Digits must be valid in the base (2..=36); `_{10}` is decimal.
pub(super) fn base_convert(v: &BigRational, base: &str) -> Option<BigRational> {
    let b: u32 = base.trim().parse().ok()?;
    if !(2..=36).contains(&b) {
        return None;
    }
    let digits = v.to_integer().to_string();
    let n = BigInt::parse_bytes(digits.as_bytes(), b)?;
    Some(BigRational::from_integer(n))
}
