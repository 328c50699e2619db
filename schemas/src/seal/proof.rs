//! Inclusion-proof bundles (docs/integrity.md §7): one event, its place in a
//! checkpoint's Merkle tree, and the signed checkpoint — verifiable offline
//! with nothing but the keyring.

use serde::{Deserialize, Serialize};

use super::{
    Checkpoint, Hash, Keyring, SealError, SignedNote, VerifierKey, hash_b64, leaf_hash,
    recanonicalize, root_from_audit_path,
};

/// The bundle's format tag.
pub const PROOF_FORMAT: &str = "auditfed-inclusion-proof/v1";

/// An inclusion proof of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Always [`PROOF_FORMAT`].
    pub format: String,
    /// The chain.
    pub chain: String,
    /// The event's sequence number.
    pub seq: u64,
    /// `canonical_v1(event)`, as archived.
    pub event_json: String,
    /// The event's index in the checkpoint's batch (`seq - first`).
    pub leaf_index: u64,
    /// Leaves in the batch (`last - first + 1`).
    pub batch_size: u64,
    /// RFC 6962 audit path, leaf-most first, base64.
    pub audit_path: Vec<B64Hash>,
    /// The signed checkpoint note, complete.
    pub checkpoint: String,
}

/// A hash serialized as base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct B64Hash(#[serde(with = "hash_b64")] pub Hash);

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenEvent {
    /// The checkpoint that includes the event.
    pub checkpoint: Checkpoint,
    /// The key that signed it.
    pub key: VerifierKey,
    /// The event, parsed.
    pub event: serde_json::Value,
}

impl InclusionProof {
    /// Verifies the bundle offline: signature under the keyring, the event's
    /// canonical form, its position, and the audit path up to the signed root.
    pub fn verify(&self, keyring: &Keyring) -> Result<ProvenEvent, SealError> {
        let bad = |why: String| SealError::Checkpoint(format!("proof: {why}"));
        if self.format != PROOF_FORMAT {
            return Err(bad(format!(
                "format `{}` is not {PROOF_FORMAT}",
                self.format
            )));
        }
        let note = SignedNote::parse(&self.checkpoint)?;
        let (checkpoint, key) = note.verify(keyring)?;
        if checkpoint.chain != self.chain {
            return Err(bad(format!(
                "the checkpoint is of chain `{}`, not `{}`",
                checkpoint.chain, self.chain
            )));
        }
        if self.batch_size != checkpoint.batch_size()
            || self.seq != checkpoint.first + self.leaf_index
            || self.seq > checkpoint.last
        {
            return Err(bad(format!(
                "seq {} at index {} of {} does not fit the checkpoint's batch {}..={}",
                self.seq, self.leaf_index, self.batch_size, checkpoint.first, checkpoint.last
            )));
        }
        let canonical = recanonicalize(self.event_json.as_bytes())?;
        if canonical != self.event_json.as_bytes() {
            return Err(bad("event_json is not in canonical form".into()));
        }
        let leaf = leaf_hash(&canonical);
        let path: Vec<Hash> = self.audit_path.iter().map(|h| h.0).collect();
        match root_from_audit_path(&leaf, self.leaf_index, self.batch_size, &path) {
            Some(root) if root == checkpoint.root => {}
            _ => return Err(bad("the audit path does not lead to the checkpoint's root: the event is not the one sealed".into())),
        }
        let event = serde_json::from_str(&self.event_json).map_err(|e| bad(e.to_string()))?;
        Ok(ProvenEvent {
            checkpoint,
            key,
            event,
        })
    }
}
