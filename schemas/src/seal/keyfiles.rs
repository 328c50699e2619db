//! Keys on disk: the keyring file (loaded, appended to, checked against a
//! signer), new key pairs (`auditfed keygen`), and the signer of `[keys]`.
//! Every service and command reads keys through here, so the rules (a
//! private key is never overwritten and is written 0600; a signer must be
//! pinned in the keyring its checkpoints are verified with) hold everywhere.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::SealError;
use super::keys::{FileSigner, Keyring, Signer, VerifierKey, generate_key};
use crate::config::{KeysConfig, Problem};

/// A key or keyring file that cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file or folder could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not a key or keyring.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and on which line.
        #[source]
        source: SealError,
    },
    /// A keyring without a key verifies nothing.
    #[error("{}: the keyring holds no key", path.display())]
    Empty {
        /// The keyring.
        path: PathBuf,
    },
    /// The key is in the keyring already.
    #[error("{}: key id {id} is already in the keyring", path.display())]
    Duplicate {
        /// The keyring.
        path: PathBuf,
        /// The key's id.
        id: String,
    },
    /// Private keys are never overwritten.
    #[error("{} already exists: keys are never overwritten; choose another --name", path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// The signer's public key is not pinned in the keyring.
    #[error(
        "{} does not hold the public key of {} ({public}): its checkpoints could not be verified",
        keyring.display(),
        key.display()
    )]
    NotPinned {
        /// The keyring.
        keyring: PathBuf,
        /// The signing key's file.
        key: PathBuf,
        /// Its public key.
        public: String,
    },
}

impl Keyring {
    /// Reads the keyring at `path`; one that holds no key is an error.
    pub fn load(path: &Path) -> Result<Keyring, KeyFileError> {
        let keyring = Keyring::load_or_empty(path, false)?;
        if keyring.keys().is_empty() {
            return Err(KeyFileError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(keyring)
    }

    /// Reads the keyring at `path`; with `missing_ok`, a file that does not
    /// exist is an empty keyring.
    pub fn load_or_empty(path: &Path, missing_ok: bool) -> Result<Keyring, KeyFileError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Keyring::default());
            }
            Err(source) => {
                return Err(KeyFileError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Keyring::parse(&text).map_err(|source| KeyFileError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    /// Appends `key` to the keyring file at `path` (created if absent);
    /// a key already there is refused.
    pub fn append(path: &Path, key: &VerifierKey) -> Result<(), KeyFileError> {
        let existing = Keyring::load_or_empty(path, true)?;
        if existing.find(key.name(), key.id()).is_some() {
            return Err(KeyFileError::Duplicate {
                path: path.to_owned(),
                id: key.id().to_string(),
            });
        }
        let write = |source| KeyFileError::Write {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(write)?;
        writeln!(file, "{key}").map_err(write)
    }

    /// Whether `signer`'s public key is pinned here.
    pub fn pins(&self, signer: &dyn Signer) -> bool {
        let public = signer.verifier_key();
        self.keys().iter().any(|k| k == &public)
    }
}

/// A key pair written by [`create_key`].
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The key id.
    pub id: String,
    /// The public key, as a keyring line.
    pub public: String,
    /// The private key file (`<out>/<name>.key`, mode 0600).
    pub private_key: PathBuf,
    /// The keyring its public key was appended to (`<out>/keyring`).
    pub keyring: PathBuf,
}

/// Generates a key pair named `name`: writes `<out>/<name>.key` (0600,
/// never over an existing file) and appends its public key to
/// `<out>/keyring`.
pub fn create_key(out: &Path, name: &str) -> Result<CreatedKey, KeyFileError> {
    fs::create_dir_all(out).map_err(|source| KeyFileError::Write {
        path: out.to_owned(),
        source,
    })?;
    let key_path = out.join(format!("{name}.key"));
    let keyring_path = out.join("keyring");
    let (pem, public) = generate_key(name).map_err(|source| KeyFileError::Invalid {
        path: key_path.clone(),
        source,
    })?;
    // Checked before the private key is written: a refused key leaves nothing behind.
    if Keyring::load_or_empty(&keyring_path, true)?
        .find(name, public.id())
        .is_some()
    {
        return Err(KeyFileError::Duplicate {
            path: keyring_path,
            id: public.id().to_string(),
        });
    }
    write_private_key(&key_path, &pem)?;
    Keyring::append(&keyring_path, &public)?;
    Ok(CreatedKey {
        id: public.id().to_string(),
        public: public.to_string(),
        private_key: key_path,
        keyring: keyring_path,
    })
}

fn write_private_key(path: &Path, pem: &str) -> Result<(), KeyFileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => KeyFileError::Exists {
            path: path.to_owned(),
        },
        _ => KeyFileError::Write {
            path: path.to_owned(),
            source,
        },
    })?;
    file.write_all(pem.as_bytes())
        .map_err(|source| KeyFileError::Write {
            path: path.to_owned(),
            source,
        })
}

