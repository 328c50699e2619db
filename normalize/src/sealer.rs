//! The sealer: puts each normalized event of a chain into the hash chain and
//! writes signed checkpoints (docs/integrity.md).
//!
//! One [`Sealer`] per chain, one writer per chain. Time is passed in
//! (`now_ms`), never read from a clock, so sealing is deterministic and
//! testable; the service calls [`Sealer::tick`] periodically for time-based
//! checkpoints and heartbeats. Its whole state is a small [`ChainState`]
//! (a few hundred bytes: no batch leaves, only an RFC 6962 compact range)
//! that is persisted with every output and restored exactly after a crash.
//!
//! ```
//! use std::sync::Arc;
//! use auditfed_normalize::sealer::{Sealer, SealerConfig};
//! use auditfed_schemas::seal::FileSigner;
//!
//! let signer = Arc::new(FileSigner::from_seed("doc", &[9; 32]).unwrap());
//! let config = SealerConfig { checkpoint_every_events: 2, ..SealerConfig::default() };
//! let mut sealer = Sealer::new("doc/0", config, signer, 0).unwrap();
//! let (first, cp) = sealer.seal(&serde_json::json!({"n": 1}), 10).unwrap();
//! assert_eq!((first.seq, cp.is_none()), (1, true));
//! let (second, cp) = sealer.seal(&serde_json::json!({"n": 2}), 20).unwrap();
//! assert_eq!(second.seq, 2);
//! assert!(cp.unwrap().to_string().contains("\nlast 2\n"));
//! ```

use std::sync::Arc;

use auditfed_schemas::seal::{
    Checkpoint, CheckpointKind, CompactRange, Hash, SealError, SignedNote, Signer, canonical_event,
    canonical_v1, chain_hash, genesis, hash_b64, leaf_hash, valid_chain_id,
};
use serde::{Deserialize, Serialize};

/// When checkpoints are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealerConfig {
    /// A batch checkpoint after this many events (N).
    pub checkpoint_every_events: u64,
    /// A batch checkpoint when the oldest unsealed-by-checkpoint event is this old (T), milliseconds.
    pub checkpoint_every_ms: i64,
    /// A heartbeat checkpoint after this long without any checkpoint while idle, milliseconds.
    pub heartbeat_every_ms: i64,
}

impl Default for SealerConfig {
    fn default() -> Self {
        SealerConfig {
            checkpoint_every_events: 10_000,
            checkpoint_every_ms: 10_000,
            heartbeat_every_ms: 60_000,
        }
    }
}

/// Everything a chain's sealer needs to continue exactly where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainState {
    /// The chain id.
    pub chain: String,
    /// The last sequence number sealed (0: none yet).
    pub last_seq: u64,
    /// The chain hash at `last_seq`.
    #[serde(with = "hash_b64")]
    pub head: Hash,
    /// First sequence number of the current (not yet checkpointed) batch.
    pub batch_first: u64,
    /// The current batch's leaves, as a compact range.
    pub batch: CompactRange,
    /// SHA-256 of the last checkpoint note written (`None` before the first).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_hash_b64"
    )]
    pub prev_checkpoint: Option<Hash>,
    /// When the last checkpoint was written, epoch ms.
    pub last_checkpoint_ms: i64,
    /// When the current batch's first event was sealed, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_started_ms: Option<i64>,
}

mod opt_hash_b64 {
    use auditfed_schemas::seal::{Hash, hash_b64};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match hash {
            Some(h) => hash_b64::serialize(h, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "hash_b64")] Hash);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

/// One sealed event: its place in the chain and the bytes that were hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The chain.
    pub chain: String,
    /// Its sequence number.
    pub seq: u64,
    /// Its leaf hash.
    pub leaf: Hash,
    /// The chain hash after it.
    pub chain_hash: Hash,
    /// `canonical_v1(event)`: what the archive stores as `event_json`.
    pub canonical: Vec<u8>,
}

/// What can be sealed: anything with a canonical encoding. OCSF events take
/// the fast path ([`canonical_event`]); other values the general one.
pub trait Sealable {
    /// `canonical_v1` of the value.
    fn canonical(&self) -> Result<Vec<u8>, SealError>;
}

impl Sealable for auditfed_schemas::ocsf::Event {
    fn canonical(&self) -> Result<Vec<u8>, SealError> {
        canonical_event(self)
    }
}

impl Sealable for serde_json::Value {
    fn canonical(&self) -> Result<Vec<u8>, SealError> {
        canonical_v1(self)
    }
}

/// Seals the events of one chain.
pub struct Sealer {
    state: ChainState,
    config: SealerConfig,
    signer: Arc<dyn Signer>,
}

