//! How a sink batches and retries: `[sinks.<name>.batch]`.

use auditfed_schemas::config::Problem;
use serde::Deserialize;

/// Batching, shared by every sink (`[sinks.<name>.batch]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Events per request, at most.
    pub max_events: usize,
    /// Bytes of events per request, at most (before compression).
    pub max_bytes: usize,
    /// A batch is sent at the latest this long after its first event (ms).
    pub max_ms: u64,
    /// Longest pause between two attempts (ms); the SIEM's `Retry-After`
    /// is honoured even when longer.
    pub max_backoff_ms: u64,
    /// Batches delivered at the same time (each its own request); offsets
    /// are still committed in order. Memory stays under
    /// `(max_in_flight + 1) × max_bytes`.
    pub max_in_flight: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 1_000,
            max_bytes: 4 << 20,
            max_ms: 1_000,
            max_backoff_ms: 30_000,
            max_in_flight: 4,
        }
    }
}

impl BatchConfig {
    /// Value checks; `key` is `sinks.<name>.batch`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.max_events == 0 || self.max_bytes == 0 || self.max_ms == 0 {
            problems.push(Problem::new(
                key,
                "max_events, max_bytes and max_ms must be greater than 0",
            ));
        }
        if !(1..=64).contains(&self.max_in_flight) {
            problems.push(Problem::new(
                format!("{key}.max_in_flight"),
                format!("{}: expected 1 to 64", self.max_in_flight),
            ));
        }
        problems
    }
}
