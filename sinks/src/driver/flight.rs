//! One batch in flight: delivered by its own task, split when too large,
//! bisected when refused until the events at fault are alone, retried with
//! backoff (never shorter than the SIEM's `Retry-After`) until it lands or
//! the sink is stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_platform::backoff::Backoff;

use super::{Failure, Outcome, OutgoingEvent, Service};
use crate::SinkError;

/// What became of a batch: the events it carried and, by index, how each
/// ended; plus the request counts for the stats.
pub(super) struct Landed {
    pub events: Vec<OutgoingEvent>,
    pub outcomes: Vec<(usize, Outcome)>,
    pub requests: u64,
    pub retries: u64,
}

/// Delivers `events` through `service`. Returns [`SinkError::Stopped`]
/// when asked to stop before the SIEM acknowledged everything, and
/// [`SinkError::Fatal`] when the SIEM says the configuration is wrong.
pub(super) async fn fly<S: Service>(
    sink: String,
    service: Arc<S>,
    events: Vec<OutgoingEvent>,
    max_backoff_ms: u64,
    stop: Arc<AtomicBool>,
) -> Result<Landed, SinkError> {
    let mut landed = Landed {
        events: Vec::new(),
        outcomes: Vec::with_capacity(events.len()),
        requests: 0,
        retries: 0,
    };
    // Ranges of `events` still to deliver; the first half of a split is
    // delivered first, so events reach the SIEM in their order.
    let mut stack: Vec<(usize, usize)> = if events.is_empty() {
        Vec::new()
    } else {
        vec![(0, events.len())]
    };
    while let Some((start, end)) = stack.pop() {
        let part = &events[start..end];
        let mut attempt = 0;
        loop {
            landed.requests += 1;
            match service.deliver(part).await {
                Ok(id) => {
                    landed
                        .outcomes
                        .extend((start..end).map(|i| (i, Outcome::Delivered(id.clone()))));
                    break;
                }
                Err(Failure::TooLarge { .. } | Failure::Reject { .. }) if part.len() > 1 => {
                    let middle = start + part.len() / 2;
                    stack.push((middle, end));
                    stack.push((start, middle));
                    break;
                }
                Err(Failure::TooLarge { reason }) => {
                    landed
                        .outcomes
                        .push((start, Outcome::Rejected(reason, String::new())));
                    break;
                }
                Err(Failure::Reject { reason, body }) => {
                    landed
                        .outcomes
                        .push((start, Outcome::Rejected(reason, body)));
                    break;
                }
                Err(Failure::Fatal(message)) => return Err(SinkError::Fatal { sink, message }),
                Err(failure @ Failure::Retry { .. }) => {
                    landed.retries += 1;
                    if attempt % 10 == 0 {
                        tracing::warn!(
                            sink = %sink,
                            attempt = attempt + 1,
                            events = part.len(),
                            failure = ?failure,
                            "delivery attempt failed; retrying"
                        );
                    }
                    pause(attempt, &failure, max_backoff_ms, &stop).await?;
                    attempt += 1;
                }
            }
        }
    }
    landed.events = events;
    Ok(landed)
}

/// Exponential backoff with jitter, at least the SIEM's `Retry-After`;
/// [`SinkError::Stopped`] when asked to stop meanwhile.
pub(super) async fn pause(
    attempt: u32,
    failure: &Failure,
    max_backoff_ms: u64,
    stop: &AtomicBool,
) -> Result<(), SinkError> {
    let wait = backoff(attempt, failure, max_backoff_ms);
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return Err(SinkError::Stopped);
        }
        tokio::time::sleep(Duration::from_millis(50).min(until - Instant::now())).await;
    }
    Ok(())
}

