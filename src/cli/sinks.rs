//! `auditfed run sinks --config auditfed.toml [--sink NAME]...`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auditfed_sinks::config::{SinkKind, parse_sinks};
use auditfed_sinks::driver::Driver;
use auditfed_sinks::splunk::SplunkService;

use super::service::{connect, load_config, stop_flag};

/// Runs every selected sink in its own thread until stopped (or idle).
pub fn run(path: PathBuf, only: &[String], idle: Option<Duration>) -> Result<ExitCode, String> {
    let config = load_config(Some(&path))?;
    let sinks = parse_sinks(&config.sinks).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {}: {p}", path.display()))
            .collect();
        format!(
            "{}: {} problem(s) in the configuration\n{}",
            path.display(),
            problems.len(),
            lines.join("\n")
        )
    })?;
    for name in only {
        if !sinks.iter().any(|s| &s.name == name) {
            return Err(format!("{}: no [sinks.{name}] table", path.display()));
        }
    }
    let selected: Vec<_> = sinks
        .into_iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
        .collect();
    if selected.is_empty() {
        return Err(format!(
            "{}: no sinks configured (add a [sinks.<name>] table; see examples/auditfed.toml)",
            path.display()
        ));
    }
    let stop = stop_flag()?;
    let instance = config.normalize.instance_id();
    let results: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .into_iter()
            .map(|sink| {
                let (config, stop, instance) = (&config, stop.clone(), &instance);
                scope.spawn(move || -> Result<String, String> {
                    let kafka = connect(config)?;
                    let key = format!("sinks.{}", sink.name);
                    let SinkKind::Splunk(splunk) = sink.kind;
                    let batch = splunk.batch.clone();
                    let policy = splunk.policy.clone();
                    let endpoint = splunk.endpoint.clone();
                    let service = SplunkService::new(splunk, &key)?;
                    let mut driver = Driver::new(&kafka, &sink.name, instance, batch, policy, service)
                        .map_err(|e| e.to_string())?;
                    eprintln!(
                        "auditfed: sink {} forwarding {} to Splunk HEC at {endpoint}",
                        sink.name,
                        kafka.topics().events()
                    );
                    let stats = driver.run(&stop, idle).map_err(|e| e.to_string())?;
                    Ok(format!(
                        "auditfed: sink {} stopped: {} delivered, {} dead-lettered, {} withheld by its policy, {} requests ({} retried)",
                        sink.name, stats.delivered, stats.dead_lettered, stats.withheld, stats.requests, stats.retries
                    ))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a sink panicked".into())))
            .collect()
    });
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
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
