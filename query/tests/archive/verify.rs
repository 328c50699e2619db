//! One test per tamper scenario of issue 3: each builds a real sealed
//! archive (real CloudTrail events, sealer, Parquet writer, signed
//! checkpoints), tampers with it one way, and asserts the finding that
//! locates it. A clean archive must verify with no finding.

use crate::support;

use arrow_array::Array;
use auditfed_query::store::ArchiveStore;
use auditfed_query::verify::{Report, VerifyOptions, verify};
use support::*;

const FIXTURE: &str = "stratus-red-team__aws.execution.ssm-send-command.json";

/// 56 events, a checkpoint every 8, files of 10 rows.
fn archive(
    name: &str,
) -> (
    auditfed_query::store::LocalDir,
    Vec<auditfed_schemas::seal::SignedNote>,
) {
    build(&temp_dir(name), &events(FIXTURE), 8, 10, 1)
}

fn run(store: &dyn ArchiveStore) -> Report {
    verify(store, &VerifyOptions::new(keyring(1))).unwrap()
}

fn assert_finding(report: &Report, kind: &str, seq: Option<u64>) {
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == kind && (seq.is_none() || f.seq == seq)),
        "expected a `{kind}` finding at seq {seq:?}, got:\n{}",
        report
            .findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_clean_archive_verifies_with_a_summary() {
    let (store, notes) = archive("clean");
    let report = run(&store);
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.summary.events, 56);
    assert_eq!(report.summary.chains, 1);
    assert_eq!(report.summary.checkpoints, notes.len());
    assert_eq!(report.summary.checkpoints, 7);
    assert_eq!(report.summary.data_files, data_files(&store).len());
    assert!(report.summary.first_time.unwrap() <= report.summary.last_time.unwrap());
}

#[test]
fn a_modified_row_is_located() {
    let (store, _) = archive("modified");
    let path = &data_files(&store)[1]; // rows 11..=20
    let batch = read_batch(&store, path);
    let json = strings(&batch, "event_json")[2].clone();
    let tampered = set_string(
        &batch,
        "event_json",
        2,
        &json.replacen("\"time\":", "\"time\":1", 1),
    );
    write_batch(&store, path, &tampered);
    let report = run(&store);
    assert_finding(&report, "row_modified", Some(13));
    assert_finding(&report, "checkpoint_mismatch", Some(9));
}

#[test]
fn a_row_rewritten_with_recomputed_hashes_still_breaks_the_signed_checkpoint() {
    use auditfed_schemas::seal::{canonical_v1, chain_hash, leaf_hash};
    let dir = temp_dir("recomputed");
    let mut evs = events(FIXTURE);
    let (store, _) = build(&dir, &evs, 8, 100, 1);
    // The attacker rewrites event 5 and recomputes every leaf and chain hash after it.
    evs[4].message = Some("nothing to see".into());
    let forged_dir = temp_dir("recomputed-forged");
    let (forged, _) = build(&forged_dir, &evs, 8, 100, 1);
    let path = &data_files(&store)[0];
    std::fs::copy(forged_dir.join(path), dir.join(path)).unwrap();
    let _ = (
        canonical_v1::<serde_json::Value>,
        chain_hash,
        leaf_hash,
        forged,
    );
    let report = run(&store);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.kind == "row_modified" || f.kind == "chain_mismatch"),
        "the forged file is self-consistent"
    );
    assert_finding(&report, "checkpoint_mismatch", Some(1));
}

#[test]
fn a_deleted_row_is_located() {
    let (store, _) = archive("deleted-row");
    let path = &data_files(&store)[0];
    let batch = read_batch(&store, path);
    write_batch(&store, path, &take(&batch, &[0, 1, 2, 3, 5, 6, 7, 8, 9]));
    let report = run(&store);
    assert_finding(&report, "missing_rows", Some(5));
}

#[test]
fn an_inserted_row_is_located() {
    let (store, _) = archive("inserted-row");
    let path = &data_files(&store)[0];
    let batch = read_batch(&store, path);
    // A copy of row 3 with another seq slipped in after it.
    let mut inserted = take(&batch, &[0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]);
    let seq_idx = inserted.schema().index_of("seq").unwrap();
    let seqs: arrow_array::UInt64Array = (1..=11u64)
        .map(|s| if s <= 3 { s } else { s - 1 })
        .map(Some)
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let mut seqs_vec: Vec<u64> = seqs.values().to_vec();
    seqs_vec[3] = 3;
    let mut cols = inserted.columns().to_vec();
    cols[seq_idx] = std::sync::Arc::new(arrow_array::UInt64Array::from(seqs_vec));
    inserted = arrow_array::RecordBatch::try_new(inserted.schema(), cols).unwrap();
    write_batch(&store, path, &inserted);
    let report = run(&store);
    assert_finding(&report, "duplicate_row", Some(3));
}

