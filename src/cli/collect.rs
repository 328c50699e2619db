//! `auditfed run ingest --config auditfed.toml [--collector NAME]...`

use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_ingest::collect::Collecting;
use auditfed_ingest::collectors::{RunFor, parse_collectors, run as run_collector};
use auditfed_ingest::metrics::Registry;

use super::service::{connect, load_config, report, select_named, stop_flag};

/// Runs every selected collector in its own thread until stopped (or idle).
pub fn run(path: PathBuf, only: &[String], run_for: RunFor) -> Result<ExitCode, String> {
    let config = load_config(Some(&path))?;
    let selected = select_named(
        &path,
        "collectors",
        parse_collectors(&config.collectors),
        |c| c.name.as_str(),
        only,
    )?;
    connect(&config)?
        .ensure_topics()
        .map_err(|e| e.to_string())?;
    let registry = Registry::default();
    if let Some(listen) = &config.ingest.metrics_listen {
        let address = registry.serve(listen)?;
        eprintln!("auditfed: collector counters at http://{address}/metrics");
    }
    let stop = stop_flag()?;
    let results: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .iter()
            .map(|collector| {
                let (config, stop, registry) = (&config, stop.clone(), registry.clone());
                scope.spawn(move || -> Result<String, String> {
                    let kafka = &connect(config)?;
                    let mut out =
                        Collecting::open(kafka, &collector.name, &config.ingest.collector_id)
                            .map_err(|e| format!("collector {}: {e}", collector.name))?;
                    registry.add(out.counters());
                    eprintln!(
                        "auditfed: collector {} started ({} cursor(s) resumed)",
                        collector.name,
                        out.cursors().len()
                    );
                    let line = run_collector(
                        collector,
                        &mut out,
                        config.ingest.max_record_bytes,
                        &stop,
                        run_for,
                    )
                    .map_err(|e| format!("collector {}: {e}", collector.name))?;
                    Ok(format!(
                        "auditfed: collector {} stopped: {line}",
                        collector.name
                    ))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a collector panicked".into()))
            })
            .collect()
    });
    Ok(report(results))
}