/// The signer of `[keys]`: its private key, checked to be pinned in the
/// configured keyring. Problems name `keys.signing_key` or `keys.keyring`.
pub fn load_signer(keys: &KeysConfig) -> Result<FileSigner, Vec<Problem>> {
    let problem = |key: &str, message: String| {
        vec![Problem {
            key: key.into(),
            message,
        }]
    };
    let pem = fs::read_to_string(&keys.signing_key).map_err(|e| {
        problem(
            "keys.signing_key",
            format!(
                "cannot read {}: {e} (create a key with `auditfed keygen --out {}`)",
                keys.signing_key.display(),
                keys.signing_key
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_owned)
                    .display()
            ),
        )
    })?;
    let signer = FileSigner::from_pem(&keys.signing_key_name(), &pem).map_err(|e| {
        problem(
            "keys.signing_key",
            format!("{}: {e}", keys.signing_key.display()),
        )
    })?;
    let keyring = Keyring::load_or_empty(&keys.keyring, false)
        .map_err(|e| problem("keys.keyring", e.to_string()))?;
    if !keyring.pins(&signer) {
        let e = KeyFileError::NotPinned {
            keyring: keys.keyring.clone(),
            key: keys.signing_key.clone(),
            public: signer.verifier_key().to_string(),
        };
        return Err(problem("keys.keyring", e.to_string()));
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("auditfed-keyfiles-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_created_key_is_pinned_and_never_overwritten() {
        let dir = temp_dir("create");
        let key = create_key(&dir, "ops").unwrap();
        let second = create_key(&dir, "ops2").unwrap();
        let keyring = Keyring::load(&key.keyring).unwrap();
        assert_eq!(keyring.keys().len(), 2);
        let signer =
            FileSigner::from_pem("ops", &fs::read_to_string(&key.private_key).unwrap()).unwrap();
        assert!(keyring.pins(&signer));
        assert_eq!(second.keyring, key.keyring);
        let again = create_key(&dir, "ops").unwrap_err();
        assert!(matches!(again, KeyFileError::Exists { .. }), "{again}");
        assert!(again.to_string().contains("never overwritten"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key.private_key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public: VerifierKey = key.public.parse().unwrap();
        let twice = Keyring::append(&key.keyring, &public).unwrap_err();
        assert!(matches!(twice, KeyFileError::Duplicate { .. }), "{twice}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keyring_problems_name_the_file() {
        let dir = temp_dir("problems");
        fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty");
        fs::write(&empty, "# no key yet\n").unwrap();
        assert!(matches!(
            Keyring::load(&empty),
            Err(KeyFileError::Empty { .. })
        ));
        let bad = dir.join("bad");
        fs::write(&bad, "not a key\n").unwrap();
        let e = Keyring::load(&bad).unwrap_err().to_string();
        assert!(e.contains("bad") && e.contains("line 1"), "{e}");
        let missing = Keyring::load(&dir.join("missing")).unwrap_err();
        assert!(matches!(missing, KeyFileError::Read { .. }));
        assert!(
            Keyring::load_or_empty(&dir.join("missing"), true)
                .unwrap()
                .keys()
                .is_empty()
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_signer_missing_from_the_keyring_is_refused() {
        let dir = temp_dir("signer");
        let key = create_key(&dir, "a").unwrap();
        let other = create_key(&dir.join("other"), "b").unwrap();
        let keys = KeysConfig {
            signing_key: other.private_key.clone(),
            keyring: key.keyring.clone(),
        };
        let Err(problems) = load_signer(&keys) else {
            panic!("a signer missing from the keyring was accepted")
        };
        assert_eq!(problems[0].key, "keys.keyring");
        assert!(problems[0].message.contains("does not hold the public key"));
        let keys = KeysConfig {
            signing_key: key.private_key.clone(),
            keyring: key.keyring.clone(),
        };
        assert!(load_signer(&keys).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }
}
