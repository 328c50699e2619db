//! `auditfed prove` and `auditfed verify-proof`: single-event inclusion proofs.

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_query::proof::{EventSelector, prove};
use auditfed_schemas::seal::{InclusionProof, Keyring};

use auditfed_query::object::Location;

/// Arguments of `auditfed prove`.
#[derive(Debug, clap::Args)]
pub struct ProveArgs {
    /// The archive: a directory, or a file://, s3://, gs:// or az:// URL
    /// (credentials from the environment, see docs/archive.md).
    #[arg(long)]
    archive: String,
    /// The event: its `metadata.uid`, or `chain:seq`.
    #[arg(long)]
    event: String,
    /// Write the bundle here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `auditfed verify-proof`.
#[derive(Debug, clap::Args)]
pub struct VerifyProofArgs {
    /// The proof bundle (JSON) written by `auditfed prove`.
    file: PathBuf,
    /// The keyring of pinned public keys.
    #[arg(long)]
    keys: PathBuf,
}

pub fn run_prove(args: ProveArgs) -> Result<ExitCode, Failure> {
    let store = Location::open_existing(&args.archive)
        .map_err(|e| format!("--archive {}: {e}", args.archive))?;
    let proof = prove(store.as_ref(), &EventSelector::parse(&args.event))?;
    let json = serde_json::to_string_pretty(&proof)? + "\n";
    match &args.out {
        Some(path) => {
            std::fs::write(path, json).map_err(|e| format!("--out {}: {e}", path.display()))?;
            eprintln!(
                "proof of {}:{} written to {}",
                proof.chain,
                proof.seq,
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_verify_proof(args: VerifyProofArgs) -> Result<ExitCode, Failure> {
    let keyring = Keyring::load(&args.keys).map_err(|e| format!("--keys: {e}"))?;
    let text =
        std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let proof: InclusionProof = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a proof bundle: {e}", args.file.display()))?;
    match proof.verify(&keyring) {
        Ok(proven) => {
            println!(
                "OK: event {}:{} is included in the checkpoint of {}..={} signed by {} ({})",
                proof.chain,
                proof.seq,
                proven.checkpoint.first,
                proven.checkpoint.last,
                proven.key.name(),
                proven.key.id()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAIL {}: {e}", args.file.display());
            Ok(ExitCode::from(1))
        }
    }
}
