//! `auditfed keygen --out DIR [--name NAME]`: a new Ed25519 checkpoint-signing key.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use auditfed_schemas::seal::{Keyring, generate_key};

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

pub fn run(args: Args) -> Result<ExitCode, String> {
    fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let key_path = args.out.join(format!("{}.key", args.name));
    let keyring_path = args.out.join("keyring");
    // Read the keyring first: never write a key next to a keyring we cannot update.
    let existing = match fs::read_to_string(&keyring_path) {
        Ok(text) => {
            Keyring::parse(&text).map_err(|e| format!("{}: {e}", keyring_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Keyring::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", keyring_path.display())),
    };
    let (pem, vkey) = generate_key(&args.name).map_err(|e| e.to_string())?;
    if existing
        .keys()
        .iter()
        .any(|k| k.name() == args.name && k.id() == vkey.id())
    {
        return Err(format!(
            "{}: key id {} is already in the keyring",
            keyring_path.display(),
            vkey.id()
        ));
    }
    write_private_key(&key_path, &pem)?;
    let mut keyring = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&keyring_path)
        .map_err(|e| format!("cannot open {}: {e}", keyring_path.display()))?;
    writeln!(keyring, "{vkey}")
        .map_err(|e| format!("cannot write {}: {e}", keyring_path.display()))?;
    println!("key id {} ({})", vkey.id(), args.name);
    println!(
        "private key: {} (keep it secret; mode 0600)",
        key_path.display()
    );
    println!("public key added to {}: {vkey}", keyring_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes the PEM with mode 0600, refusing to overwrite an existing key.
fn write_private_key(path: &Path, pem: &str) -> Result<(), String> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            format!(
                "{} already exists: keys are never overwritten; choose another --name",
                path.display()
            )
        }
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(pem.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
