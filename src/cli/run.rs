//! `auditfed run normalize --config auditfed.toml`

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auditfed_ingest::collectors::RunFor;

use auditfed_normalize::service::Normalizer;
use auditfed_query::archiver::Archiver;

use super::service::{connect, load_config, load_signer_for, stop_flag};

/// Arguments of `auditfed run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    service: Service,
}

#[derive(Debug, clap::Subcommand)]
enum Service {
    /// Consume the raw topics, map to OCSF, seal, and produce events,
    /// checkpoints and dead letters in Kafka transactions (exactly once).
    Normalize {
        /// The configuration file (see examples/auditfed.toml).
        #[arg(long)]
        config: PathBuf,
        /// Stop (committing everything and checkpointing the chains) once no
        /// record arrived for this many seconds: for backfills and benchmarks.
        #[arg(long, value_name = "SECS")]
        exit_when_idle: Option<u64>,
    },
    /// Write the sealed events and checkpoints from Kafka into the Parquet
    /// archive; offsets are committed only once the files are durable.
    Archive {
        /// The configuration file (see examples/auditfed.toml).
        #[arg(long)]
        config: PathBuf,
        /// Stop (writing what can be written and committing) once nothing
        /// arrived for this many seconds.
        #[arg(long, value_name = "SECS")]
        exit_when_idle: Option<u64>,
    },
    /// Forward the sealed events to the SIEMs of `[sinks.*]` (Splunk HEC,
    /// ...): one consumer group per sink, offsets committed only after the
    /// SIEM acknowledged, a receipt per event in `<prefix>.receipts`.
    Sinks {
        /// The configuration file (see examples/auditfed.toml).
        #[arg(long)]
        config: PathBuf,
        /// Only this sink (repeatable; default: all of `[sinks.*]`).
        #[arg(long, value_name = "NAME")]
        sink: Vec<String>,
        /// Stop once nothing arrived for this many seconds.
        #[arg(long, value_name = "SECS")]
        exit_when_idle: Option<u64>,
    },
    /// Produce the scheduled reports of `[reports.*]`: each scheduled
    /// time's period once (a restart neither skips nor repeats one; missed
    /// periods are caught up), retried on failure, delivered by e-mail and
    /// webhook when configured.
    Reports {
        /// The configuration file (see examples/auditfed.toml).
        #[arg(long)]
        config: PathBuf,
        /// Only this report (repeatable; default: all of `[reports.*]`).
        #[arg(long, value_name = "NAME")]
        report: Vec<String>,
        /// Produce what is due now, then exit (for a system timer).
        #[arg(long)]
        once: bool,
    },
    /// Run the collectors of `[collectors.*]`: raw records into
    /// `<prefix>.raw.<source>`, each collector's cursor moved in the same
    /// Kafka transaction as its records (a restart resumes with no loss and
    /// no duplicates); counters at `ingest.metrics_listen`/metrics.
    Ingest {
        /// The configuration file (see examples/auditfed.toml).
        #[arg(long)]
        config: PathBuf,
        /// Only this collector (repeatable; default: all of `[collectors.*]`).
        #[arg(long, value_name = "NAME")]
        collector: Vec<String>,
        /// Stop once no collector read anything for this many seconds.
        #[arg(long, value_name = "SECS")]
        exit_when_idle: Option<u64>,
        /// Object collectors (s3, gcs, azure_blob listing): read everything
        /// up to now from the cursor (or `start_date`) with a progress bar,
        /// then stop. The cursor is the running collector's: no object is
        /// read twice.
        #[arg(long)]
        backfill: bool,
    },
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.service {
        Service::Normalize {
            config,
            exit_when_idle,
        } => normalize(config, exit_when_idle.map(Duration::from_secs)),
        Service::Archive {
            config,
            exit_when_idle,
        } => archive(config, exit_when_idle.map(Duration::from_secs)),
        Service::Sinks {
            config,
            sink,
            exit_when_idle,
        } => super::sinks::run(config, &sink, exit_when_idle.map(Duration::from_secs)),
        Service::Reports {
            config,
            report,
            once,
        } => super::report::run_scheduled(config, &report, once),
        Service::Ingest {
            config,
            collector,
            exit_when_idle,
            backfill,
        } => super::collect::run(
            config,
            &collector,
            RunFor {
                idle: exit_when_idle.map(Duration::from_secs),
                backfill,
            },
        ),
    }
}

fn normalize(path: PathBuf, idle: Option<Duration>) -> Result<ExitCode, Failure> {
    let config = load_config(Some(&path))?;
    let signer = load_signer_for(&path, &config)?;
    let stop = stop_flag()?;
    let kafka = connect(&config)?;
    if kafka.is_embedded() {
        eprintln!(
            "auditfed: kafka.bootstrap = \"embedded\": an in-process cluster, empty at start and lost at exit"
        );
    }
    let instance = config.normalize.instance_id();
    let mut normalizer = Normalizer::new(&kafka, &config.normalize, &instance, signer)?;
    eprintln!(
        "auditfed: normalizer {instance} in group {} on {}: consuming {}.raw.*",
        config.normalize.group_id(kafka.topics()),
        kafka.bootstrap(),
        config.kafka.topic_prefix
    );
    let started = std::time::Instant::now();
    let stats = normalizer.run_until(&stop, idle)?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "auditfed: normalizer stopped after {secs:.1} s: {} records, {} events, {} checkpoints, {} dead letters in {} transactions ({} aborted and retried)",
        stats.records,
        stats.events,
        stats.checkpoints,
        stats.dead_letters,
        stats.transactions,
        stats.aborted
    );
    Ok(ExitCode::SUCCESS)
}

fn archive(path: PathBuf, idle: Option<Duration>) -> Result<ExitCode, Failure> {
    let config = load_config(Some(&path))?;
    let stop = stop_flag()?;
    let kafka = connect(&config)?;
    let mut archiver = Archiver::from_config(&kafka, &config.archive)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "auditfed: archiving {} and {} into {}",
        kafka.topics().events(),
        kafka.topics().seals(),
        config.archive.path.display()
    );
    let stats = archiver.run(&stop, idle)?;
    eprintln!(
        "auditfed: archiver stopped: {} events in {} files, {} checkpoints ({} already archived, skipped)",
        stats.events, stats.files, stats.checkpoints, stats.skipped
    );
    Ok(ExitCode::SUCCESS)
}
