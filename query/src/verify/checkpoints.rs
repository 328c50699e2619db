//! Checkpoint checks: signatures (following rotations), the `prev` hash
//! chain, coverage of sequence ranges, forks and rollbacks.

use std::collections::{BTreeMap, HashMap};

use auditfed_schemas::archive::layout::CheckpointFile;
use auditfed_schemas::seal::{Checkpoint, CheckpointKind, Hash, Keyring, SignedNote};

use super::{Finding, VerifyOptions, short_hash};
use crate::QueryError;
use crate::store::ArchiveStore;

/// The checkpoints of a chain that verified, in chain order.
#[derive(Debug, Default)]
pub(super) struct Verified {
    /// Batch checkpoints by `last`: the batch's first seq, Merkle root and head.
    pub(super) batches: BTreeMap<u64, Checkpoint>,
    /// The highest `last` of any verified checkpoint (0 when none).
    pub(super) newest_last: u64,
    /// The newest checkpoint time.
    pub(super) newest_time: Option<i64>,
    /// The trusted checkpoint's `(last, head)`, when it belongs to this chain.
    pub(super) trusted: Option<(u64, Hash)>,
}

/// Verifies the trusted checkpoint itself; returns its chain.
pub(super) fn trusted_chain(
    trusted: &SignedNote,
    keyring: &Keyring,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    match trusted.verify(keyring) {
        Ok((cp, _)) => Some(cp.chain),
        Err(e) => {
            findings.push(Finding::new(
                "trusted_checkpoint_invalid",
                format!("the trusted checkpoint does not verify: {e}"),
            ));
            None
        }
    }
}

