//! Reports over real sealed archives: the bundle verifies and every kind
//! of tampering with it is found; a re-run over an archive that grew gives
//! the same results (and over a changed archive, different ones); the SIEM
//! delivery view counts events by their seal, not by their source id.

use crate::support;

use std::collections::BTreeMap;

use auditfed_query::blocks::SideTable;
use auditfed_query::receipts::ReceiptBlocks;
use auditfed_query::report::bundle::{SideLocations, rerun, verify_bundle, write_bundle};
use auditfed_query::report::pack::Pack;
use auditfed_query::report::run::{RunSpec, pin, run, validate};
use auditfed_query::sql::{Archive, Catalog};
use auditfed_query::store::{ArchiveStore, LocalDir};
use support::*;

const FIXTURE: &str = "stratus-red-team__aws.execution.ssm-send-command.json";

/// Copies the files of `from` that `keep` selects into `to`.
fn copy(from: &LocalDir, to: &LocalDir, keep: impl Fn(&str) -> bool) {
    for path in from.list().unwrap() {
        if keep(&path) {
            to.write(&path, &from.read(&path).unwrap()).unwrap();
        }
    }
}

/// The last sequence number a data file or checkpoint of the layout covers.
fn last_seq(path: &str) -> u64 {
    use auditfed_schemas::archive::layout::{CheckpointFile, DataFile};
    DataFile::parse(path)
        .map(|f| f.last)
        .or_else(|| CheckpointFile::parse(path).map(|f| f.last))
        .unwrap()
}

fn spec(pack: Pack, dir: &std::path::Path) -> RunSpec {
    RunSpec {
        pack,
        params: BTreeMap::new(),
        from_ms: 0,
        to_ms: 4_000_000_000_000,
        archives: vec![Archive::new("main", &dir.display().to_string())],
        receipts: None,
        coverage: None,
        keyring: keyring(1),
        dead_letters: None,
    }
}

