//! # auditfed-ingest
//!
//! Home of collectors that stream raw audit logs into Kafka (issue 4: file ingest and producer API; issue 7: cloud and SaaS collectors).
//!
//! This crate is part of the workspace layout fixed by the design
//! (../shared/design.md §2) and is still empty: it gets its code with the
//! issues named above.

#![forbid(unsafe_code)]
