//! The pool's verdict cache: a bounded map from a job's 32-byte key (a hash of toolchain,
//! header, body, theorems and axiom policy; see `Pool::prepare`) to its verdict. When full,
//! the oldest inserted key goes first (FIFO: a hit does not refresh a key). Capacity 0 turns
//! the cache off. Only decided verdicts are put in; errors are never cached.
use std::collections::{HashMap, VecDeque};

use super::verdict::Verdict;

/// A bounded FIFO map of verdicts by job key.
#[derive(Debug, Default)]
pub(super) struct VerdictCache {
    capacity: usize,
    map: HashMap<[u8; 32], Verdict>,
    order: VecDeque<[u8; 32]>,
}

impl VerdictCache {
    /// A cache keeping at most `capacity` verdicts (0: keeps none).
    pub(super) fn new(capacity: usize) -> Self {
        VerdictCache {
            capacity,
            ..Default::default()
        }
    }

    /// The verdict stored under `key`, if any.
    pub(super) fn get(&self, key: &[u8; 32]) -> Option<Verdict> {
        if self.capacity == 0 {
            return None;
        }
        self.map.get(key).cloned()
    }

    /// Stores `v` under `key`, evicting the oldest keys beyond the capacity. A key already
    /// present gets the new verdict and keeps its place in the eviction order.
    pub(super) fn put(&mut self, key: [u8; 32], v: &Verdict) {
        if self.capacity == 0 {
            return;
        }
        if self.map.insert(key, v.clone()).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let mut c = VerdictCache::new(0);
        c.put(key(1), &Verdict::rejected("no"));
        assert_eq!(c.get(&key(1)), None);
    }

    #[test]
    fn returns_what_was_put() {
        let mut c = VerdictCache::new(2);
        c.put(key(1), &Verdict::rejected("one"));
        assert_eq!(c.get(&key(1)), Some(Verdict::rejected("one")));
        assert_eq!(c.get(&key(2)), None);
    }

    #[test]
    fn evicts_the_oldest_insert_first_and_hits_do_not_refresh() {
        let mut c = VerdictCache::new(2);
        c.put(key(1), &Verdict::rejected("one"));
        c.put(key(2), &Verdict::rejected("two"));
        assert!(c.get(&key(1)).is_some()); // a hit: still the oldest
        c.put(key(3), &Verdict::rejected("three"));
        assert_eq!(c.get(&key(1)), None);
        assert_eq!(c.get(&key(2)), Some(Verdict::rejected("two")));
        assert_eq!(c.get(&key(3)), Some(Verdict::rejected("three")));
    }

    #[test]
    fn overwriting_a_key_keeps_its_place() {
        let mut c = VerdictCache::new(2);
        c.put(key(1), &Verdict::rejected("one"));
        c.put(key(2), &Verdict::rejected("two"));
        c.put(key(1), &Verdict::rejected("one again"));
        assert_eq!(c.get(&key(1)), Some(Verdict::rejected("one again")));
        c.put(key(3), &Verdict::rejected("three"));
        assert_eq!(c.get(&key(1)), None, "key 1 was still the oldest insert");
        assert!(c.get(&key(2)).is_some());
    }
}
