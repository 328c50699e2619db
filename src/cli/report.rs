//! `auditfed report run|verify|packs`: audit reports as signed evidence bundles.

use super::Failure;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_query::object::Location;
use auditfed_query::report::bundle::{SideLocations, rerun, verify_bundle};
use auditfed_query::report::pack::{BUILT_IN, Pack};
use auditfed_query::report::service::{Job, produce};
use auditfed_query::sql::Archive;
use auditfed_schemas::seal::Keyring;

use super::service::{load_config, load_signer, load_signer_for, select_named, stop_flag};
use super::sql::archives;

/// Arguments of `auditfed report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run a pack over the archive for a period and write a signed bundle
    /// (report.html, report.pdf, findings.json, one CSV per control,
    /// manifest.json + manifest.sig).
    Run(RunArgs),
    /// Check a bundle: signature, every file's hash, the checkpoints it
    /// names; with --rerun, re-execute it over the archive restricted to
    /// those checkpoints and prove the results identical. Exit 1 on any problem.
    Verify(VerifyArgs),
    /// List the built-in packs and their controls, or check a pack
    /// (--pack NAME|DIR|FILE): its structure, parameters and every query planned.
    Packs {
        /// A pack to check instead of listing.
        #[arg(long)]
        pack: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// A built-in pack (`auditfed report packs`), a pack file or a directory.
    #[arg(long)]
    pack: String,
    /// Start of the period, inclusive: RFC 3339 (`2026-11-01T00:00:00Z`) or a UTC date (`2026-11-01`).
    #[arg(long)]
    from: String,
    /// End of the period, exclusive (same forms).
    #[arg(long)]
    to: String,
    /// Where to write the bundle: a directory or an s3://, gs://, az:// URL.
    #[arg(long)]
    out: String,
    /// An archive (`DIR`, `URL` or `NAME=DIR|URL`), repeatable. Default:
    /// the config's archives, else ./auditfed-data/archive.
    #[arg(long)]
    archive: Vec<String>,
    /// The configuration file: archives, keys, receipts and coverage paths.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The keyring of pinned public keys. Default: `keys.keyring` of the config.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// The Ed25519 key (PKCS#8 PEM) that signs the manifest; its name is the
    /// file stem. Default: `keys.signing_key` of the config (the checkpoint key).
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// The sinks' delivery receipts. Default: `archive.receipts_path`.
    #[arg(long)]
    receipts: Option<String>,
    /// The pollers' coverage. Default: `archive.coverage_path`.
    #[arg(long)]
    coverage: Option<String>,
    /// A declared parameter of the pack, `NAME=VALUE` (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    param: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The bundle: a directory or an object-store URL.
    bundle: String,
    /// The keyring of pinned public keys.
    #[arg(long)]
    keys: PathBuf,
    /// Re-run every control over the archive, restricted to the checkpoints
    /// the manifest names, and compare.
    #[arg(long)]
    rerun: bool,
    /// With --rerun: where an archive of the report is now, `NAME=DIR|URL`
    /// (default: the locations in the manifest).
    #[arg(long)]
    archive: Vec<String>,
    /// With --rerun: the receipts' location (default: the manifest's).
    #[arg(long)]
    receipts: Option<String>,
    /// With --rerun: the coverage's location (default: the manifest's).
    #[arg(long)]
    coverage: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Parses `2026-11-01T00:00:00Z` (any RFC 3339 offset) or `2026-11-01` (UTC midnight).
pub fn parse_time(flag: &str, text: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    Err(format!(
        "{flag} {text}: expected an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)"
    ))
}

/// `NAME=VALUE` pairs of `--param`.
pub fn parse_params(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| format!("--param {p}: expected NAME=VALUE"))
        })
        .collect()
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        Command::Run(args) => run_report(args),
        Command::Verify(args) => verify(args),
        Command::Packs { pack } => packs(pack),
    }
}

