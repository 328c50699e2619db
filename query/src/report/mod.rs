//! Audit reports: control packs run over archives pinned to their signed
//! checkpoints, written as signed, reproducible evidence bundles.
//!
//! A **pack** ([`pack`]) is data: controls, each a SQL query over `events`,
//! the audit views and the report tables, with a rule mapping its rows to
//! pass / fail / info / manual. Five are built in ([`pack::BUILT_IN`]: PCI
//! DSS 4.0 requirement 10, SOC 2, ISO/IEC 27001:2022, HIPAA, NIST SP 800-53
//! AU); a directory or TOML file is a pack too, no recompiling.
//!
//! A **run** ([`run`]) first pins the archive ([`state`]): per chain, the
//! newest checkpoint whose signature verifies. The SQL session then shows
//! each chain only up to that checkpoint, the verifier's findings up to it
//! are the tables `verification` and `verification_findings`, and the
//! sinks' receipts and the pollers' coverage are read up to the Kafka
//! offsets they had. Everything a control sees is named by the pins.
//!
//! The **bundle** ([`bundle`]) holds the HTML ([`html`]) and PDF ([`pdf`])
//! report, the OCSF Compliance Findings ([`findings`]), one CSV per
//! control, the evidence health, and a manifest (every file's SHA-256, the
//! pack with its query text, the pins with their signed notes) signed as a
//! C2SP note. [`bundle::verify_bundle`] checks it with the keyring alone;
//! [`bundle::rerun`] re-executes it over the archive, restricted to the
//! pins, and proves the results identical however much the archive grew.
//!
//! **Schedules** ([`schedule`]) run packs by cron expression in a time
//! zone, once per period, catching up after downtime, and deliver
//! ([`deliver`]) to a directory or object store, by e-mail (SMTP with
//! STARTTLS) and to a webhook.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use auditfed_query::report::{pack::Pack, run::{RunSpec, pin, run}};
//! use auditfed_query::sql::Archive;
//! use auditfed_schemas::seal::Keyring;
//!
//! let spec = RunSpec {
//!     pack: Pack::load("pci-dss-4.0")?,
//!     params: BTreeMap::new(),
//!     from_ms: 1_790_000_000_000,
//!     to_ms: 1_790_086_400_000,
//!     archives: vec![Archive::new("archive", "./auditfed-data/archive")],
//!     receipts: None,
//!     coverage: None,
//!     keyring: Keyring::load("./auditfed-data/keys/keyring".as_ref())?,
//!     dead_letters: None,
//! };
//! let pinned = pin(&spec)?;
//! let report = run(&spec, pinned, 1_790_086_500_000)?;
//! for control in &report.controls {
//!     println!("{} {}: {}", control.control.id, control.status, control.reason);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bundle;
pub mod deliver;
pub mod findings;
pub mod html;
pub mod pack;
pub mod pdf;
pub mod run;
pub mod schedule;
pub mod service;
pub mod state;
