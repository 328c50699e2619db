//! How long to wait before a retry: one schedule for every stage.
//!
//! Exponential from `initial`, capped at `max`, with *equal jitter* (half
//! the step plus up to as much again at random, so instances that failed
//! together do not retry together), and never shorter than what the
//! server asked for in `Retry-After`.
//!
//! ```
//! use std::time::Duration;
//! use auditfed_platform::backoff::{Backoff, retry_after};
//!
//! let schedule = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
//! let wait = schedule.delay(3, retry_after("7"));
//! assert!(wait >= Duration::from_secs(7)); // the server's word wins
//! assert!(schedule.delay(3, None) <= Duration::from_millis(800));
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// An exponential retry schedule with equal jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first step.
    pub initial: Duration,
    /// No step is longer (a `Retry-After` may be).
    pub max: Duration,
}

impl Backoff {
    /// A schedule from `initial`, doubling up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max }
    }

    /// The step before retry number `attempt` (0 for the first retry):
    /// half of `min(initial × 2^attempt, max)` plus up to as much again at
    /// random, and at least `server` (the `Retry-After` it sent).
    pub fn delay(&self, attempt: u32, server: Option<Duration>) -> Duration {
        let step = self
            .initial
            .saturating_mul(1 << attempt.min(20))
            .min(self.max.max(Duration::from_millis(1)));
        let half = step / 2;
        let jitter_ms = random_u64() % (half.as_millis() as u64 + 1);
        let wait = half + Duration::from_millis(jitter_ms);
        server.map_or(wait, |server| wait.max(server))
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
/// A date in the past means now (zero).
pub fn retry_after(value: &str) -> Option<Duration> {
    retry_after_at(value, chrono::Utc::now())
}

/// [`retry_after`] as seen at `now`.
pub fn retry_after_at(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// Sleeps `wait` in short slices, returning early (`false`) once `stop` is set.
pub fn sleep_unless(wait: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + wait;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// A random number from the operating system (jitter, request ids).
pub fn random_u64() -> u64 {
    use rand_core::RngCore;
    rand_core::OsRng.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_cap_with_equal_jitter() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 0..12 {
            let full = Duration::from_millis(100 * (1u64 << attempt)).min(Duration::from_secs(1));
            for _ in 0..50 {
                let d = b.delay(attempt, None);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn the_server_wait_wins_over_a_shorter_step() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert!(b.delay(9, Some(Duration::from_millis(1))) >= Duration::from_millis(500));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T08:49:30Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after_at(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after_at("Sun, 06 Dec 2026 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after_at("Sun, 06 Dec 2026 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_at("soon", now), None);
        assert_eq!(retry_after_at("-5", now), None);
    }

    #[test]
    fn sleeping_ends_when_asked_to_stop() {
        let stop = AtomicBool::new(true);
        let started = Instant::now();
        assert!(!sleep_unless(Duration::from_secs(10), &stop));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(sleep_unless(
            Duration::from_millis(5),
            &AtomicBool::new(false)
        ));
    }
}
