//! Subcommands.

mod collect;
mod ingest;
pub(crate) mod keygen;
mod normalize;
mod policy;
mod prove;
mod quickstart;
mod replay;
mod report;
mod run;
mod schema;
mod serve;
mod service;
mod sinks;
mod sql;
mod validate;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// auditfed — collect, normalize to OCSF, seal, archive, query and forward audit logs.
#[derive(Debug, Parser)]
#[command(name = "auditfed", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How services write their diagnostics to stderr: `text` for people,
    /// `json` (one object per line, with fields and spans) for log
    /// shippers. `RUST_LOG` filters them (default `info`, e.g.
    /// `RUST_LOG=auditfed_ingest=debug`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The format of diagnostics (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event: time, level, where, message, fields.
    Text,
    /// One JSON object per line: timestamp, level, target, fields, spans.
    Json,
}

/// Routes the library crates' `tracing` diagnostics to stderr in `format`.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Normalize audit records to OCSF 1.8.0, one JSON event per line on stdout.
    Normalize(normalize::Args),
    /// Print the supported sources, the OCSF classes and the archive's Arrow schema.
    Schema(schema::Args),
    /// Generate an Ed25519 checkpoint-signing key and add it to DIR/keyring.
    Keygen(keygen::Args),
    /// Verify that an archive is complete and unaltered; exit 1 with one finding per problem.
    Verify(verify::Args),
    /// Write an inclusion-proof bundle (JSON) for one archived event.
    Prove(prove::ProveArgs),
    /// Check an inclusion-proof bundle offline against pinned keys.
    VerifyProof(prove::VerifyProofArgs),
    /// Produce raw records into Kafka (`<prefix>.raw.<source>`).
    Ingest(ingest::Args),
    /// Run a service (`auditfed run normalize --config auditfed.toml`).
    Run(run::Args),
    /// Check a configuration file: every problem, with its key path.
    Validate(validate::Args),
    /// Run SQL over one or more archives (`events` and the audit views).
    Sql(sql::Args),
    /// The whole pipeline in one command, no service needed: embedded Kafka,
    /// bundled samples, archive under ./auditfed-data, SQL and verification.
    Quickstart(quickstart::Args),
    /// Run a server (`auditfed serve sql`: PostgreSQL wire protocol over the archives).
    Serve(serve::Args),
    /// Audit reports: run a control pack into a signed evidence bundle
    /// (`report run`), check one (`report verify [--rerun]`), list packs.
    Report(report::Args),
    /// Policy packs: run their example cases (`policy test`), explain every
    /// rule's decision on one event (`policy explain`).
    Policy(policy::Args),
    /// Forward a time range again to one sink, from the events topic or the
    /// archive (after a SIEM lost data); receipts say `"mode":"replay"`.
    Replay(replay::Args),
}

/// What a command failed with: any crate's error, printed as its message
/// (`auditfed: <message>`, exit 2), or a message of the command line's own.
pub type Failure = Box<dyn std::error::Error>;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Normalize(args) => normalize::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Prove(args) => prove::run_prove(args),
        Command::VerifyProof(args) => prove::run_verify_proof(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Report(args) => report::run(args),
        Command::Policy(args) => policy::run(args),
    }
}