impl Sealer {
    /// A sealer for a new chain (nothing sealed yet).
    pub fn new(
        chain: &str,
        config: SealerConfig,
        signer: Arc<dyn Signer>,
        now_ms: i64,
    ) -> Result<Sealer, SealError> {
        if !valid_chain_id(chain) {
            return Err(SealError::Checkpoint(format!(
                "invalid chain id `{chain}`: 1-200 bytes of [A-Za-z0-9._:/-]"
            )));
        }
        let state = ChainState {
            chain: chain.to_owned(),
            last_seq: 0,
            head: genesis(chain),
            batch_first: 1,
            batch: CompactRange::default(),
            prev_checkpoint: None,
            last_checkpoint_ms: now_ms,
            batch_started_ms: None,
        };
        Ok(Sealer {
            state,
            config,
            signer,
        })
    }

    /// A sealer continuing from a persisted state.
    pub fn restore(
        state: ChainState,
        config: SealerConfig,
        signer: Arc<dyn Signer>,
    ) -> Result<Sealer, SealError> {
        if !valid_chain_id(&state.chain)
            || state.batch_first + state.batch.size() != state.last_seq + 1
        {
            return Err(SealError::Checkpoint(format!(
                "inconsistent chain state for `{}`",
                state.chain
            )));
        }
        Ok(Sealer {
            state,
            config,
            signer,
        })
    }

    /// The state to persist (with every output, atomically).
    pub fn state(&self) -> &ChainState {
        &self.state
    }

    /// Seals one event; returns it and, when the batch is full, the batch checkpoint.
    pub fn seal<T: Sealable + ?Sized>(
        &mut self,
        event: &T,
        now_ms: i64,
    ) -> Result<(Sealed, Option<SignedNote>), SealError> {
        let canonical = event.canonical()?;
        let leaf = leaf_hash(&canonical);
        let seq = self.state.last_seq + 1;
        let head = chain_hash(&self.state.head, &leaf);
        self.state.last_seq = seq;
        self.state.head = head;
        self.state.batch.push(leaf);
        self.state.batch_started_ms.get_or_insert(now_ms);
        let sealed = Sealed {
            chain: self.state.chain.clone(),
            seq,
            leaf,
            chain_hash: head,
            canonical,
        };
        let checkpoint = if self.state.batch.size() >= self.config.checkpoint_every_events {
            Some(self.checkpoint(CheckpointKind::Batch, now_ms, None)?)
        } else {
            None
        };
        Ok((sealed, checkpoint))
    }