/// The platform's schedule from 100 ms up to `max_backoff_ms`, never
/// shorter than the SIEM's `Retry-After`.
pub(super) fn backoff(attempt: u32, failure: &Failure, max_backoff_ms: u64) -> Duration {
    let schedule = Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(max_backoff_ms),
    );
    let server = match failure {
        Failure::Retry { after, .. } => *after,
        _ => None,
    };
    schedule.delay(attempt, server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    fn event(i: usize) -> OutgoingEvent {
        OutgoingEvent {
            partition: 0,
            offset: i as i64,
            chain: "c".into(),
            seq: i as u64,
            uid: format!("u{i}"),
            source: "test".into(),
            time_ms: 0,
            class_uid: 6003,
            json: format!("{{\"n\":{i}}}").into_bytes(),
        }
    }

    /// Refuses any request holding a poisoned event, finds requests over
    /// `max` events too large, and is busy on every third request.
    struct Picky {
        poisoned: Vec<String>,
        max: usize,
        calls: Mutex<u32>,
        accepted: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Service for Picky {
        async fn health(&self) -> Result<(), Failure> {
            Ok(())
        }
        async fn deliver(&self, events: &[OutgoingEvent]) -> Result<String, Failure> {
            let call = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            if call % 3 == 0 {
                return Err(Failure::Retry {
                    reason: "busy".into(),
                    after: None,
                });
            }
            if events.len() > self.max {
                return Err(Failure::TooLarge {
                    reason: "413".into(),
                });
            }
            if events.iter().any(|e| self.poisoned.contains(&e.uid)) {
                return Err(Failure::Reject {
                    reason: "bad".into(),
                    body: "{\"error\":\"bad\"}".into(),
                });
            }
            let mut accepted = self.accepted.lock().unwrap();
            accepted.extend(events.iter().map(|e| e.uid.clone()));
            Ok(format!("req{call}"))
        }
    }

    #[tokio::test]
    async fn splits_bisects_and_retries_until_only_the_bad_events_are_left() {
        let service = Arc::new(Picky {
            poisoned: vec!["u3".into(), "u17".into()],
            max: 8,
            calls: Mutex::new(0),
            accepted: Mutex::new(Vec::new()),
        });
        let events: Vec<_> = (0..20).map(event).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let landed = fly("t".into(), service.clone(), events, 1, stop)
            .await
            .unwrap();
        let mut rejected: Vec<&str> = Vec::new();
        let mut delivered: Vec<&str> = Vec::new();
        for (i, outcome) in &landed.outcomes {
            match outcome {
                Outcome::Rejected(reason, body) => {
                    assert_eq!(reason, "bad");
                    assert!(body.contains("error"));
                    rejected.push(&landed.events[*i].uid);
                }
                Outcome::Delivered(_) => delivered.push(&landed.events[*i].uid),
                Outcome::Withheld { .. } => unreachable!(),
            }
        }
        rejected.sort();
        assert_eq!(rejected, ["u17", "u3"]);
        assert_eq!(delivered.len(), 18);
        // Delivered in order, each once.
        let accepted = service.accepted.lock().unwrap().clone();
        let expected: Vec<String> = (0..20)
            .filter(|i| *i != 3 && *i != 17)
            .map(|i| format!("u{i}"))
            .collect();
        assert_eq!(accepted, expected);
        assert!(landed.retries > 0);
    }

    #[tokio::test]
    async fn a_stop_request_ends_the_retries_without_an_outcome() {
        struct Down;
        #[async_trait]
        impl Service for Down {
            async fn health(&self) -> Result<(), Failure> {
                Ok(())
            }
            async fn deliver(&self, _: &[OutgoingEvent]) -> Result<String, Failure> {
                Err(Failure::Retry {
                    reason: "down".into(),
                    after: Some(Duration::from_secs(3600)),
                })
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            flag.store(true, Ordering::Relaxed);
        });
        let result = fly("t".into(), Arc::new(Down), vec![event(0)], 1000, stop).await;
        assert!(matches!(result, Err(SinkError::Stopped)));
    }

    #[test]
    fn backoff_honours_retry_after_and_the_cap() {
        let busy = Failure::Retry {
            reason: String::new(),
            after: None,
        };
        for attempt in 0..30 {
            let wait = backoff(attempt, &busy, 2_000);
            assert!(wait <= Duration::from_millis(2_000), "{wait:?}");
            assert!(wait >= Duration::from_millis(50.min(100 << attempt.min(4)) / 2));
        }
        let throttled = Failure::Retry {
            reason: String::new(),
            after: Some(Duration::from_secs(7)),
        };
        assert_eq!(backoff(0, &throttled, 1_000), Duration::from_secs(7));
    }
}
