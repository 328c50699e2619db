//! Splunk HTTP Event Collector (HEC) with indexer acknowledgements.
//!
//! Each batch is one `POST /services/collector/event` of concatenated
//! envelopes (gzip): `time` (epoch seconds with milliseconds), `host`,
//! `source` (`auditfed:<source type>`), `sourcetype`, `index`, indexed
//! `fields` (`auditfed_chain`, `auditfed_seq`, `auditfed_event_uid`,
//! `ocsf_class_uid`) and `event`, the sealed OCSF event byte for byte. The
//! request carries `Authorization: Splunk <token>` and a data channel GUID;
//! HEC answers with an `ackId`, which is polled on `/services/collector/ack`
//! until the indexer confirms it; without confirmation within
//! `ack_timeout_secs` the batch is sent again (Splunk's documented
//! recovery; Splunk may then hold the batch twice).
//!
//! Status codes, as Splunk documents them: 9 (busy), 8 (internal error),
//! 18 (queues full), HTTP 429 and 5xx are retried with backoff honouring
//! `Retry-After`; 1-4 (token) and 7 (index) stop the sink with a message
//! naming the config key; 5, 6, 12, 13, 15 (data) are bisected down to the
//! offending events, which go to the dead-letter topic with the response.

mod config;
mod service;

pub use config::SplunkConfig;
pub use service::SplunkService;
