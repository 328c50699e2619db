//! Ed25519 keys in the C2SP signed-note conventions: key ids, verifier keys
//! (the keyring's line format), a `Signer` trait and the PKCS#8 file signer.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey, ed25519::signature::Signer as _};
use sha2::{Digest, Sha256};

use super::{SealError, b64, unb64};

/// The C2SP signature type byte of Ed25519.
const ED25519: u8 = 0x01;

/// A C2SP key id: the first 4 bytes of `SHA-256(name || "\n" || 0x01 || public key)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 4]);

impl KeyId {
    /// The key id of an Ed25519 public key under `name`.
    pub fn of(name: &str, public: &[u8; 32]) -> KeyId {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update([ED25519]);
        h.update(public);
        let d = h.finalize();
        KeyId([d[0], d[1], d[2], d[3]])
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Something that signs checkpoint notes: the file key below, or a KMS/HSM.
///
/// ```
/// use auditfed_schemas::seal::{FileSigner, Signer, generate_key};
///
/// let (pem, vkey) = generate_key("example").unwrap();
/// let signer = FileSigner::from_pem("example", &pem).unwrap();
/// assert_eq!(signer.verifier_key().to_string(), vkey.to_string());
/// let sig = signer.sign(b"text\n").unwrap();
/// assert!(vkey.verify(b"text\n", &sig));
/// ```
pub trait Signer: Send + Sync {
    /// The key name used in signature lines.
    fn name(&self) -> &str;
    /// The public half, as a verifier key.
    fn verifier_key(&self) -> VerifierKey;
    /// An Ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SealError>;
}

/// An Ed25519 key held in memory, loaded from a PKCS#8 PEM file.
pub struct FileSigner {
    name: String,
    key: SigningKey,
}

impl FileSigner {
    /// Loads a PKCS#8 PEM private key.
    pub fn from_pem(name: &str, pem: &str) -> Result<FileSigner, SealError> {
        check_name(name)?;
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| SealError::Key(format!("not an Ed25519 PKCS#8 PEM private key: {e}")))?;
        Ok(FileSigner {
            name: name.to_owned(),
            key,
        })
    }

    /// A signer from a 32-byte seed (test vectors; production keys come from files).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<FileSigner, SealError> {
        check_name(name)?;
        Ok(FileSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }
}

impl Signer for FileSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn verifier_key(&self) -> VerifierKey {
        VerifierKey::new(&self.name, self.key.verifying_key())
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SealError> {
        Ok(self.key.sign(message).to_bytes())
    }
}

/// Generates a new key: its PKCS#8 PEM and its verifier key.
pub fn generate_key(name: &str) -> Result<(String, VerifierKey), SealError> {
    check_name(name)?;
    let mut seed = [0u8; 32];
    getrandom(&mut seed)?;
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| SealError::Key(format!("cannot encode the key: {e}")))?
        .to_string();
    Ok((pem, VerifierKey::new(name, key.verifying_key())))
}

fn getrandom(buf: &mut [u8]) -> Result<(), SealError> {
    use rand_core::RngCore;
    rand_core::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| SealError::Key(format!("no randomness from the OS: {e}")))
}

/// Key names: non-empty, printable, no spaces or `+` (C2SP).
fn check_name(name: &str) -> Result<(), SealError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(SealError::Key(format!(
            "key name `{name}` must be non-empty, without spaces or `+`"
        )));
    }
    Ok(())
}

/// A public key in the C2SP verifier-key format `<name>+<key id hex>+<base64(0x01 || key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: KeyId,
    key: VerifyingKey,
}

impl VerifierKey {
    fn new(name: &str, key: VerifyingKey) -> VerifierKey {
        VerifierKey {
            name: name.to_owned(),
            id: KeyId::of(name, key.as_bytes()),
            key,
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`
    /// (strict verification: no malleable or small-order forms).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.id, b64(&raw))
    }
}

impl FromStr for VerifierKey {
    type Err = SealError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| SealError::Key(format!("verifier key `{s}`: {why}"));
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<key id>+<base64 key>"));
        };
        check_name(name)?;
        let raw = unb64(key).ok_or_else(|| bad("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != ED25519 {
            return Err(bad("not an Ed25519 key (type 0x01, 32 bytes)"));
        }
        let bytes: [u8; 32] = raw[1..].try_into().map_err(|_| bad("wrong length"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid Ed25519 point"))?;
        let vk = VerifierKey::new(name, key);
        if vk.id.to_string() != id.to_ascii_lowercase() {
            return Err(bad(&format!(
                "key id {id} does not match the key (expected {})",
                vk.id
            )));
        }
        Ok(vk)
    }
}

/// The pinned public keys a verifier trusts: one verifier key per line;
/// blank lines and `#` comments ignored.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<VerifierKey>,
}

impl Keyring {
    /// Parses a keyring file's text; errors name the line.
    pub fn parse(text: &str) -> Result<Keyring, SealError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key: VerifierKey = line
                .parse()
                .map_err(|e| SealError::Key(format!("keyring line {}: {e}", i + 1)))?;
            keys.push(key);
        }
        Ok(Keyring { keys })
    }

    /// Adds a key (e.g. one announced by a verified rotation checkpoint).
    pub fn add(&mut self, key: VerifierKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// The key with this name and id.
    pub fn find(&self, name: &str, id: KeyId) -> Option<&VerifierKey> {
        self.keys.iter().find(|k| k.name == name && k.id == id)
    }

    /// All keys.
    pub fn keys(&self) -> &[VerifierKey] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_keys_round_trip_and_reject_a_wrong_id() {
        let signer = FileSigner::from_seed("k1", &[7; 32]).unwrap();
        let vk = signer.verifier_key();
        let text = vk.to_string();
        assert_eq!(text.parse::<VerifierKey>().unwrap(), vk);
        let (name, rest) = text.split_once('+').unwrap();
        let forged = format!("{name}+00000000+{}", rest.split_once('+').unwrap().1);
        assert!(
            forged
                .parse::<VerifierKey>()
                .unwrap_err()
                .to_string()
                .contains("does not match")
        );
        let ring = Keyring::parse(&format!("# pinned\n\n{text}\n")).unwrap();
        assert!(ring.find("k1", vk.id()).is_some());
        let err = Keyring::parse("garbage").unwrap_err();
        assert!(err.to_string().contains("keyring line 1"), "{err}");
    }

    #[test]
    fn non_canonical_signatures_are_refused() {
        let signer = FileSigner::from_seed("k", &[3; 32]).unwrap();
        let vk = signer.verifier_key();
        let sig = signer.sign(b"msg").unwrap();
        assert!(vk.verify(b"msg", &sig));
        // S + L (the group order) is the same signature to a lax verifier, not to us.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleable = sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(malleable[32 + i]) + u16::from(L[i]) + carry;
            malleable[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        assert_ne!(malleable, sig);
        assert!(!vk.verify(b"msg", &malleable));
    }

    #[test]
    fn generated_keys_sign_and_verify() {
        let (pem, vk) = generate_key("gen").unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let signer = FileSigner::from_pem("gen", &pem).unwrap();
        let sig = signer.sign(b"hello").unwrap();
        assert!(vk.verify(b"hello", &sig));
        assert!(!vk.verify(b"hellO", &sig));
    }
}
