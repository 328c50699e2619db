//! `auditfed run sinks --config auditfed.toml [--sink NAME]...`

use super::Failure;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use auditfed_schemas::config::Config;
use auditfed_sinks::config::{NamedSink, parse_sinks};
use auditfed_sinks::service::run_sinks;

use super::service::{load_config, report, select_named, stop_flag};

/// Runs every selected sink in its own thread until stopped (or idle).
pub fn run(path: PathBuf, only: &[String], idle: Option<Duration>) -> Result<ExitCode, Failure> {
    let config = load_config(Some(&path))?;
    let selected = select(&path, &config, only)?;
    let stop = stop_flag()?;
    let instance = config.normalize.instance_id();
    Ok(report(run_sinks(
        &config, &selected, &instance, &stop, idle,
    )))
}

/// The configured sinks, only those named in `only` when it is not empty.
pub fn select(path: &Path, config: &Config, only: &[String]) -> Result<Vec<NamedSink>, String> {
    select_named(
        path,
        "sinks",
        parse_sinks(&config.sinks),
        |s| s.name.as_str(),
        only,
    )
}
