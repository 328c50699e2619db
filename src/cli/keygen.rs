//! `auditfed keygen --out DIR [--name NAME]`: a new Ed25519 checkpoint-signing key.

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_schemas::seal::create_key;

/// Arguments of `auditfed keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the key pair; created if absent. Its `keyring` file
    /// (created if absent) gets the new public key appended.
    #[arg(long)]
    out: PathBuf,
    /// The key's name, as it appears in checkpoint signatures.
    #[arg(long, default_value = "auditfed")]
    name: String,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let key = create_key(&args.out, &args.name)?;
    println!("key id {} ({})", key.id, args.name);
    println!(
        "private key: {} (keep it secret; mode 0600)",
        key.private_key.display()
    );
    println!(
        "public key added to {}: {}",
        key.keyring.display(),
        key.public
    );
    Ok(ExitCode::SUCCESS)
}