    /// Time-based checkpoints: a batch checkpoint when the batch is T old,
    /// a heartbeat when idle for the heartbeat interval.
    pub fn tick(&mut self, now_ms: i64) -> Result<Option<SignedNote>, SealError> {
        match self.state.batch_started_ms {
            Some(started) if now_ms - started >= self.config.checkpoint_every_ms => self
                .checkpoint(CheckpointKind::Batch, now_ms, None)
                .map(Some),
            None if now_ms - self.state.last_checkpoint_ms >= self.config.heartbeat_every_ms => {
                self.checkpoint(CheckpointKind::Heartbeat, now_ms, None)
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Checkpoints what is pending now (e.g. before a clean shutdown), if anything.
    pub fn flush(&mut self, now_ms: i64) -> Result<Option<SignedNote>, SealError> {
        if self.state.batch.size() == 0 {
            return Ok(None);
        }
        self.checkpoint(CheckpointKind::Batch, now_ms, None)
            .map(Some)
    }

    /// Rotates the signing key: the pending batch is checkpointed, then a
    /// rotation checkpoint signed by the current key announces `next`, which
    /// signs everything after. Returns the notes written, in order.
    pub fn rotate(
        &mut self,
        next: Arc<dyn Signer>,
        now_ms: i64,
    ) -> Result<Vec<SignedNote>, SealError> {
        let mut notes: Vec<SignedNote> = self.flush(now_ms)?.into_iter().collect();
        notes.push(self.checkpoint(CheckpointKind::Rotation, now_ms, Some(next.as_ref()))?);
        self.signer = next;
        Ok(notes)
    }

    fn checkpoint(
        &mut self,
        kind: CheckpointKind,
        now_ms: i64,
        next: Option<&dyn Signer>,
    ) -> Result<SignedNote, SealError> {
        let s = &self.state;
        let empty = s.batch.size() == 0;
        let checkpoint = Checkpoint {
            chain: s.chain.clone(),
            kind,
            first: if empty { s.last_seq } else { s.batch_first },
            last: s.last_seq,
            head: s.head,
            root: s.batch.root(),
            prev: s.prev_checkpoint,
            time_ms: now_ms,
            next_key: next.map(|n| n.verifier_key()),
        };
        let note = checkpoint.sign(self.signer.as_ref())?;
        self.state.prev_checkpoint = Some(note.hash());
        self.state.last_checkpoint_ms = now_ms;
        self.state.batch = CompactRange::default();
        self.state.batch_first = self.state.last_seq + 1;
        self.state.batch_started_ms = None;
        Ok(note)
    }
}

#[cfg(test)]
mod tests {
    use auditfed_schemas::seal::{FileSigner, Keyring, merkle_root};
    use serde_json::json;

    use super::*;

    fn signer(seed: u8) -> Arc<dyn Signer> {
        Arc::new(FileSigner::from_seed("test", &[seed; 32]).unwrap())
    }

    fn config() -> SealerConfig {
        SealerConfig {
            checkpoint_every_events: 3,
            checkpoint_every_ms: 1_000,
            heartbeat_every_ms: 5_000,
        }
    }

    #[test]
    fn sequences_are_gap_free_and_checkpoints_cover_each_batch_exactly() {
        let mut sealer = Sealer::new("t/0", config(), signer(1), 0).unwrap();
        let mut ring = Keyring::default();
        ring.add(signer(1).verifier_key());
        let mut leaves = Vec::new();
        let mut notes = Vec::new();
        for i in 0..7 {
            let (sealed, note) = sealer.seal(&json!({"i": i}), i).unwrap();
            assert_eq!(sealed.seq, i as u64 + 1);
            leaves.push(sealed.leaf);
            notes.extend(note);
        }
        assert_eq!(notes.len(), 2);
        let (second, _) = notes[1].verify(&ring).unwrap();
        assert_eq!((second.first, second.last), (4, 6));
        assert_eq!(second.root, merkle_root(&leaves[3..6]));
        assert_eq!(second.prev, Some(notes[0].hash()));
        // The 7th event is checkpointed by time, then the idle chain by heartbeats.
        assert!(sealer.tick(500).unwrap().is_none());
        let by_time = sealer
            .tick(1_006)
            .unwrap()
            .unwrap()
            .verify(&ring)
            .unwrap()
            .0;
        assert_eq!(
            (by_time.kind, by_time.first, by_time.last),
            (CheckpointKind::Batch, 7, 7)
        );
        assert!(sealer.tick(5_000).unwrap().is_none());
        let hb = sealer
            .tick(6_006)
            .unwrap()
            .unwrap()
            .verify(&ring)
            .unwrap()
            .0;
        assert_eq!(
            (hb.kind, hb.first, hb.last, hb.root),
            (CheckpointKind::Heartbeat, 7, 7, merkle_root(&[]))
        );
    }

    #[test]
    fn a_restored_state_continues_exactly_as_if_never_stopped() {
        let mut straight = Sealer::new("t/1", config(), signer(1), 0).unwrap();
        let mut resumed = Sealer::new("t/1", config(), signer(1), 0).unwrap();
        let mut out_a = Vec::new();
        let mut out_b = Vec::new();
        for i in 0..10 {
            let a = straight.seal(&json!({"i": i}), i).unwrap();
            out_a.push((a.0.chain_hash, a.1.map(|n| n.to_string())));
            // Persist and restore through JSON after every event.
            let saved = serde_json::to_string(resumed.state()).unwrap();
            resumed = Sealer::restore(serde_json::from_str(&saved).unwrap(), config(), signer(1))
                .unwrap();
            let b = resumed.seal(&json!({"i": i}), i).unwrap();
            out_b.push((b.0.chain_hash, b.1.map(|n| n.to_string())));
        }
        assert_eq!(out_a, out_b);
        assert!(serde_json::to_string(straight.state()).unwrap().len() < 600);
    }

    #[test]
    fn rotation_is_announced_by_the_old_key_and_signed_by_the_new_one_after() {
        let mut sealer = Sealer::new("t/2", config(), signer(1), 0).unwrap();
        sealer.seal(&json!({"a": 1}), 1).unwrap();
        let notes = sealer.rotate(signer(2), 2).unwrap();
        assert_eq!(notes.len(), 2, "pending batch, then the rotation");
        let mut old_only = Keyring::default();
        old_only.add(signer(1).verifier_key());
        let (rotation, _) = notes[1].verify(&old_only).unwrap();
        assert_eq!(rotation.next_key, Some(signer(2).verifier_key()));
        sealer.seal(&json!({"a": 2}), 3).unwrap();
        let after = sealer.flush(4).unwrap().unwrap();
        assert!(after.verify(&old_only).is_err());
        old_only.add(rotation.next_key.unwrap());
        assert_eq!(
            after.verify(&old_only).unwrap().0.prev,
            Some(notes[1].hash())
        );
    }

    #[test]
    fn inconsistent_states_are_refused() {
        let mut sealer = Sealer::new("t/3", config(), signer(1), 0).unwrap();
        sealer.seal(&json!({}), 0).unwrap();
        let mut state = sealer.state().clone();
        state.last_seq += 1;
        assert!(Sealer::restore(state, config(), signer(1)).is_err());
        assert!(Sealer::new("bad id", config(), signer(1), 0).is_err());
    }
}
