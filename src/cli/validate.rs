//! `auditfed validate --config FILE`: every problem, each with its key path.

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_platform::kafka::Kafka;
use auditfed_schemas::config::{Config, Problem};

use super::service::load_signer;

/// Arguments of `auditfed validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long)]
    config: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let path = &args.config;
    let mut problems: Vec<Problem> = Vec::new();
    match Config::load(path) {
        Err(e) => problems = e.problems,
        Ok(config) => {
            if let Err(p) = load_signer(&config) {
                problems.extend(p);
            }
            if let Err(p) = auditfed_schemas::policy::load::from_config(
                &config.policies,
                std::path::Path::new("."),
            ) {
                problems.extend(p);
            }
            match auditfed_sinks::config::parse_sinks(&config.sinks) {
                Err(p) => problems.extend(p),
                Ok(sinks) => {
                    for sink in sinks.iter().filter(|s| !s.kind.policy().is_open()) {
                        eprintln!(
                            "{}: note: [sinks.{}.policy] is applied as the policy pack \"sinks.{}.policy\" (version config); see docs/policy.md to write it as a [policies.<name>] pack",
                            path.display(),
                            sink.name,
                            sink.name
                        );
                    }
                }
            }
            if let Err(p) = auditfed_ingest::collectors::parse_collectors(&config.collectors) {
                problems.extend(p);
            }
            let archives: Vec<String> = super::sql::archives(&[], &config)
                .into_iter()
                .map(|a| a.name)
                .collect();
            if let Err(p) =
                auditfed_query::report::schedule::parse_reports(&config.reports, &archives)
            {
                problems.extend(p);
            }
            if config.kafka.bootstrap != "embedded" {
                match Kafka::connect(&config.kafka) {
                    Ok(kafka) => {
                        for (name, message) in kafka.check_properties() {
                            problems.push(Problem {
                                key: format!("kafka.properties.\"{name}\""),
                                message,
                            });
                        }
                    }
                    Err(e) => problems.push(Problem {
                        key: "kafka".into(),
                        message: e.to_string(),
                    }),
                }
            }
        }
    }
    if problems.is_empty() {
        println!("{}: valid", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{}: {p}", path.display());
    }
    eprintln!("{} problem(s)", problems.len());
    Ok(ExitCode::from(1))
}
