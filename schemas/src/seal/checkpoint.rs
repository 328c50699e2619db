//! Checkpoints: their text (docs/integrity.md §5) and C2SP signed notes.

use std::fmt;

use sha2::{Digest, Sha256};

use super::{
    Hash, KeyId, Keyring, SealError, Signer, VerifierKey, b64, unb64, unb64_hash, valid_chain_id,
};

const HEADER: &str = "auditfed-checkpoint/v1";

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointKind {
    /// Events were sealed since the previous checkpoint.
    Batch,
    /// The chain was idle: proves it was alive and had not grown.
    Heartbeat,
    /// Announces the key that signs the chain's next checkpoints.
    Rotation,
}

impl CheckpointKind {
    fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::Batch => "batch",
            CheckpointKind::Heartbeat => "heartbeat",
            CheckpointKind::Rotation => "rotation",
        }
    }
}

/// The content of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The chain.
    pub chain: String,
    /// Why it was written.
    pub kind: CheckpointKind,
    /// First sequence number of the batch (for an empty batch: `last`).
    pub first: u64,
    /// Last sequence number covered (0 before the first event).
    pub last: u64,
    /// The chain hash at `last` (the genesis hash when `last` is 0).
    pub head: Hash,
    /// RFC 6962 root of the batch's leaves (of the empty tree when empty).
    pub root: Hash,
    /// SHA-256 of the previous checkpoint note of the chain.
    pub prev: Option<Hash>,
    /// When it was sealed, epoch milliseconds (UTC).
    pub time_ms: i64,
    /// With [`CheckpointKind::Rotation`]: the key that signs from now on.
    pub next_key: Option<VerifierKey>,
}

impl Checkpoint {
    /// The number of events in the batch.
    pub fn batch_size(&self) -> u64 {
        // Only batch checkpoints cover events; heartbeats and rotations are empty.
        match self.kind {
            CheckpointKind::Batch => self.last - self.first + 1,
            CheckpointKind::Heartbeat | CheckpointKind::Rotation => 0,
        }
    }

    /// The note text (every line ends in `\n`): what is signed.
    pub fn text(&self) -> String {
        let time = format_time(self.time_ms);
        let prev = self.prev.map_or_else(|| "-".to_owned(), |p| b64(&p));
        let mut text = format!(
            "{HEADER}\nchain {}\nkind {}\nfirst {}\nlast {}\nhead {}\nroot {}\nprev {prev}\ntime {time}\n",
            self.chain,
            self.kind.as_str(),
            self.first,
            self.last,
            b64(&self.head),
            b64(&self.root),
        );
        if let Some(k) = &self.next_key {
            text.push_str(&format!("next-key {k}\n"));
        }
        text
    }

