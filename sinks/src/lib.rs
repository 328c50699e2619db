//! # auditfed-sinks
//!
//! Home of SIEM forwarders: Splunk HEC and Microsoft Sentinel (issue 6).
//!
//! This crate is part of the workspace layout fixed by the design
//! (../shared/design.md §2) and is still empty: it gets its code with the
//! issues named above.

#![forbid(unsafe_code)]
