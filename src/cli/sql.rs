//! `auditfed sql [--archive [NAME=]DIR]... [--format table|csv|json] "SELECT …"`

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_query::sql::{AUDIT_VIEWS, Archive, Catalog, OutputFormat, render};

use auditfed_schemas::config::Config;

use super::service::load_config;

/// The `--archive` flags, else the config's archives.
pub fn archives(flags: &[String], config: &Config) -> Vec<Archive> {
    if flags.is_empty() {
        config
            .query_archives()
            .iter()
            .map(|(name, location)| Archive::new(name, location))
            .collect()
    } else {
        flags.iter().map(|a| Archive::parse(a)).collect()
    }
}

/// Arguments of `auditfed sql`.
#[derive(Debug, clap::Args)]
#[command(after_help = views_help())]
pub struct Args {
    /// An archive to query, `DIR`, `URL` or `NAME=DIR|URL`; repeat to query
    /// several as one `events` table (the `archive` column says where each
    /// row lives). Default: `sql.archives` of --config, else its
    /// `archive.path`, else ./auditfed-data/archive.
    #[arg(long)]
    archive: Vec<String>,
    /// The configuration file whose archive to query.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The sinks' delivery receipts (`receipts` table, `undelivered` view):
    /// a directory or URL. Default: `archive.receipts_path` of --config.
    #[arg(long)]
    receipts: Option<String>,
    /// The API pollers' coverage (`coverage` table, `coverage_gaps` view):
    /// a directory or URL. Default: `archive.coverage_path` of --config.
    #[arg(long)]
    coverage: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// The SQL statement.
    sql: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn views_help() -> String {
    let mut s = String::from("Tables: `events` (all archives), and the views:\n");
    for (name, doc, _) in AUDIT_VIEWS {
        s += &format!("  {name:<24} {doc}\n");
    }
    s
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let config = load_config(args.config.as_deref())?;
    let archives = archives(&args.archive, &config);
    let receipts = args.receipts.or(config.archive.receipts_path.clone());
    let coverage = args.coverage.or(config.archive.coverage_path.clone());
    let catalog = Catalog::with_side_tables(&archives, receipts.as_deref(), coverage.as_deref())?;
    let batches = catalog.query(&args.sql)?;
    let format = match args.format {
        Format::Table => OutputFormat::Table,
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
    };
    print!("{}", render(&batches, format)?);
    if format == OutputFormat::Table {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}
