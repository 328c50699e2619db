//! `auditfed run ingest --config auditfed.toml [--collector NAME]...`

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_ingest::collectors::{RunFor, parse_collectors};
use auditfed_ingest::metrics::Registry;
use auditfed_ingest::service::run_collectors;
use auditfed_platform::kafka::Kafka;

use super::service::{load_config, report, select_named, stop_flag};

/// Runs every selected collector in its own thread until stopped (or idle).
pub fn run(path: PathBuf, only: &[String], run_for: RunFor) -> Result<ExitCode, Failure> {
    let config = load_config(Some(&path))?;
    let selected = select_named(
        &path,
        "collectors",
        parse_collectors(&config.collectors),
        |c| c.name.as_str(),
        only,
    )?;
    Kafka::open(&config.kafka)?;
    let registry = Registry::default();
    if let Some(listen) = &config.ingest.metrics_listen {
        let address = registry.serve(listen)?;
        eprintln!("auditfed: collector counters at http://{address}/metrics");
    }
    let stop = stop_flag()?;
    Ok(report(run_collectors(
        &config, &selected, run_for, &stop, &registry,
    )))
}
