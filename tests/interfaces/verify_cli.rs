//! `auditfed keygen` + `auditfed verify` end to end: a key made by the CLI
//! seals an archive (sealer + archive writer, as the archiver will), the CLI
//! verifies it, then finds a tampered row.

use crate::support;

use std::process::Command;
use std::sync::Arc;

use auditfed_normalize::sealer::{Sealer, SealerConfig};
use auditfed_normalize::{Output, normalize};
use auditfed_query::store::{ArchiveStore, LocalDir};
use auditfed_query::writer::{SealedRow, write_checkpoint, write_rows};
use auditfed_schemas::seal::FileSigner;
use auditfed_schemas::{SourceMeta, SourceType};
use support::{root, temp_dir};

fn auditfed(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_auditfed"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn verify_accepts_a_sealed_archive_and_locates_tampering() {
    let dir = temp_dir("verify-cli");
    let keys = dir.join("keys");
    let archive = dir.join("archive");
    let (code, _, err) = auditfed(&["keygen", "--out", keys.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let pem = std::fs::read_to_string(keys.join("auditfed.key")).unwrap();
    let signer = Arc::new(FileSigner::from_pem("auditfed", &pem).unwrap());

    let input =
        std::fs::read(root().join(
            "normalize/tests/fixtures/k8s_audit/falco__create_configmap_sensitive_values.json",
        ))
        .unwrap();
    let store = LocalDir::new(&archive);
    let config = SealerConfig {
        checkpoint_every_events: 4,
        ..SealerConfig::default()
    };
    let mut sealer = Sealer::new("k8s/0", config, signer, 0).unwrap();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for out in normalize(Some(SourceType::K8sAudit), &input, &SourceMeta::default()) {
        let Ok(Output::Event(event)) = out else {
            panic!("fixture maps")
        };
        let (sealed, note) = sealer.seal(&*event, 1).unwrap();
        notes.extend(note);
        rows.push(SealedRow {
            event: *event,
            event_json: sealed.canonical,
            raw_record: None,
            source: "k8s_audit".into(),
            chain: sealed.chain,
            seq: sealed.seq,
            leaf: sealed.leaf,
            chain_hash: sealed.chain_hash,
        });
    }
    notes.extend(sealer.flush(2).unwrap());
    write_rows(&store, &rows).unwrap();
    for note in &notes {
        write_checkpoint(&store, note).unwrap();
    }

    let keyring = keys.join("keyring");
    let args = [
        "verify",
        "--archive",
        archive.to_str().unwrap(),
        "--keys",
        keyring.to_str().unwrap(),
    ];
    let (code, out, err) = auditfed(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("1 chain(s), 6 event(s) in 1 file(s), 2 checkpoint(s)") && out.contains("OK:"),
        "{out}"
    );

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let (code, out, _) = auditfed(&json_args);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["summary"]["events"], 6);

    // A single event's proof, checked offline.
    let bundle = dir.join("proof.json");
    let (code, _, err) = auditfed(&[
        "prove",
        "--archive",
        archive.to_str().unwrap(),
        "--event",
        "k8s/0:3",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = auditfed(&[
        "verify-proof",
        bundle.to_str().unwrap(),
        "--keys",
        keyring.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("OK: event k8s/0:3 is included in the checkpoint of 1..=4"),
        "{out}"
    );
    let forged = std::fs::read_to_string(&bundle)
        .unwrap()
        .replacen("configmaps", "secrets", 1);
    std::fs::write(&bundle, forged).unwrap();
    let (code, out, _) = auditfed(&[
        "verify-proof",
        bundle.to_str().unwrap(),
        "--keys",
        keyring.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAIL"), "{out}");

    // Delete the first checkpoint: the archive no longer verifies, and says where.
    let first_note = store
        .list()
        .unwrap()
        .into_iter()
        .find(|p| p.ends_with("batch.note"))
        .unwrap();
    store.delete(&first_note).unwrap();
    let (code, out, _) = auditfed(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL checkpoint_missing"), "{out}");

    let (code, _, err) = auditfed(&[
        "verify",
        "--archive",
        "ftp://bucket/x",
        "--keys",
        keyring.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unsupported archive URL scheme `ftp`"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
