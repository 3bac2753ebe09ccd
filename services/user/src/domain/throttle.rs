//! Login throttles: sliding one-minute windows of events per key. The User Service keeps two:
//! attempts per user name (so one account cannot be guessed at quickly) and failed attempts
//! per client address (so a caller trying many made-up names is slowed too).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys kept before stale ones are swept, so memory stays bounded under a flood of keys.
const SWEEP_ABOVE: usize = 100_000;

/// Events per key in a sliding window; a limit of 0 turns the throttle off.
#[derive(Clone)]
pub struct Throttle<K> {
    limit: usize,
    window: Duration,
    events: Arc<Mutex<HashMap<K, VecDeque<Instant>>>>,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    pub fn per_minute(limit: u32) -> Self {
        Self {
            limit: limit as usize,
            window: Duration::from_secs(60),
            events: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// `Err` with the seconds to wait when `key` has used up its window.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        self.with_queue(key, |limit, window, now, queue| {
            if queue.len() >= limit {
                let oldest = queue.front().copied().unwrap_or(now);
                return Err(window
                    .saturating_sub(now.duration_since(oldest))
                    .as_secs()
                    .max(1));
            }
            Ok(())
        })
    }

    /// Counts an event for `key`.
    pub fn record(&self, key: &K) {
        let _ = self.with_queue(key, |_, _, now, queue| {
            queue.push_back(now);
            Ok(())
        });
    }

    /// Checks and, when allowed, counts in one step.
    pub fn check_and_record(&self, key: &K) -> Result<(), u64> {
        self.check(key)?;
        self.record(key);
        Ok(())
    }

    fn with_queue(
        &self,
        key: &K,
        f: impl FnOnce(usize, Duration, Instant, &mut VecDeque<Instant>) -> Result<(), u64>,
    ) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let window = self.window;
        let Ok(mut events) = self.events.lock() else {
            return Ok(());
        };
        if events.len() > SWEEP_ABOVE {
            events.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let queue = events.entry(key.clone()).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
        f(self.limit, window, now, queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let throttle = Throttle::per_minute(3);
        for _ in 0..3 {
            assert!(throttle.check_and_record(&"a").is_ok());
        }
        assert!(throttle.check_and_record(&"a").is_err());
        assert!(throttle.check_and_record(&"b").is_ok());
    }

    #[test]
    fn check_alone_counts_nothing() {
        let throttle = Throttle::per_minute(1);
        for _ in 0..5 {
            assert!(throttle.check(&1).is_ok());
        }
        throttle.record(&1);
        assert!(throttle.check(&1).is_err());
    }

    #[test]
    fn zero_turns_it_off() {
        let throttle = Throttle::per_minute(0);
        for _ in 0..100 {
            assert!(throttle.check_and_record(&"a").is_ok());
        }
    }
}