#[test]
fn reordered_rows_are_located() {
    let (store, _) = archive("reordered");
    let path = &data_files(&store)[0];
    let batch = read_batch(&store, path);
    write_batch(&store, path, &take(&batch, &[0, 1, 2, 4, 3, 5, 6, 7, 8, 9]));
    let report = run(&store);
    assert_finding(&report, "rows_reordered", Some(4));
}

#[test]
fn swapped_contents_between_two_seqs_are_located() {
    let (store, _) = archive("swapped");
    let path = &data_files(&store)[0];
    let batch = read_batch(&store, path);
    let json = strings(&batch, "event_json");
    let (a, b) = (json[3].clone(), json[4].clone());
    let swapped = set_string(
        &set_string(&batch, "event_json", 3, &b),
        "event_json",
        4,
        &a,
    );
    write_batch(&store, path, &swapped);
    let report = run(&store);
    assert_finding(&report, "row_modified", Some(4));
    assert_finding(&report, "row_modified", Some(5));
}

#[test]
fn a_deleted_file_is_located() {
    let (store, _) = archive("deleted-file");
    store.delete(&data_files(&store)[2]).unwrap();
    let report = run(&store);
    assert_finding(&report, "missing_rows", Some(21));
}

#[test]
fn a_duplicated_file_under_another_name_is_found() {
    let (store, _) = archive("extra-file");
    let path = data_files(&store)[1].clone();
    let copy = path.replacen("/date=2", "/date=1", 1);
    store.write(&copy, &store.read(&path).unwrap()).unwrap();
    let report = run(&store);
    assert!(!report.is_clean());
    assert_finding(&report, "row_moved", None);
    assert_finding(&report, "duplicate_row", Some(11));
}

#[test]
fn an_unrelated_file_is_reported() {
    let (store, _) = archive("unexpected");
    store.write("notes.txt", b"hello").unwrap();
    let report = run(&store);
    assert_finding(&report, "unexpected_file", None);
}

#[test]
fn a_file_replaced_by_one_from_another_history_is_found() {
    let dir = temp_dir("replaced");
    let (store, _) = build(&dir, &events(FIXTURE), 8, 10, 1);
    let other_events =
        events("stratus-red-team__aws.credential-access.ec2-steal-instance-credentials.json");
    let other_dir = temp_dir("replaced-other");
    let (other, _) = build(&other_dir, &other_events, 8, 10, 1);
    // Same chain, same key, same seq range and name: a valid file of a different history.
    let path = data_files(&other)[1].clone();
    let target = data_files(&store)[1].clone();
    assert_eq!(path.rsplit('/').next(), target.rsplit('/').next());
    store.delete(&target).unwrap();
    store.write(&path, &other.read(&path).unwrap()).unwrap();
    let report = run(&store);
    assert_finding(&report, "chain_mismatch", Some(11));
}

#[test]
fn deleted_checkpoints_are_found_also_two_in_a_row() {
    let (store, _) = archive("deleted-cp");
    let cps = checkpoint_files(&store);
    store.delete(&cps[2]).unwrap();
    store.delete(&cps[3]).unwrap();
    let report = run(&store);
    assert_finding(&report, "checkpoint_missing", None);
    assert_finding(&report, "checkpoint_gap", None);
}

#[test]
fn an_edited_checkpoint_is_found() {
    let (store, _) = archive("edited-cp");
    let cp = checkpoint_files(&store)[1].clone();
    let text = String::from_utf8(store.read(&cp).unwrap().to_vec()).unwrap();
    store
        .write(&cp, text.replace("kind batch", "kind heartbeat").as_bytes())
        .unwrap();
    let report = run(&store);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.location.as_deref() == Some(cp.as_str())),
        "{:#?}",
        report.findings
    );
}