pub(super) fn verify_chain_checkpoints(
    store: &dyn ArchiveStore,
    chain: &str,
    files: &[(String, CheckpointFile)],
    options: &VerifyOptions,
    findings: &mut Vec<Finding>,
) -> Result<Verified, QueryError> {
    let mut verified = Verified::default();
    // Parse every note; signatures are checked in chain order below (rotations add keys).
    let mut parsed: Vec<(String, SignedNote, Checkpoint)> = Vec::new();
    for (path, file) in files {
        let bytes = store.read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        // The note must parse, be in canonical signed-note form, and hold a valid checkpoint text.
        let parsed_note = SignedNote::parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                if n.to_string() == text {
                    Ok(n)
                } else {
                    Err("the note is not in canonical signed-note form".to_owned())
                }
            })
            .and_then(|n| {
                Checkpoint::parse_text(&n.text)
                    .map(|cp| (n, cp))
                    .map_err(|e| e.to_string())
            });
        let (note, cp) = match parsed_note {
            Ok(x) => x,
            Err(why) => {
                findings.push(
                    Finding::new("checkpoint_malformed", why)
                        .chain(chain)
                        .at(path),
                );
                continue;
            }
        };
        if CheckpointFile::of(&cp) != *file {
            findings.push(
                Finding::new(
                    "checkpoint_misplaced",
                    "the checkpoint's content does not match its file name",
                )
                .chain(chain)
                .at(path)
                .expected_found(CheckpointFile::of(&cp).path(), path.clone()),
            );
        }
        parsed.push((path.clone(), note, cp));
    }
    // Order by the `prev` links.
    let by_hash: HashMap<Hash, usize> = parsed
        .iter()
        .enumerate()
        .map(|(i, (_, n, _))| (n.hash(), i))
        .collect();
    let mut children: HashMap<Option<Hash>, Vec<usize>> = HashMap::new();
    for (i, (_, _, cp)) in parsed.iter().enumerate() {
        children.entry(cp.prev).or_default().push(i);
    }
    for (prev, kids) in &children {
        if kids.len() > 1 {
            let paths: Vec<&str> = kids.iter().map(|&k| parsed[k].0.as_str()).collect();
            findings.push(
                Finding::new(
                    "checkpoint_fork",
                    format!(
                        "{} checkpoints continue the same predecessor: {}",
                        kids.len(),
                        paths.join(", ")
                    ),
                )
                .chain(chain)
                .at(paths[0])
                .expected_found(
                    "1 successor",
                    prev.map_or("the chain start".to_owned(), |p| {
                        format!("successors of {}", short_hash(&p))
                    }),
                ),
            );
        }
    }
    // Segments start at the genesis checkpoint and at every checkpoint whose predecessor is missing.
    let mut starts: Vec<usize> = parsed
        .iter()
        .enumerate()
        .filter(|(_, (_, _, cp))| cp.prev.is_none_or(|p| !by_hash.contains_key(&p)))
        .map(|(i, _)| i)
        .collect();
    starts.sort_by_key(|&i| (parsed[i].2.last, parsed[i].2.time_ms));
    if !parsed.is_empty() && !starts.iter().any(|&i| parsed[i].2.prev.is_none()) {
        findings.push(
            Finding::new(
                "checkpoint_missing",
                "the chain's first checkpoint (with `prev -`) is missing",
            )
            .chain(chain),
        );
    }
    let mut keyring = options.keyring.clone();
    let mut retired: Vec<(String, auditfed_schemas::seal::KeyId)> = Vec::new();
    let mut last_seen: Option<(u64, String)> = None;
    // The previous checkpoint in chain order, across segments: a segment that
    // starts after deleted checkpoints shows the hole in the covered range.
    let mut prev_cp: Option<&Checkpoint> = None;
    for start in starts {
        if let Some(prev) = parsed[start].2.prev {
            findings.push(
                Finding::new(
                    "checkpoint_missing",
                    "the checkpoint before this one is missing (deleted or edited)",
                )
                .chain(chain)
                .at(&parsed[start].0)
                .expected_found(
                    format!("a checkpoint with hash {}", short_hash(&prev)),
                    "none",
                ),
            );
        }
        let mut at = Some(start);
        while let Some(i) = at {
            let (path, note, cp) = &parsed[i];
            match note.verify(&keyring) {
                Ok((_, key)) => {
                    if retired
                        .iter()
                        .any(|(n, id)| *n == key.name() && *id == key.id())
                    {
                        findings.push(
                            Finding::new(
                                "checkpoint_retired_key",
                                format!(
                                    "signed by {} ({}), retired by an earlier rotation",
                                    key.name(),
                                    key.id()
                                ),
                            )
                            .chain(chain)
                            .at(path),
                        );
                    }
                    if let Some(p) = prev_cp {
                        coverage(chain, path, p, cp, findings);
                    }
                    if let Some((last, lpath)) = &last_seen
                        && cp.last < *last
                    {
                        findings.push(
                            Finding::new(
                                "checkpoint_rollback",
                                format!("covers fewer events than {lpath}"),
                            )
                            .chain(chain)
                            .at(path)
                            .expected_found(format!("last >= {last}"), cp.last.to_string()),
                        );
                    }
                    last_seen = Some((
                        cp.last.max(last_seen.as_ref().map_or(0, |l| l.0)),
                        path.clone(),
                    ));
                    if cp.kind == CheckpointKind::Rotation
                        && let Some(next) = &cp.next_key
                    {
                        retired.push((key.name().to_owned(), key.id()));
                        keyring.add(next.clone());
                    }
                    if cp.kind == CheckpointKind::Batch {
                        verified.batches.insert(cp.last, cp.clone());
                    }
                    verified.newest_last = verified.newest_last.max(cp.last);
                    verified.newest_time = Some(
                        verified
                            .newest_time
                            .map_or(cp.time_ms, |t| t.max(cp.time_ms)),
                    );
                }
                Err(e) => {
                    let kind = if e.to_string().contains("no signature by a trusted key") {
                        "checkpoint_unknown_key"
                    } else {
                        "checkpoint_bad_signature"
                    };
                    findings.push(Finding::new(kind, e.to_string()).chain(chain).at(path));
                }
            }
            prev_cp = Some(cp);
            at = children
                .get(&Some(note.hash()))
                .and_then(|k| k.first().copied());
        }
    }
    if let Some(trusted) = &options.trusted
        && let Ok((cp, _)) = trusted.verify(&options.keyring)
        && cp.chain == chain
    {
        if !by_hash.contains_key(&trusted.hash()) && cp.last > verified.newest_last {
            findings.push(
                Finding::new("truncated", "the archive ends before the trusted checkpoint: its tail was removed or rolled back")
                    .chain(chain)
                    .expected_found(format!("checkpoints up to seq {}", cp.last), format!("up to seq {}", verified.newest_last)),
            );
        }
        verified.trusted = Some((cp.last, cp.head));
    }
    if let (Some((now, max_age)), Some(newest)) = (options.freshness, verified.newest_time)
        && now - newest > max_age
    {
        findings.push(
            Finding::new("stale", "no checkpoint (not even a heartbeat) within the allowed age: the tail may be truncated")
                .chain(chain)
                .expected_found(format!("a checkpoint newer than {} ms ago", max_age), format!("newest {} ms ago", now - newest)),
        );
    }
    Ok(verified)
}

/// Consecutive checkpoints must cover consecutive ranges.
fn coverage(
    chain: &str,
    path: &str,
    prev: &Checkpoint,
    cp: &Checkpoint,
    findings: &mut Vec<Finding>,
) {
    let expected_first = if cp.batch_size() == 0 {
        prev.last
    } else {
        prev.last + 1
    };
    let ok = cp.first == expected_first || (cp.batch_size() == 0 && cp.last == prev.last);
    if !ok {
        findings.push(
            Finding::new(
                "checkpoint_gap",
                "this checkpoint does not continue where the previous one ended",
            )
            .chain(chain)
            .at(path)
            .expected_found(
                format!("first {expected_first}"),
                format!("first {}", cp.first),
            ),
        );
    }
}
