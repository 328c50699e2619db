//! `auditfed policy test` and `auditfed policy explain`: a pack's own
//! examples, and every rule's decision on one event (docs/policy.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use auditfed_query::sql::{Catalog, OutputFormat, render};
use auditfed_schemas::config::{Config, Problem};
use auditfed_schemas::policy::{Facts, Pack, Policies, cases, load};
use clap::Subcommand;

use super::Failure;

/// Arguments of `auditfed policy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the example cases (`[[test]]`) of packs: a pack file, a directory
    /// of them, or the packs of a config; exit 1 when one fails.
    Test(TestArgs),
    /// Print every rule's decision on one event and the rule that made it.
    Explain(ExplainArgs),
}

#[derive(Debug, clap::Args)]
struct TestArgs {
    /// A pack file or a directory of `*.toml` packs.
    path: Option<PathBuf>,
    /// The `[policies.*]` packs of this configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// The `[policies.*]` packs of this configuration file (and its archive, for --uid).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Pack files or directories to explain with (instead of, or with, the config's).
    #[arg(long)]
    pack: Vec<PathBuf>,
    /// A JSON file holding the event (a sealed event or any OCSF event).
    #[arg(long, conflicts_with = "uid")]
    event: Option<PathBuf>,
    /// The event's `metadata.uid`, looked up in the archive.
    #[arg(long)]
    uid: Option<String>,
    /// The archive searched by --uid (default: the config's archive).
    #[arg(long)]
    archive: Option<String>,
    /// The egress target asked about: `sink:<name>`, `report:<pack>`, `export`, `role:<name>`.
    #[arg(long, default_value = "sink:any")]
    target: String,
    /// The event's source type (found in the archive with --uid).
    #[arg(long)]
    source_type: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        Command::Test(args) => test(args),
        Command::Explain(args) => explain(args),
    }
}

fn problems(at: &Path, problems: Vec<Problem>) -> Failure {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {p}", at.display()))
        .collect();
    lines.join("\n").into()
}

/// The config's packs, in the order stages evaluate them.
fn config_packs(path: &Path) -> Result<(Config, Vec<Pack>), Failure> {
    let config = Config::load(path)?;
    let policies =
        load::from_config(&config.policies, Path::new(".")).map_err(|p| problems(path, p))?;
    Ok((config, policies.packs().to_vec()))
}

fn test(args: TestArgs) -> Result<ExitCode, Failure> {
    let mut packs: Vec<(PathBuf, Pack)> = Vec::new();
    if let Some(path) = &args.path {
        packs.extend(load::read_path(path).map_err(|p| problems(path, p))?);
    }
    if let Some(config) = &args.config {
        let base = config.parent().unwrap_or(Path::new(".")).to_path_buf();
        packs.extend(
            config_packs(config)?
                .1
                .into_iter()
                .map(|p| (base.clone(), p)),
        );
    }
    if args.path.is_none() && args.config.is_none() {
        return Err("give a pack file or directory, or --config FILE".into());
    }
    let (mut passed, mut failed) = (0, 0);
    for (path, pack) in &packs {
        let base = if path.is_dir() {
            path.as_path()
        } else {
            path.parent().unwrap_or(Path::new("."))
        };
        for result in cases::run(pack, base) {
            if result.failures.is_empty() {
                passed += 1;
                println!("ok      {}@{}: {}", pack.name, pack.version, result.name);
            } else {
                failed += 1;
                println!("FAILED  {}@{}: {}", pack.name, pack.version, result.name);
                for f in &result.failures {
                    println!("        {f}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed ({} pack(s))", packs.len());
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn explain(args: ExplainArgs) -> Result<ExitCode, Failure> {
    let mut packs = Vec::new();
    let mut config = None;
    if let Some(path) = &args.config {
        let (c, p) = config_packs(path)?;
        packs.extend(p);
        config = Some(c);
    }
    for path in &args.pack {
        packs.extend(
            load::read_path(path)
                .map_err(|p| problems(path, p))?
                .into_iter()
                .map(|(_, p)| p),
        );
    }
    if packs.is_empty() {
        return Err("no pack: give --config FILE (with [policies.*]) or --pack PATH".into());
    }
    let (event, found_source) = match (&args.event, &args.uid) {
        (Some(file), None) => {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let event: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a JSON event: {e}", file.display()))?;
            (event, None)
        }
        (None, Some(uid)) => lookup(uid, args.archive.as_deref(), config.as_ref())?,
        _ => return Err("give --event FILE or --uid UID".into()),
    };
    let source = args.source_type.clone().or(found_source);
    let policies = Policies::new(packs);
    let facts = Facts::of(&event, source.as_deref());
    println!(
        "event {} (class {}, source {}) to {}",
        facts.columns.event_uid.unwrap_or("-"),
        facts.columns.class_uid,
        source.as_deref().unwrap_or("unknown"),
        args.target
    );
    for e in policies.explain(&args.target, &facts) {
        let mark = if e.matched { "applies" } else { "-      " };
        println!(
            "{mark}  {} [{}] {}",
            e.rule.id(),
            e.action.as_str(),
            e.effect
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The archived event with `metadata.uid` = `uid`, and its source type.
fn lookup(
    uid: &str,
    archive: Option<&str>,
    config: Option<&Config>,
) -> Result<(serde_json::Value, Option<String>), Failure> {
    let flags: Vec<String> = archive.map(str::to_owned).into_iter().collect();
    let default = Config::default();
    let archives = super::sql::archives(&flags, config.unwrap_or(&default));
    let catalog = Catalog::new(&archives)?;
    let sql = format!(
        "SELECT event_json, source_type FROM events WHERE event_uid = '{}' LIMIT 1",
        uid.replace('\'', "''")
    );
    let rows = render(&catalog.query(&sql)?, OutputFormat::Json)?;
    let Some(row) = rows.lines().next() else {
        return Err(format!("no archived event has metadata.uid {uid:?}").into());
    };
    let row: serde_json::Value = serde_json::from_str(row)?;
    let event = serde_json::from_str(row["event_json"].as_str().unwrap_or("{}"))?;
    Ok((event, row["source_type"].as_str().map(str::to_owned)))
}
