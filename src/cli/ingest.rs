//! `auditfed ingest file --source <type> PATH...`

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auditfed_ingest::file::ingest_file;
use auditfed_ingest::raw::RawProducer;
use auditfed_schemas::SourceType;

use super::service::{connect, load_config};

/// Arguments of `auditfed ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    collector: Collector,
}

#[derive(Debug, clap::Subcommand)]
enum Collector {
    /// Stream files (plain or gzip, any size) into `<prefix>.raw.<source>`,
    /// one record per source event; unreadable pieces go to the dead-letter topic.
    File {
        /// The source type of every file.
        #[arg(long)]
        source: SourceType,
        /// The configuration file; without it, the defaults of examples/auditfed.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let Collector::File {
        source,
        config,
        paths,
    } = args.collector;
    let config = load_config(config.as_deref())?;
    let kafka = connect(&config)?;
    let producer = RawProducer::new(&kafka, &config.ingest.collector_id)?;
    let now = auditfed_platform::clock::now_ms();
    let (mut records, mut rejected, mut bytes) = (0, 0, 0);
    for path in &paths {
        let stats = ingest_file(path, source, &producer, config.ingest.max_record_bytes, now)?;
        eprintln!(
            "{}: {} records, {} rejected to {}",
            path.display(),
            stats.records,
            stats.rejected,
            kafka.topics().dlq()
        );
        records += stats.records;
        rejected += stats.rejected;
        bytes += stats.bytes;
    }
    let report = producer.flush(Duration::from_secs(120))?;
    if report.failed > 0 {
        return Err(format!(
            "{} of {} records were not acknowledged by Kafka (first error: {})",
            report.failed,
            records + rejected,
            report.first_error.unwrap_or_default()
        )
        .into());
    }
    eprintln!(
        "ingested {records} records ({bytes} bytes) into {}, {rejected} to {}; all acknowledged",
        kafka.topics().raw(source.as_str()),
        kafka.topics().dlq()
    );
    Ok(if rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