#[test]
fn a_bundle_verifies_and_a_rerun_over_a_grown_archive_gives_the_same_results() {
    // The whole history: 56 events, a checkpoint every 8, files of 8 rows.
    let full = temp_dir("report-full");
    let (full_store, _) = build(&full, &events(FIXTURE), 8, 8, 1);
    // The archive when the report runs: the first 24 events and their checkpoints.
    let dir = temp_dir("report-archive");
    let store = LocalDir::new(&dir);
    copy(&full_store, &store, |p| last_seq(p) <= 24);
    let pack = Pack::load("pci-dss-4.0").unwrap();
    validate(&pack).unwrap();
    let spec = spec(pack.clone(), &dir);
    let pinned = pin(&spec).unwrap();
    assert_eq!(pinned.chains.len(), 1);
    assert_eq!(pinned.chains[0].last_seq, 24);
    let data = run(&spec, pinned, 1_800_000_000_000).unwrap();
    let status = |id: &str| {
        data.controls
            .iter()
            .find(|c| c.control.id == id)
            .map(|c| c.status.as_str())
            .unwrap()
    };
    assert_eq!(status("10.3.2"), "pass");
    assert_eq!(status("10.3.4"), "pass");
    assert_eq!(status("10.3.1"), "manual");
    assert!(data.health.flags.is_empty(), "{:?}", data.health.flags);
    let sealed: u64 = data.health.archives.iter().map(|a| a.sealed_events).sum();
    assert_eq!(sealed, 24);
    let per_source: u64 = data.charts.per_source.iter().map(|s| s.1).sum();
    assert_eq!(per_source, 24, "the report sees the pinned rows only");

    let out = temp_dir("report-bundle");
    let bundle = LocalDir::new(&out);
    let signer = signer(1);
    let manifest = write_bundle(
        &bundle,
        &data,
        &pack,
        &BTreeMap::new(),
        &SideLocations::default(),
        signer.as_ref(),
    )
    .unwrap();
    let (read, findings) = verify_bundle(&bundle, &keyring(1)).unwrap();
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(read.as_ref(), Some(&manifest));
    assert!(
        manifest
            .files
            .iter()
            .any(|f| f.path == "controls/10.3.2.csv")
    );
    // Under another keyring the signature (and the pinned checkpoints) do not verify.
    let (_, other) = verify_bundle(&bundle, &keyring(2)).unwrap();
    assert!(other.iter().any(|f| f.kind == "signature"), "{other:?}");
    assert!(other.iter().any(|f| f.kind == "checkpoint"), "{other:?}");

    // More events are archived: the rest of the history.
    copy(&full_store, &store, |p| last_seq(p) > 24);
    let archives = vec![("main".to_owned(), dir.display().to_string())];
    let again = rerun(&manifest, &archives, &keyring(1), &SideLocations::default()).unwrap();
    assert!(again.is_empty(), "{again:?}");
    // Unpinned, the same pack sees more: the pins are what made it equal.
    let grown = run(&spec, pin(&spec).unwrap(), 0).unwrap();
    let seen: u64 = grown.charts.per_source.iter().map(|s| s.1).sum();
    assert_eq!(seen, 56);

    // The archive is changed under the report: a pinned row edited.
    let first = data_files(&store)[0].clone();
    let batch = read_batch(&store, &first);
    write_batch(
        &store,
        &first,
        &set_string(&batch, "actor_user_name", 0, "mallory"),
    );
    let changed = rerun(&manifest, &archives, &keyring(1), &SideLocations::default()).unwrap();
    assert!(
        changed
            .iter()
            .any(|f| f.kind == "rerun_differs" && f.at.contains("10.3")),
        "{changed:?}"
    );
    for d in [full, dir, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn every_kind_of_change_to_a_bundle_is_found() {
    let dir = temp_dir("report-tamper-archive");
    build(&dir, &events(FIXTURE), 8, 10, 1);
    let pack = Pack::load("hipaa").unwrap();
    let spec = spec(pack.clone(), &dir);
    let data = run(&spec, pin(&spec).unwrap(), 1_800_000_000_000).unwrap();
    type Tamper<'a> = &'a dyn Fn(&LocalDir);
    let cases: [(&str, Tamper, &str); 6] = [
        (
            "html edited",
            &|b| {
                b.write("report.html", b"<html>nothing to see</html>")
                    .unwrap()
            },
            "file_modified",
        ),
        (
            "csv edited",
            &|b| {
                let path = "controls/164.312_b_.csv";
                let text = String::from_utf8(b.read(path).unwrap().to_vec()).unwrap();
                b.write(
                    path,
                    text.replace("fail", "pass")
                        .replace("verified", "fine")
                        .as_bytes(),
                )
                .unwrap()
            },
            "file_modified",
        ),
        (
            "pdf deleted",
            &|b| b.delete("report.pdf").unwrap(),
            "file_missing",
        ),
        (
            "file added",
            &|b| b.write("controls/extra.csv", b"a\n1\n").unwrap(),
            "file_unlisted",
        ),
        (
            "manifest edited",
            &|b| {
                let text = String::from_utf8(b.read("manifest.json").unwrap().to_vec()).unwrap();
                b.write(
                    "manifest.json",
                    text.replacen("\"fail\"", "\"pass\"", 1)
                        .replacen("\"manual\"", "\"pass\"", 1)
                        .as_bytes(),
                )
                .unwrap()
            },
            "manifest_hash",
        ),
        (
            "signature replaced",
            &|b| {
                let text = String::from_utf8(b.read("manifest.sig").unwrap().to_vec()).unwrap();
                let forged = auditfed_schemas::seal::SignedNote::sign(
                    text.split("\n\n").next().unwrap().to_owned() + "\n",
                    signer(9).as_ref(),
                )
                .unwrap();
                b.write("manifest.sig", forged.to_string().as_bytes())
                    .unwrap()
            },
            "signature",
        ),
    ];
    for (name, tamper, kind) in cases {
        let out = temp_dir(&format!("report-tamper-{}", name.replace(' ', "-")));
        let bundle = LocalDir::new(&out);
        write_bundle(
            &bundle,
            &data,
            &pack,
            &BTreeMap::new(),
            &SideLocations::default(),
            signer(1).as_ref(),
        )
        .unwrap();
        assert!(
            verify_bundle(&bundle, &keyring(1)).unwrap().1.is_empty(),
            "{name}: clean first"
        );
        tamper(&bundle);
        let (_, findings) = verify_bundle(&bundle, &keyring(1)).unwrap();
        assert!(
            findings.iter().any(|f| f.kind == kind),
            "{name}: expected a {kind} finding, got {findings:?}"
        );
        let _ = std::fs::remove_dir_all(out);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn undelivered_names_events_by_their_seal_not_by_a_repeated_source_id() {
    // Two events with the same source id (as syslog lines once had: none).
    let mut events = events(FIXTURE);
    events.truncate(6);
    for e in &mut events[..2] {
        e.metadata.uid = Some("same-id".into());
    }
    let dir = temp_dir("report-undelivered");
    build(&dir, &events, 8, 10, 1);
    let receipts_dir = temp_dir("report-undelivered-receipts");
    let receipts = LocalDir::new(&receipts_dir);
    let mut blocks = ReceiptBlocks::default();
    // The sink delivered seq 1 only.
    let receipt = format!(
        r#"{{"sink":"splunk","event_uid":"same-id","chain":"{CHAIN}","seq":1,"batch":"b","time_ms":0,"outcome":"delivered","mode":"run"}}"#
    );
    blocks.take(&receipts, 0, 0, receipt.as_bytes()).unwrap();
    blocks.flush(&receipts).unwrap();
    let catalog = Catalog::with_receipts(
        &[Archive::new("main", &dir.display().to_string())],
        Some(&receipts_dir.display().to_string()),
    )
    .unwrap();
    let batches = catalog
        .query("SELECT seq FROM undelivered WHERE sink = 'splunk' ORDER BY seq")
        .unwrap();
    let seqs: Vec<u64> = batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::UInt64Array>()
                .unwrap()
                .clone();
            a.values().to_vec()
        })
        .collect();
    // Joined on the source id, seq 2 would pass for delivered too.
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(receipts_dir);
}
