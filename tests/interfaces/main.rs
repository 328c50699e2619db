//! What users and other tools see, in one binary: the command line, the
//! crate docs, OCSF validity of what is emitted (independent validators),
//! the seal's test vectors, the quickstart, reports (browser, PDF, SMTP,
//! schedules), the PostgreSQL wire server and `auditfed verify` over
//! object stores.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod docs;
mod ocsf_jsonschema;
mod quickstart;
mod reports;
mod seal_vectors;
mod serve_sql;
mod verify_cli;
