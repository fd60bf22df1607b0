//! Which queued job a free pool worker takes. Each worker process holds one header
//! environment (importing a header such as `import Mathlib` costs seconds to minutes, so a
//! worker that already holds it should get the jobs that need it). The rules, in order, for
//! the free worker `w`:
//! 1. an empty queue: nothing to take;
//! 2. `w` holds the oldest job's header: it takes the oldest job;
//! 3. `w` holds a header, and another worker holds the oldest job's header: `w` takes the
//!    oldest job with its own header, or the oldest job when none needs it;
//! 4. otherwise (`w` holds nothing, or nobody holds the oldest job's header): `w` takes the
//!    oldest job, importing its header (its own is evicted).
//!
//! So the oldest job waits only while some worker holding its header may take it next.

/// The queue position of the job worker `worker` takes, given the headers of the queued jobs
/// (oldest first) and the header each worker holds (`holders[k]`, `None` for a fresh one).
pub(super) fn pick<'a>(
    queued_headers: impl IntoIterator<Item = &'a str>,
    holders: &[Option<String>],
    worker: usize,
) -> Option<usize> {
    let mut queued = queued_headers.into_iter();
    let oldest = queued.next()?;
    let Some(mine) = holders[worker].as_deref() else {
        return Some(0);
    };
    if mine == oldest {
        return Some(0);
    }
    let oldest_held_elsewhere = holders
        .iter()
        .enumerate()
        .any(|(k, h)| k != worker && h.as_deref() == Some(oldest));
    if !oldest_held_elsewhere {
        return Some(0);
    }
    Some(queued.position(|h| h == mine).map_or(0, |i| i + 1))
}

#[cfg(test)]
mod tests {
    use super::pick;

    fn holders(h: &[Option<&str>]) -> Vec<Option<String>> {
        h.iter().map(|x| x.map(String::from)).collect()
    }

    #[test]
    fn an_empty_queue_gives_nothing() {
        assert_eq!(pick([], &holders(&[Some("A")]), 0), None);
    }

    #[test]
    fn a_fresh_worker_takes_the_oldest() {
        let h = holders(&[None, Some("A")]);
        assert_eq!(pick(["A", "B"], &h, 0), Some(0));
    }

    #[test]
    fn a_worker_holding_the_oldest_header_takes_the_oldest() {
        let h = holders(&[Some("A"), Some("A")]);
        assert_eq!(pick(["A", "B", "A"], &h, 0), Some(0));
    }

    #[test]
    fn when_another_worker_holds_the_oldest_header_take_the_oldest_job_with_mine() {
        let h = holders(&[Some("B"), Some("A")]);
        assert_eq!(pick(["A", "C", "B", "B"], &h, 0), Some(2));
    }

    #[test]
    fn when_another_worker_holds_the_oldest_header_and_none_needs_mine_take_the_oldest() {
        let h = holders(&[Some("B"), Some("A")]);
        assert_eq!(pick(["A", "C"], &h, 0), Some(0));
    }

    #[test]
    fn when_nobody_holds_the_oldest_header_take_it_even_if_mine_is_queued() {
        let h = holders(&[Some("B"), Some("C")]);
        assert_eq!(pick(["A", "B"], &h, 0), Some(0));
    }
}