fn run_report(args: RunArgs) -> Result<ExitCode, Failure> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(keys) = &args.keys {
        config.keys.keyring = keys.clone();
    }
    if let Some(key) = &args.signing_key {
        config.keys.signing_key = key.clone();
    }
    let signer = load_signer(&config).map_err(|problems| {
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let keyring = Keyring::load(&config.keys.keyring)
        .map_err(|e| format!("--keys {}: {e}", config.keys.keyring.display()))?;
    let (from_ms, to_ms) = (
        parse_time("--from", &args.from)?,
        parse_time("--to", &args.to)?,
    );
    let job = Job {
        pack: args.pack,
        params: parse_params(&args.param)?,
        from_ms,
        to_ms,
        archives: archives(&args.archive, &config),
        sides: SideLocations {
            receipts: args.receipts.or(config.archive.receipts_path.clone()),
            coverage: args.coverage.or(config.archive.coverage_path.clone()),
        },
        keyring,
        signer: signer.as_ref(),
        dead_letters: match &args.config {
            Some(_) => dead_letters(&config, from_ms, to_ms),
            None => None,
        },
        out: args.out.clone(),
    };
    let manifest = produce(&job)?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in &manifest.controls {
        *counts.entry(c.status.to_string()).or_default() += 1;
    }
    for flag in &manifest.flags {
        println!("FLAG {flag}");
    }
    println!(
        "{}: {} control(s): {}",
        args.out,
        manifest.controls.len(),
        counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("report: {}/report.html", args.out.trim_end_matches('/'));
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let keyring =
        Keyring::load(&args.keys).map_err(|e| format!("--keys {}: {e}", args.keys.display()))?;
    let store = Location::open_existing(&args.bundle)
        .map_err(|e| format!("bundle {}: {e}", args.bundle))?;
    let (manifest, mut findings) = verify_bundle(store.as_ref(), &keyring)?;
    if args.rerun {
        match &manifest {
            None => return Err("--rerun: the bundle has no readable manifest".into()),
            Some(m) => {
                let mut locations = m.archives.clone();
                for spec in &args.archive {
                    let a = Archive::parse(spec);
                    match locations.iter_mut().find(|(n, _)| *n == a.name) {
                        Some(entry) => entry.1 = a.location,
                        None => {
                            return Err(format!(
                                "--archive {spec}: the report has no archive named `{}` (it has: {})",
                                a.name,
                                m.archives
                                    .iter()
                                    .map(|(n, _)| n.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                            .into());
                        }
                    }
                }
                let sides = SideLocations {
                    receipts: args.receipts.clone(),
                    coverage: args.coverage.clone(),
                };
                findings.extend(rerun(m, &locations, &keyring, &sides)?);
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "bundle": args.bundle,
                "verified": findings.is_empty(),
                "rerun": args.rerun,
                "findings": findings,
            })
        );
    } else {
        for f in &findings {
            println!("FAIL {f}");
        }
        if let Some(m) = &manifest {
            println!(
                "{}: {} {} from {} to {}, {} control(s), {} file(s), {} chain(s) pinned",
                args.bundle,
                m.pack.header.name,
                m.pack.header.version,
                m.from,
                m.to,
                m.controls.len(),
                m.files.len(),
                m.archive_state.chains.len()
            );
        }
        if findings.is_empty() {
            println!(
                "OK: signed by a trusted key, every file as signed{}",
                if args.rerun {
                    "; re-run over the pinned archive gives identical results"
                } else {
                    ""
                }
            );
        } else {
            println!("{} problem(s) found", findings.len());
        }
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn packs(pack: Option<String>) -> Result<ExitCode, Failure> {
    if let Some(spec) = pack {
        let pack = Pack::load(&spec)?;
        auditfed_query::report::run::validate(&pack)?;
        println!(
            "{spec}: valid ({} {}, {} control(s), every query planned)",
            pack.header.name,
            pack.header.version,
            pack.controls.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (name, _) in BUILT_IN {
        let pack = Pack::load(name)?;
        println!("{name} {}: {}", pack.header.version, pack.header.title);
        for c in &pack.controls {
            println!(
                "  {:<22} {}{}",
                c.id,
                c.title,
                match (&c.sql, &c.manual) {
                    (None, _) => " (manual)",
                    (Some(_), Some(_)) => " (query + manual evidence)",
                    _ => "",
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The dead letters of a period from the config's Kafka (`None`, with a
/// warning, when it is embedded or cannot be read).
fn dead_letters(
    config: &auditfed_schemas::config::Config,
    from_ms: i64,
    to_ms: i64,
) -> Option<Vec<auditfed_query::report::run::DeadLetters>> {
    if config.kafka.bootstrap == "embedded" {
        return None;
    }
    let counted = auditfed_platform::kafka::Kafka::connect(&config.kafka)
        .map_err(auditfed_query::QueryError::from)
        .and_then(|kafka| {
            let topic = kafka.topics().dlq();
            auditfed_query::report::service::dead_letters(&kafka, &topic, from_ms, to_ms)
        });
    match counted {
        Ok(list) => Some(list),
        Err(e) => {
            eprintln!("auditfed: dead letters not checked: {e}");
            None
        }
    }
}

/// `auditfed run reports --config FILE [--report NAME]... [--once]`.
pub fn run_scheduled(path: PathBuf, only: &[String], once: bool) -> Result<ExitCode, Failure> {
    use auditfed_query::report::schedule::{Context, parse_reports, run_schedules};
    let config = load_config(Some(&path))?;
    let all = archives(&[], &config);
    let names: Vec<String> = all.iter().map(|a| a.name.clone()).collect();
    let reports = select_named(
        &path,
        "reports",
        parse_reports(&config.reports, &names),
        |r| r.name.as_str(),
        only,
    )?;
    if reports.is_empty() {
        return Err(format!("{}: no [reports.*] table", path.display()).into());
    }
    let signer = load_signer_for(&path, &config)?;
    let keyring = Keyring::load(&config.keys.keyring)
        .map_err(|e| format!("{}: keys.keyring: {e}", path.display()))?;
    let stop = stop_flag()?;
    let count = |from: i64,
                 to: i64|
     -> Result<
        Vec<auditfed_query::report::run::DeadLetters>,
        auditfed_query::QueryError,
    > {
        let kafka = auditfed_platform::kafka::Kafka::connect(&config.kafka)?;
        let topic = kafka.topics().dlq();
        auditfed_query::report::service::dead_letters(&kafka, &topic, from, to)
    };
    let ctx = Context {
        archives: all,
        sides: SideLocations {
            receipts: config.archive.receipts_path.clone(),
            coverage: config.archive.coverage_path.clone(),
        },
        keyring,
        signer: signer.as_ref(),
        dead_letters: if config.kafka.bootstrap == "embedded" {
            None
        } else {
            Some(&count)
        },
    };
    run_schedules(&reports, &ctx, &stop, once)?;
    Ok(ExitCode::SUCCESS)
}
