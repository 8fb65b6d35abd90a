//! Request counting for the trigger API: a fixed one-minute window per key
//! (a client address, a token), so a guessing client or a looping pipeline
//! is turned away with 429 instead of filling the log or the repository.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys kept before expired windows are dropped: bounds the memory a
/// client with many addresses can take.
const MAX_KEYS: usize = 4096;

#[derive(Default)]
pub struct RateLimits {
    windows: HashMap<String, (Instant, u32)>,
}

impl RateLimits {
    /// Counts one request of `key`; Err(how long until the window ends)
    /// once `limit` requests came within the window.
    pub fn count(&mut self, key: &str, limit: u32, now: Instant) -> Result<(), Duration> {
        self.check(key, limit, now)?;
        self.windows.get_mut(key).expect("check made the window").1 += 1;
        Ok(())
    }

    /// Whether `key` is over `limit` in its window, without counting.
    pub fn check(&mut self, key: &str, limit: u32, now: Instant) -> Result<(), Duration> {
        if self.windows.len() >= MAX_KEYS {
            self.windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = self.windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= limit {
            return Err(WINDOW.saturating_sub(now.duration_since(*start)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_limit_waits_for_the_next_window_and_others_are_not_affected() {
        let mut limits = RateLimits::default();
        let start = Instant::now();
        for _ in 0..3 {
            limits.count("a", 3, start).unwrap();
        }
        let wait = limits.count("a", 3, start + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(limits.check("a", 3, start).is_err());
        limits.count("b", 3, start).unwrap();
        limits.count("a", 3, start + WINDOW).unwrap();
    }

    #[test]
    fn many_keys_do_not_grow_without_bound() {
        let mut limits = RateLimits::default();
        let start = Instant::now();
        for n in 0..MAX_KEYS {
            limits.count(&n.to_string(), 1, start).unwrap();
        }
        limits.count("late", 1, start + WINDOW).unwrap();
        assert_eq!(limits.windows.len(), 1);
    }
}