    /// Parses a note text; every deviation from §5 is an error.
    pub fn parse_text(text: &str) -> Result<Checkpoint, SealError> {
        let bad = |why: String| SealError::Checkpoint(why);
        if !text.ends_with('\n') {
            return Err(bad("the text must end with a newline".into()));
        }
        let mut lines = text[..text.len() - 1].split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad(format!("the first line must be `{HEADER}`")));
        }
        let mut field = |name: &str| -> Result<String, SealError> {
            let line = lines
                .next()
                .ok_or_else(|| bad(format!("missing `{name}` line")))?;
            line.strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("expected `{name} …`, found `{line}`")))
        };
        let chain = field("chain")?;
        if !valid_chain_id(&chain) {
            return Err(bad(format!("invalid chain id `{chain}`")));
        }
        let kind = match field("kind")?.as_str() {
            "batch" => CheckpointKind::Batch,
            "heartbeat" => CheckpointKind::Heartbeat,
            "rotation" => CheckpointKind::Rotation,
            other => return Err(bad(format!("unknown kind `{other}`"))),
        };
        let number = |v: String, name: &str| -> Result<u64, SealError> {
            // Canonical decimal only: "007" or "+7" would give two texts for one checkpoint.
            if v.is_empty()
                || (v.len() > 1 && v.starts_with('0'))
                || !v.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad(format!(
                    "`{name}` must be a canonical decimal, found `{v}`"
                )));
            }
            v.parse().map_err(|_| bad(format!("`{name}` out of range")))
        };
        let first = number(field("first")?, "first")?;
        let last = number(field("last")?, "last")?;
        let hash = |v: String, name: &str| {
            unb64_hash(&v).ok_or_else(|| bad(format!("`{name}` is not a base64 SHA-256")))
        };
        let head = hash(field("head")?, "head")?;
        let root = hash(field("root")?, "root")?;
        let prev = match field("prev")?.as_str() {
            "-" => None,
            v => Some(hash(v.to_owned(), "prev")?),
        };
        let time_text = field("time")?;
        let time_ms = parse_time(&time_text).ok_or_else(|| {
            bad(format!(
                "`time` must be like 2026-01-02T03:04:05.678Z, found `{time_text}`"
            ))
        })?;
        let next_key = match lines.next() {
            Some(line) => Some(
                line.strip_prefix("next-key ")
                    .ok_or_else(|| bad(format!("unexpected line `{line}`")))?
                    .parse::<VerifierKey>()?,
            ),
            None => None,
        };
        if let Some(extra) = lines.next() {
            return Err(bad(format!("unexpected line `{extra}`")));
        }
        if (kind == CheckpointKind::Rotation) != next_key.is_some() {
            return Err(bad(
                "`next-key` belongs to rotation checkpoints, and only to them".into(),
            ));
        }
        // A batch covers first..=last (at least one event); heartbeats and
        // rotations cover none: first = last, the root of the empty tree.
        let empty_root = super::merkle_root(&[]);
        match kind {
            CheckpointKind::Batch if first == 0 || first > last => {
                return Err(bad(format!(
                    "a batch must cover 1 or more events, not {first}..{last}"
                )));
            }
            CheckpointKind::Heartbeat | CheckpointKind::Rotation
                if first != last || root != empty_root =>
            {
                return Err(bad(
                    "heartbeats and rotations cover no events: first = last and the empty root"
                        .into(),
                ));
            }
            _ => {}
        }
        let cp = Checkpoint {
            chain,
            kind,
            first,
            last,
            head,
            root,
            prev,
            time_ms,
            next_key,
        };
        // Byte-exact: the text must be what `text()` writes, nothing else.
        if cp.text() != text {
            return Err(bad("the text is not in canonical form".into()));
        }
        Ok(cp)
    }

    /// Signs the checkpoint: a C2SP signed note.
    pub fn sign(&self, signer: &dyn Signer) -> Result<SignedNote, SealError> {
        SignedNote::sign(self.text(), signer)
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub id: KeyId,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// A C2SP signed note: text, empty line, signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text (ends in `\n`).
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Signs any note text (ending in `\n`) with `signer`: the form
    /// checkpoints use, and report manifests too.
    pub fn sign(text: String, signer: &dyn Signer) -> Result<SignedNote, SealError> {
        if !text.ends_with('\n') || text.contains("\n\n") {
            return Err(SealError::Checkpoint(
                "a note text ends with a newline and has no empty line".into(),
            ));
        }
        let signature = signer.sign(text.as_bytes())?;
        let key = signer.verifier_key();
        Ok(SignedNote {
            text,
            signatures: vec![NoteSignature {
                name: key.name().to_owned(),
                id: key.id(),
                signature,
            }],
        })
    }

    /// Parses a signed note.
    pub fn parse(note: &str) -> Result<SignedNote, SealError> {
        let bad = |why: &str| SealError::Checkpoint(format!("signed note: {why}"));
        let split = note
            .find("\n\n")
            .ok_or_else(|| bad("no empty line between text and signatures"))?;
        let text = note[..split + 1].to_owned();
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(bad("must end with a newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad(&format!("signature line `{line}` must start with `— `")))?;
            let (name, sig) = rest
                .split_once(' ')
                .ok_or_else(|| bad("signature line needs a key name and a signature"))?;
            let raw = unb64(sig).ok_or_else(|| bad("signature is not base64"))?;
            if raw.len() != 68 {
                return Err(bad("an Ed25519 signature line holds 4 + 64 bytes"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: KeyId([raw[0], raw[1], raw[2], raw[3]]),
                signature: raw[4..].try_into().expect("64 bytes"),
            });
        }
        if signatures.is_empty() {
            return Err(bad("no signature"));
        }
        Ok(SignedNote { text, signatures })
    }

    /// SHA-256 of the whole note: what the next checkpoint's `prev` holds.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.to_string().as_bytes()).into()
    }

    /// Verifies the note against the keyring and parses the checkpoint.
    /// Signatures by unknown keys are ignored (C2SP), but at least one must be
    /// by a trusted key and verify; a trusted key whose signature does not
    /// verify is an error.
    pub fn verify(&self, keyring: &Keyring) -> Result<(Checkpoint, VerifierKey), SealError> {
        let key = self.verify_signature(keyring)?;
        Ok((Checkpoint::parse_text(&self.text)?, key))
    }

    /// Checks the signatures as [`SignedNote::verify`] does, whatever the
    /// text is; returns the trusted key that signed it.
    pub fn verify_signature(&self, keyring: &Keyring) -> Result<VerifierKey, SealError> {
        let mut good = None;
        for sig in &self.signatures {
            if let Some(key) = keyring.find(&sig.name, sig.id) {
                if !key.verify(self.text.as_bytes(), &sig.signature) {
                    return Err(SealError::Signature(format!(
                        "the signature of key {} ({}) does not verify",
                        sig.name, sig.id
                    )));
                }
                good.get_or_insert_with(|| key.clone());
            }
        }
        let key = good.ok_or_else(|| {
            let names: Vec<String> = self
                .signatures
                .iter()
                .map(|s| format!("{}+{}", s.name, s.id))
                .collect();
            SealError::Signature(format!(
                "no signature by a trusted key (signed by {})",
                names.join(", ")
            ))
        })?;
        Ok(key)
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            let mut raw = s.id.0.to_vec();
            raw.extend_from_slice(&s.signature);
            writeln!(f, "\u{2014} {} {}", s.name, b64(&raw))?;
        }
        Ok(())
    }
}

