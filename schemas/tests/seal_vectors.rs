//! The seal-v1 test vectors (docs/integrity.md §8): recomputed here and
//! compared byte for byte with the committed `vectors/seal-v1.json`, so any
//! change to the format is caught. `UPDATE_VECTORS=1` rewrites the file
//! (only for a new format version: v1 vectors never change).

use std::path::PathBuf;

use auditfed_schemas::seal::{
    Checkpoint, CheckpointKind, FileSigner, Hash, Keyring, SignedNote, Signer, audit_path,
    canonical_v1, chain_hash, genesis, leaf_hash, merkle_root, parse_strict,
};
use serde_json::{Value, json};

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start + i as u8)
}

/// Inputs whose canonical form exercises every JCS rule.
const CANONICAL_CASES: &[(&str, &str)] = &[
    ("key order", r#"{"b":2,"a":1,"c":{"z":0,"y":[3,2,1]}}"#),
    (
        "number forms",
        r#"{"one":1.0,"exp":1e0,"big":1e21,"small":1e-7,"neg_zero":-0,"frac":0.1}"#,
    ),
    (
        "escaped unicode",
        r#"{"e":"\u00e9","smile":"\ud83d\ude00","ctl":"\u001f","quote":"\"\\\/"}"#,
    ),
    (
        "utf-16 key order",
        r#"{"\u20ac":1,"\ud83d\ude00":2,"a":3,"\ufb01":4}"#,
    ),
    (
        "ocsf-like",
        r#"{"class_uid":6003,"activity_id":1,"time":1714564800000,"metadata":{"version":"1.8.0","product":{"name":"CloudTrail"}},"api":{"operation":"CreateUser"}}"#,
    ),
];

fn build() -> Value {
    let canonical: Vec<Value> = CANONICAL_CASES
        .iter()
        .map(|(name, input)| {
            let c = canonical_v1(&parse_strict(input.as_bytes()).unwrap()).unwrap();
            json!({"name": name, "input": input, "canonical": String::from_utf8(c.clone()).unwrap(), "leaf": hex(&leaf_hash(&c))})
        })
        .collect();

    let chain_id = "vectors/0";
    let events: Vec<Vec<u8>> = (1..=5)
        .map(|i| canonical_v1(&json!({"seq": i, "msg": format!("event {i}")})).unwrap())
        .collect();
    let leaves: Vec<Hash> = events.iter().map(|e| leaf_hash(e)).collect();
    let mut head = genesis(chain_id);
    let mut chain = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        head = chain_hash(&head, leaf);
        chain.push(json!({"seq": i + 1, "canonical": String::from_utf8(events[i].clone()).unwrap(), "leaf": hex(leaf), "chain": hex(&head)}));
    }

    let merkle: Vec<Value> = (1..=7)
        .map(|n| {
            let l: Vec<Hash> = (0..n).map(|i| leaf_hash(format!("{{\"i\":{i}}}").as_bytes())).collect();
            let paths: Vec<Vec<String>> = (0..n).map(|i| audit_path(&l, i).iter().map(|h| hex(h)).collect()).collect();
            json!({"size": n, "leaves": l.iter().map(|h| hex(h)).collect::<Vec<_>>(), "root": hex(&merkle_root(&l)), "audit_paths": paths})
        })
        .collect();

    let key1 = FileSigner::from_seed("auditfed-test", &seed(0)).unwrap();
    let key2 = FileSigner::from_seed("auditfed-test-2", &seed(32)).unwrap();
    let batch = Checkpoint {
        chain: chain_id.into(),
        kind: CheckpointKind::Batch,
        first: 1,
        last: 5,
        head,
        root: merkle_root(&leaves),
        prev: None,
        time_ms: 1_764_237_600_000,
        next_key: None,
    };
    let batch_note = batch.sign(&key1).unwrap();
    let heartbeat = Checkpoint {
        kind: CheckpointKind::Heartbeat,
        first: 5,
        root: merkle_root(&[]),
        prev: Some(batch_note.hash()),
        time_ms: batch.time_ms + 60_000,
        ..batch.clone()
    };
    let heartbeat_note = heartbeat.sign(&key1).unwrap();
    let rotation = Checkpoint {
        kind: CheckpointKind::Rotation,
        prev: Some(heartbeat_note.hash()),
        time_ms: heartbeat.time_ms + 1,
        next_key: Some(key2.verifier_key()),
        ..heartbeat.clone()
    };
    let rotation_note = rotation.sign(&key1).unwrap();
    json!({
        "format": "auditfed-seal/v1",
        "keys": [
            {"name": "auditfed-test", "seed": hex(&seed(0)), "verifier_key": key1.verifier_key().to_string()},
            {"name": "auditfed-test-2", "seed": hex(&seed(32)), "verifier_key": key2.verifier_key().to_string()},
        ],
        "canonical": canonical,
        "chain": {"id": chain_id, "genesis": hex(&genesis(chain_id)), "events": chain},
        "merkle": merkle,
        "checkpoints": [
            {"note": batch_note.to_string(), "note_sha256": hex(&batch_note.hash())},
            {"note": heartbeat_note.to_string(), "note_sha256": hex(&heartbeat_note.hash())},
            {"note": rotation_note.to_string(), "note_sha256": hex(&rotation_note.hash())},
        ],
    })
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/seal-v1.json")
}

#[test]
fn implementation_matches_the_committed_vectors() {
    let actual = build();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(
            path(),
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        )
        .unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    assert_eq!(
        actual, committed,
        "the seal-v1 vectors changed: v1 is frozen, a change needs a new version"
    );
}

#[test]
fn committed_checkpoints_verify_under_the_committed_keys_and_chain_through_prev() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    let ring = Keyring::parse(v["keys"][0]["verifier_key"].as_str().unwrap()).unwrap();
    let mut prev = None;
    for cp in v["checkpoints"].as_array().unwrap() {
        let note = SignedNote::parse(cp["note"].as_str().unwrap()).unwrap();
        let (checkpoint, key) = note.verify(&ring).unwrap();
        assert_eq!(key.name(), "auditfed-test");
        assert_eq!(checkpoint.prev, prev);
        assert_eq!(hex(&note.hash()), cp["note_sha256"].as_str().unwrap());
        prev = Some(note.hash());
    }
}
