//! `auditfed run normalize --config auditfed.toml`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auditfed_normalize::service::Normalizer;

use super::service::{connect, load_config, load_signer, stop_flag};

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
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    match args.service {
        Service::Normalize {
            config,
            exit_when_idle,
        } => normalize(config, exit_when_idle.map(Duration::from_secs)),
    }
}

fn normalize(path: PathBuf, idle: Option<Duration>) -> Result<ExitCode, String> {
    let config = load_config(Some(&path))?;
    let signer = load_signer(&config).map_err(|problems| {
        problems
            .iter()
            .map(|p| format!("{}: {p}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let stop = stop_flag()?;
    let kafka = connect(&config)?;
    if kafka.is_embedded() {
        eprintln!(
            "auditfed: kafka.bootstrap = \"embedded\": an in-process cluster, empty at start and lost at exit"
        );
    }
    let instance = config.normalize.instance_id();
    let mut normalizer =
        Normalizer::new(&kafka, &config.normalize, &instance, signer).map_err(|e| e.to_string())?;
    eprintln!(
        "auditfed: normalizer {instance} in group {} on {}: consuming {}.raw.*",
        config.normalize.group_id(kafka.topics()),
        kafka.bootstrap(),
        config.kafka.topic_prefix
    );
    let started = std::time::Instant::now();
    let stats = normalizer
        .run_until(&stop, idle)
        .map_err(|e| e.to_string())?;
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
