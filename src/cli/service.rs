//! Shared by the commands that talk to Kafka: config, signing key, Kafka.

use super::Failure;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use auditfed_platform::kafka::Kafka;
use auditfed_schemas::config::{Config, Problem};
use auditfed_schemas::seal::Signer;

/// Loads `--config`, or the built-in defaults (those of examples/auditfed.toml) without one.
pub fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

/// Loads the signing key and checks that the keyring holds its public key.
pub fn load_signer(config: &Config) -> Result<Arc<dyn Signer>, Vec<Problem>> {
    Ok(Arc::new(auditfed_schemas::seal::load_signer(&config.keys)?))
}

/// [`load_signer`], its problems as one message naming the config file.
pub fn load_signer_for(path: &Path, config: &Config) -> Result<Arc<dyn Signer>, String> {
    load_signer(config).map_err(|problems| {
        problems
            .iter()
            .map(|p| format!("{}: {p}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Connects to Kafka and creates/validates the topics (warnings are logged).
pub fn connect(config: &Config) -> Result<Kafka, Failure> {
    Ok(Kafka::open(&config.kafka)?)
}

/// A flag set by SIGINT/SIGTERM: services finish their transaction and exit.
pub fn stop_flag() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    Ok(stop)
}

/// The tables of `[<section>.*]` that `only` names (all when empty), once
/// `parsed`; every problem reported with the file and its key.
pub fn select_named<T>(
    path: &Path,
    section: &str,
    parsed: Result<Vec<T>, Vec<auditfed_schemas::config::Problem>>,
    name: impl Fn(&T) -> &str,
    only: &[String],
) -> Result<Vec<T>, String> {
    let all = parsed.map_err(|problems| {
        auditfed_schemas::config::ConfigError {
            file: path.to_path_buf(),
            problems,
        }
        .to_string()
    })?;
    for wanted in only {
        if !all.iter().any(|t| name(t) == wanted) {
            return Err(format!("{}: no [{section}.{wanted}] table", path.display()));
        }
    }
    let selected: Vec<T> = all
        .into_iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == name(t)))
        .collect();
    if selected.is_empty() {
        return Err(format!(
            "{}: no {section} configured (add a [{section}.<name>] table; see examples/auditfed.toml)",
            path.display()
        ));
    }
    Ok(selected)
}

/// Prints each worker's stop line (or its error); failure if any failed.
pub fn report(results: Vec<Result<String, String>>) -> ExitCode {
    let mut failed = false;
    for result in results {
        match result {
            Ok(line) => eprintln!("{line}"),
            Err(e) => {
                eprintln!("auditfed: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
