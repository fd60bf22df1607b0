//! The unbiased pass@k estimator (Chen et al., 2021, "Evaluating Large Language Models Trained
//! on Code"): with `n` samples of which `c` are correct,
//!
//! `pass@k = 1 − C(n−c, k) / C(n, k)`,
//!
//! the probability that at least one of `k` samples drawn without replacement from the `n` is
//! correct. Computed as `1 − Π_{i=n−c+1}^{n} (1 − k/i)` to stay exact-ish in f64 for large n.

/// pass@k for one problem. Returns `None` when `k > n` (not estimable from n samples).
/// When `n − c < k` every draw of k contains a correct sample, so the result is 1.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    let mut prob_all_wrong = 1.0f64;
    for i in (n - c + 1)..=n {
        prob_all_wrong *= 1.0 - k as f64 / i as f64;
    }
    Some(1.0 - prob_all_wrong)
}

/// Mean pass@k over problems, given `(n, c)` per problem; problems with `n < k` are skipped.
/// Returns `(mean, problems counted)`.
pub fn mean_pass_at_k(results: &[(usize, usize)], k: usize) -> (f64, usize) {
    let vals: Vec<f64> = results
        .iter()
        .filter_map(|&(n, c)| pass_at_k(n, c, k))
        .collect();
    if vals.is_empty() {
        (0.0, 0)
    } else {
        (vals.iter().sum::<f64>() / vals.len() as f64, vals.len())
    }
}

/// The k values to report for `n` samples: 1, 8, 32, 128, … up to n, and n itself.
pub fn report_ks(n: usize) -> Vec<usize> {
    let mut ks = vec![1];
    let mut k = 8;
    while k < n {
        ks.push(k);
        k *= 4;
    }
    if n > 1 && !ks.contains(&n) {
        ks.push(n);
    }
    ks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binom(n: u64, k: u64) -> f64 {
        if k > n {
            return 0.0;
        }
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn hand_computed_values() {
        // n=4, c=1, k=1: 1/4.
        assert!((pass_at_k(4, 1, 1).unwrap() - 0.25).abs() < 1e-12);
        // n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5.
        assert!((pass_at_k(4, 1, 2).unwrap() - 0.5).abs() < 1e-12);
        // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7.
        assert!((pass_at_k(5, 2, 2).unwrap() - 0.7).abs() < 1e-12);
        // n=10, c=3, k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252.
        assert!((pass_at_k(10, 3, 5).unwrap() - (1.0 - 21.0 / 252.0)).abs() < 1e-12);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(pass_at_k(8, 0, 1), Some(0.0));
        assert_eq!(pass_at_k(8, 0, 8), Some(0.0));
        assert_eq!(pass_at_k(8, 8, 1), Some(1.0));
        // k > n - c: always at least one correct in the draw.
        assert_eq!(pass_at_k(8, 5, 4), Some(1.0));
        assert_eq!(pass_at_k(4, 1, 5), None);
        assert_eq!(pass_at_k(4, 1, 0), None);
    }

    #[test]
    fn agrees_with_binomial_formula() {
        for n in 1..=20u64 {
            for c in 0..=n {
                for k in 1..=n {
                    let want = 1.0 - binom(n - c, k) / binom(n, k);
                    let got = pass_at_k(n as usize, c as usize, k as usize).unwrap();
                    assert!(
                        (got - want).abs() < 1e-9,
                        "n={n} c={c} k={k}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn mean_and_ks() {
        let (m, count) = mean_pass_at_k(&[(4, 1), (4, 0), (2, 2)], 4);
        assert_eq!(count, 2);
        assert!((m - 0.5).abs() < 1e-12);
        assert_eq!(report_ks(1), vec![1]);
        assert_eq!(report_ks(4), vec![1, 4]);
        assert_eq!(report_ks(32), vec![1, 8, 32]);
        assert_eq!(report_ks(100), vec![1, 8, 32, 100]);
    }
}
