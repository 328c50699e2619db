//! `auditfed run ingest`: the selected collectors of `[collectors.*]`,
//! each on its own thread with its own transactional link to Kafka
//! ([`Collecting`]), until the stop flag is set (or they are idle).

use std::sync::atomic::AtomicBool;

use auditfed_platform::kafka::Kafka;
use auditfed_platform::supervise::run_workers;
use auditfed_schemas::config::Config;

use crate::collect::Collecting;
use crate::collectors::{NamedCollector, RunFor, run};
use crate::metrics::Registry;

/// Runs `selected` until `stop`; each collector's counters join
/// `registry`. One stop line (or error) per collector, in order.
pub fn run_collectors(
    config: &Config,
    selected: &[NamedCollector],
    run_for: RunFor,
    stop: &AtomicBool,
    registry: &Registry,
) -> Vec<Result<String, String>> {
    run_workers(
        selected,
        |c| format!("collector {}", c.name),
        |collector| {
            let fail = |e: &dyn std::fmt::Display| format!("collector {}: {e}", collector.name);
            let kafka = Kafka::open(&config.kafka).map_err(|e| fail(&e))?;
            let mut out = Collecting::open(&kafka, &collector.name, &config.ingest.collector_id)
                .map_err(|e| fail(&e))?;
            registry.add(out.counters());
            let _span = tracing::info_span!("collector", collector = %collector.name).entered();
            tracing::info!(cursors = out.cursors().len(), "collector started");
            let line = run(
                collector,
                &mut out,
                config.ingest.max_record_bytes,
                stop,
                run_for,
            )
            .map_err(|e| fail(&e))?;
            Ok(format!(
                "auditfed: collector {} stopped: {line}",
                collector.name
            ))
        },
    )
}
