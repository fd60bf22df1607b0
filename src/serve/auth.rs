//! API-key check: when the server has a key, every endpoint but `/` and `/health` (probes of
//! load balancers) needs `Authorization: KEY` or `Authorization: Bearer KEY`; else 401.
use axum::http::HeaderMap;

/// Whether `headers` carry `key`. The comparison takes the same time wherever the first
/// difference is.
pub fn authorized(headers: &HeaderMap, key: &str) -> bool {
    let Some(given) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let given = given.trim();
    let token = given
        .strip_prefix("Bearer ")
        .or_else(|| given.strip_prefix("bearer "))
        .unwrap_or(given)
        .trim();
    constant_time_eq(token.as_bytes(), key.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `path` is open without a key.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/health")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_or_bare_key() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "k1"));
        h.insert("authorization", "Bearer k1".parse().unwrap());
        assert!(authorized(&h, "k1"));
        h.insert("authorization", "k1".parse().unwrap());
        assert!(authorized(&h, "k1"));
        h.insert("authorization", "Bearer k2".parse().unwrap());
        assert!(!authorized(&h, "k1"));
        h.insert("authorization", "Bearer k1x".parse().unwrap());
        assert!(!authorized(&h, "k1"));
    }
}
