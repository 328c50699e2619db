//! `type = "http"`: an HTTPS receiver for the Kubernetes audit webhook
//! backend (`audit.k8s.io/v1` `EventList` bodies: one record per item)
//! and generic JSON, JSON arrays or JSON lines (gzip bodies too).
//!
//! Authentication: a bearer token, mutual TLS (a client CA), or both. A
//! request is answered 200 only after its records are committed to Kafka;
//! 429 with `Retry-After` when requests queue up faster than Kafka takes
//! them; 413 for a body over `max_body_bytes` (refused before it is read);
//! 400 when nothing in the body is JSON (its bytes go to the dead-letter
//! topic). `GET /healthz` answers 200 for probes.
//!
//! A client that retries after a timeout may send a request twice: push
//! receivers cannot deduplicate what they cannot identify (the webhook
//! sends no idempotency key), so duplicates are possible, losses are not.

pub mod collector;
pub mod config;
pub mod request;