#[test]
fn tail_truncation_is_found_against_a_trusted_checkpoint_and_by_staleness() {
    let (store, notes) = archive("truncated");
    let trusted = notes.last().unwrap().clone();
    // Remove the last file and the checkpoints covering it: the rest is self-consistent.
    let files = data_files(&store);
    store.delete(files.last().unwrap()).unwrap();
    for cp in checkpoint_files(&store).iter().rev().take(2) {
        store.delete(cp).unwrap();
    }
    let clean_by_itself = run(&store);
    assert!(
        clean_by_itself
            .findings
            .iter()
            .all(|f| f.kind == "unsealed_rows"),
        "{:#?}",
        clean_by_itself.findings
    );
    let mut options = VerifyOptions::new(keyring(1));
    options.trusted = Some(trusted);
    let report = verify(&store, &options).unwrap();
    assert_finding(&report, "truncated", None);
    let mut options = VerifyOptions::new(keyring(1));
    options.freshness = Some((1_800_000_000_000 + 3_600_000, 600_000));
    assert_finding(&verify(&store, &options).unwrap(), "stale", None);
}

#[test]
fn a_fork_is_found_against_a_trusted_checkpoint_of_another_history() {
    let (store, _) = archive("fork");
    let mut evs = events(FIXTURE);
    evs[0].message = Some("another history".into());
    let (_, other_notes) = build(&temp_dir("fork-other"), &evs, 8, 10, 1);
    let mut options = VerifyOptions::new(keyring(1));
    options.trusted = Some(other_notes[2].clone());
    let report = verify(&store, &options).unwrap();
    assert_finding(&report, "fork", Some(24));
}

#[test]
fn checkpoints_by_an_unknown_key_are_reported() {
    let (store, _) = archive("unknown-key");
    let report = verify(&store, &VerifyOptions::new(keyring(2))).unwrap();
    assert_finding(&report, "checkpoint_unknown_key", None);
    assert_finding(&report, "no_checkpoints", None);
}

#[test]
fn canonicalization_tricks_are_found() {
    let (store, _) = archive("canonical");
    let path = &data_files(&store)[0];
    let batch = read_batch(&store, path);
    let json = strings(&batch, "event_json")[0].clone();
    // Same meaning, other bytes: reordered keys, `1.0` for `1`, escaped unicode, duplicate key.
    let variants = [
        json.replacen("{\"activity_id\"", "{ \"activity_id\"", 1),
        json.replacen("\"category_uid\":6,", "\"category_uid\":6.0,", 1),
        json.replacen("\"metadata\":", "\"\\u006detadata\":", 1),
        json.replacen(
            "{\"activity_id\":",
            "{\"activity_id\":2,\"activity_id\":",
            1,
        ),
    ];
    for variant in variants {
        assert_ne!(variant, json);
        write_batch(&store, path, &set_string(&batch, "event_json", 0, &variant));
        let report = run(&store);
        assert!(
            report
                .findings
                .iter()
                .any(
                    |f| (f.kind == "non_canonical_event_json" || f.kind == "invalid_event_json")
                        && f.seq == Some(1)
                ),
            "{variant}: {:#?}",
            report.findings
        );
    }
}

#[test]
fn an_altered_query_column_or_raw_record_is_found() {
    let (store, _) = archive("query-column");
    let path = &data_files(&store)[0];
    let batch = read_batch(&store, path);
    // SQL filters on these copies: they must say what the sealed event says.
    write_batch(
        &store,
        path,
        &set_string(&batch, "api_operation", 6, "DescribeNothing"),
    );
    let report = run(&store);
    assert_finding(&report, "column_modified", Some(7));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("`api_operation`")),
        "{:#?}",
        report.findings
    );
    // The raw record's hash is sealed in the event.
    let idx = batch.schema().index_of("raw_record").unwrap();
    let mut cols = batch.columns().to_vec();
    let raw = cols[idx]
        .as_any()
        .downcast_ref::<arrow_array::BinaryArray>()
        .unwrap();
    let changed: arrow_array::BinaryArray = (0..raw.len())
        .map(|i| {
            Some(if i == 2 {
                b"{}".as_slice()
            } else {
                raw.value(i)
            })
        })
        .collect();
    cols[idx] = std::sync::Arc::new(changed);
    write_batch(
        &store,
        path,
        &arrow_array::RecordBatch::try_new(batch.schema(), cols).unwrap(),
    );
    let report = run(&store);
    assert_finding(&report, "column_modified", Some(3));
}