/// `2026-01-02T03:04:05.678Z` from epoch milliseconds (proleptic Gregorian, UTC),
/// the form checkpoints use.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s, ms) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
        n(20..23)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let ms_total = (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000 + ms;
    // Round-trip check rejects impossible dates such as 2026-02-30.
    (format_time(ms_total) == text).then_some(ms_total)
}

// Howard Hinnant's civil-date algorithms.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{FileSigner, genesis, merkle_root};

    fn sample() -> Checkpoint {
        Checkpoint {
            chain: "demo/0".into(),
            kind: CheckpointKind::Batch,
            first: 1,
            last: 3,
            head: genesis("x"),
            root: merkle_root(&[]),
            prev: None,
            time_ms: 1_764_237_600_123,
            next_key: None,
        }
    }

    #[test]
    fn text_round_trips_byte_exactly_and_variants_are_refused() {
        let cp = sample();
        let text = cp.text();
        assert!(text.contains("time 2025-11-27T10:00:00.123Z\n"), "{text}");
        assert_eq!(Checkpoint::parse_text(&text).unwrap(), cp);
        for (from, to) in [
            ("first 1", "first 01"),
            ("kind batch", "kind Batch"),
            ("time 2025-11-27T10:00:00.123Z", "time 2025-11-27T10:00:00Z"),
        ] {
            let tampered = text.replace(from, to);
            assert!(Checkpoint::parse_text(&tampered).is_err(), "{to} accepted");
        }
        assert!(Checkpoint::parse_text(&format!("{text}extra\n")).is_err());
        assert!(parse_time("2026-02-30T00:00:00.000Z").is_none());
    }

    #[test]
    fn notes_verify_only_under_a_trusted_key_and_only_unmodified() {
        let signer = FileSigner::from_seed("k", &[1; 32]).unwrap();
        let other = FileSigner::from_seed("k", &[2; 32]).unwrap();
        let note = sample().sign(&signer).unwrap();
        let parsed = SignedNote::parse(&note.to_string()).unwrap();
        assert_eq!(parsed, note);
        let mut ring = Keyring::default();
        ring.add(signer.verifier_key());
        assert_eq!(parsed.verify(&ring).unwrap().0, sample());
        let mut wrong = Keyring::default();
        wrong.add(other.verifier_key());
        assert!(
            parsed
                .verify(&wrong)
                .unwrap_err()
                .to_string()
                .contains("no signature by a trusted key")
        );
        let edited = SignedNote {
            text: parsed.text.replace("last 3", "last 4"),
            ..parsed.clone()
        };
        assert!(
            edited
                .verify(&ring)
                .unwrap_err()
                .to_string()
                .contains("does not verify")
        );
    }
}
