//! `auditfed verify --archive <dir|url> --keys <keyring> [--trusted-checkpoint FILE] [--json]`

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_query::object::Location;
use std::io::IsTerminal;

use auditfed_query::verify::{Progress, Report, VerifyOptions, verify_with_progress};
use auditfed_schemas::seal::{Keyring, SignedNote, format_time};

/// Arguments of `auditfed verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive: a directory, or a file://, s3://, gs:// or az:// URL
    /// (credentials from the environment, see docs/archive.md).
    #[arg(long)]
    archive: String,
    /// The keyring of pinned public keys (as written by `auditfed keygen`).
    #[arg(long)]
    keys: PathBuf,
    /// A checkpoint obtained earlier, independently of the archive: proves
    /// the archive was not truncated or rolled back since.
    #[arg(long)]
    trusted_checkpoint: Option<PathBuf>,
    /// Report chains whose newest checkpoint (heartbeats included) is older
    /// than this many seconds: their tail may have been cut off.
    #[arg(long)]
    max_checkpoint_age: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let store = Location::open_existing(&args.archive)
        .map_err(|e| format!("--archive {}: {e}", args.archive))?;
    let keyring = Keyring::load(&args.keys).map_err(|e| format!("--keys: {e}"))?;
    let mut options = VerifyOptions::new(keyring);
    if let Some(path) = &args.trusted_checkpoint {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--trusted-checkpoint {}: {e}", path.display()))?;
        let note = SignedNote::parse(&text)
            .map_err(|e| format!("--trusted-checkpoint {}: {e}", path.display()))?;
        options.trusted = Some(note);
    }
    if let Some(secs) = args.max_checkpoint_age {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        options.freshness = Some((now, secs as i64 * 1000));
    }
    // A progress line on a terminal only: logs and pipes get the report alone.
    let interactive = std::io::stderr().is_terminal();
    let show = |p: &Progress| {
        if interactive {
            eprint!(
                "\rverifying {}: {} events, {}/{} files ",
                p.chain, p.events, p.files_done, p.files_total
            );
        }
    };
    let report = verify_with_progress(store.as_ref(), &options, &show)?;
    if interactive {
        eprint!("\r\x1b[2K");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&store.describe(), &report);
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(root: &str, report: &Report) {
    let s = &report.summary;
    let span = match (s.first_time, s.last_time) {
        (Some(a), Some(b)) => format!("{} .. {}", format_time(a), format_time(b)),
        _ => "no events".to_owned(),
    };
    for f in &report.findings {
        println!("FAIL {f}");
    }
    println!(
        "{}: {} chain(s), {} event(s) in {} file(s), {} checkpoint(s), events {span}",
        root, s.chains, s.events, s.data_files, s.checkpoints
    );
    if report.is_clean() {
        println!("OK: complete and unaltered under the given keys");
    } else {
        println!("{} problem(s) found", report.findings.len());
    }
}