#[test]
fn heartbeats_and_a_key_rotation_verify_under_the_first_pinned_key() {
    use auditfed_normalize::sealer::{Sealer, SealerConfig};
    use auditfed_query::writer::{SealedRow, write_checkpoint, write_rows};
    let dir = temp_dir("rotation");
    let store = auditfed_query::store::LocalDir::new(&dir);
    let evs = events(FIXTURE);
    let config = SealerConfig {
        checkpoint_every_events: 4,
        checkpoint_every_ms: 1_000_000,
        heartbeat_every_ms: 1_000,
    };
    let mut sealer = Sealer::new(CHAIN, config, signer(1), 0).unwrap();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let seal = |sealer: &mut Sealer,
                e: &auditfed_schemas::ocsf::Event,
                t: i64,
                rows: &mut Vec<SealedRow>,
                notes: &mut Vec<_>| {
        let (s, note) = sealer.seal(e, t).unwrap();
        notes.extend(note);
        rows.push(SealedRow {
            event: e.clone(),
            event_json: s.canonical,
            raw_record: None,
            source: "aws_cloudtrail".into(),
            chain: CHAIN.into(),
            seq: s.seq,
            leaf: s.leaf,
            chain_hash: s.chain_hash,
        });
    };
    for (i, e) in evs[..8].iter().enumerate() {
        seal(&mut sealer, e, i as i64, &mut rows, &mut notes);
    }
    notes.extend(sealer.tick(5_000).unwrap()); // idle: a heartbeat
    notes.extend(sealer.rotate(signer(2), 6_000).unwrap());
    for (i, e) in evs[8..13].iter().enumerate() {
        seal(&mut sealer, e, 7_000 + i as i64, &mut rows, &mut notes);
    }
    notes.extend(sealer.flush(8_000).unwrap());
    write_rows(&store, &rows).unwrap();
    for n in &notes {
        write_checkpoint(&store, n).unwrap();
    }
    assert!(
        checkpoint_files(&store)
            .iter()
            .any(|p| p.ends_with("heartbeat.note"))
    );
    assert!(
        checkpoint_files(&store)
            .iter()
            .any(|p| p.ends_with("rotation.note"))
    );
    let report = verify(&store, &VerifyOptions::new(keyring(1))).unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.summary.events, 13);
    // Pinning only the new key: the checkpoints before the rotation are unknown.
    assert_finding(
        &verify(&store, &VerifyOptions::new(keyring(2))).unwrap(),
        "checkpoint_unknown_key",
        None,
    );
}

#[test]
fn an_empty_archive_does_not_verify() {
    let store = auditfed_query::store::LocalDir::new(temp_dir("empty"));
    assert_finding(&run(&store), "empty_archive", None);
}

#[test]
fn a_narrowed_page_index_entry_is_found() {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let (store, _) = archive("page-index");
    let path = data_files(&store)[0].clone();
    let batch = read_batch(&store, &path);
    // Rewrite the file with pages of 3 rows and a column index.
    let props = WriterProperties::builder()
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(3)
        .set_write_batch_size(3)
        .build();
    let mut bytes = Vec::new();
    let mut w = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    assert!(
        run(&{
            store.write(&path, &bytes).unwrap();
            store.clone()
        })
        .is_clean()
    );
    // Lower the max `time` of the first page inside the column index only.
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
    let time_col = batch.schema().index_of("time").unwrap();
    let chunk = reader.metadata().row_group(0).column(time_col);
    let (offset, len) = (
        chunk.column_index_offset().unwrap() as usize,
        chunk.column_index_length().unwrap() as usize,
    );
    let times = batch
        .column(time_col)
        .as_any()
        .downcast_ref::<arrow_array::TimestampMillisecondArray>()
        .unwrap();
    let first_page_max = (0..3).map(|i| times.value(i)).max().unwrap();
    let needle = first_page_max.to_le_bytes();
    let region = &mut bytes[offset..offset + len];
    let at = region
        .windows(8)
        .position(|w| w == needle)
        .expect("the page max is in the column index");
    region[at..at + 8].copy_from_slice(&(first_page_max - 1).to_le_bytes());
    store.write(&path, &bytes).unwrap();
    let report = run(&store);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == "statistics_mismatch" && f.message.contains("page 0")),
        "{:#?}",
        report.findings
    );
}

#[test]
fn chains_are_verified_independently_and_findings_name_their_chain() {
    let dir = temp_dir("two-chains");
    let evs = events(FIXTURE);
    let (store, _) = build_chain(&dir, "auditfed.raw.aws_cloudtrail/0", &evs[..20], 4, 6, 1);
    build_chain(&dir, "auditfed.raw.aws_cloudtrail/1", &evs[20..], 4, 6, 1);
    let report = run(&store);
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!((report.summary.chains, report.summary.events), (2, 56));
    let victim = data_files(&store)
        .into_iter()
        .find(|p| p.contains("%2F1."))
        .unwrap();
    store.delete(&victim).unwrap();
    let report = run(&store);
    assert!(!report.findings.is_empty());
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.chain.as_deref() == Some("auditfed.raw.aws_cloudtrail/1")),
        "{:#?}",
        report.findings
    );
}
