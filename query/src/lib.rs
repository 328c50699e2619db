//! # auditfed-query
//!
//! Home of the Parquet archive, DataFusion SQL, the PostgreSQL wire server, the verifier and reports (issues 3 and 5).
//!
//! This crate is part of the workspace layout fixed by the design
//! (../shared/design.md §2) and is still empty: it gets its code with the
//! issues named above.

#![forbid(unsafe_code)]
