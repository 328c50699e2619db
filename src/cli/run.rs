//! `auditfed run normalize --config auditfed.toml`

use std::path::PathBuf;
use std::process::ExitCode;

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
    },
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    match args.service {
        Service::Normalize { config } => normalize(config),
    }
}

fn normalize(path: PathBuf) -> Result<ExitCode, String> {
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
        config.normalize.group_id,
        kafka.bootstrap(),
        config.kafka.topic_prefix
    );
    let stats = normalizer.run(&stop).map_err(|e| e.to_string())?;
    eprintln!(
        "auditfed: normalizer stopped: {} records, {} events, {} checkpoints, {} dead letters in {} transactions ({} aborted and retried)",
        stats.records,
        stats.events,
        stats.checkpoints,
        stats.dead_letters,
        stats.transactions,
        stats.aborted
    );
    Ok(ExitCode::SUCCESS)
}
