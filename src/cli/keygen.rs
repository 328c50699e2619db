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
    let key = create(&args.out, &args.name)?;
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

/// A key written by [`create`].
pub struct CreatedKey {
    pub id: String,
    pub public: String,
    pub private_key: PathBuf,
    pub keyring: PathBuf,
}

/// Writes `<out>/<name>.key` (0600) and appends its public key to `<out>/keyring`.
pub fn create(out: &Path, name: &str) -> Result<CreatedKey, String> {
    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let key_path = out.join(format!("{name}.key"));
    let keyring_path = out.join("keyring");
    let existing = match fs::read_to_string(&keyring_path) {
        Ok(text) => {
            Keyring::parse(&text).map_err(|e| format!("{}: {e}", keyring_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Keyring::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", keyring_path.display())),
    };
    let (pem, vkey) = generate_key(name).map_err(|e| e.to_string())?;
    if existing
        .keys()
        .iter()
        .any(|k| k.name() == name && k.id() == vkey.id())
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
    Ok(CreatedKey {
        id: vkey.id().to_string(),
        public: vkey.to_string(),
        private_key: key_path,
        keyring: keyring_path,
    })
}

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
