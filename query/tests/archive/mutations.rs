//! Property tests: clean archives of any shape are never flagged; any random
//! mutation of a sealed archive is always detected (the auditor holds the
//! newest checkpoint, as docs/integrity.md recommends).

use crate::support;

use std::sync::OnceLock;

use arrow_array::{Array, RecordBatch, UInt64Array};
use auditfed_query::store::{ArchiveStore, LocalDir};
use auditfed_query::verify::{VerifyOptions, verify};
use auditfed_schemas::ocsf::Event;
use proptest::prelude::*;
use support::*;

fn all_events() -> &'static Vec<Event> {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let mut e = events("stratus-red-team__aws.execution.ssm-send-command.json");
        e.extend(events(
            "stratus-red-team__aws.credential-access.ec2-get-password-data.json",
        ));
        e
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    ChangeJsonChar { file: usize, row: usize, at: usize },
    DeleteRow { file: usize, row: usize },
    DuplicateRow { file: usize, row: usize },
    SwapRows { file: usize, a: usize, b: usize },
    ChangeSeq { file: usize, row: usize, delta: u64 },
    ChangeQueryColumn { file: usize, row: usize },
    DeleteFile { file: usize },
    DeleteCheckpoint { cp: usize },
    EditCheckpointByte { cp: usize, at: usize },
    TruncateTail,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let ix = 0usize..1000;
    prop_oneof![
        (ix.clone(), ix.clone(), ix.clone()).prop_map(|(file, row, at)| Mutation::ChangeJsonChar {
            file,
            row,
            at
        }),
        (ix.clone(), ix.clone()).prop_map(|(file, row)| Mutation::DeleteRow { file, row }),
        (ix.clone(), ix.clone()).prop_map(|(file, row)| Mutation::DuplicateRow { file, row }),
        (ix.clone(), ix.clone(), ix.clone()).prop_map(|(file, a, b)| Mutation::SwapRows {
            file,
            a,
            b
        }),
        (ix.clone(), ix.clone(), 1u64..5).prop_map(|(file, row, delta)| Mutation::ChangeSeq {
            file,
            row,
            delta
        }),
        (ix.clone(), ix.clone()).prop_map(|(file, row)| Mutation::ChangeQueryColumn { file, row }),
        ix.clone().prop_map(|file| Mutation::DeleteFile { file }),
        ix.clone().prop_map(|cp| Mutation::DeleteCheckpoint { cp }),
        (ix.clone(), ix).prop_map(|(cp, at)| Mutation::EditCheckpointByte { cp, at }),
        Just(Mutation::TruncateTail),
    ]
}

/// Applies the mutation; false when it would leave the archive unchanged.
fn apply(store: &LocalDir, m: &Mutation) -> bool {
    let files = data_files(store);
    let cps = checkpoint_files(store);
    let pick = |v: &Vec<String>, i: usize| v[i % v.len()].clone();
    match m {
        Mutation::ChangeJsonChar { file, row, at } => {
            let path = pick(&files, *file);
            let batch = read_batch(store, &path);
            let row = row % batch.num_rows();
            let json = &strings(&batch, "event_json")[row];
            let chars: Vec<char> = json.chars().collect();
            let at = at % chars.len();
            let mut changed = chars.clone();
            changed[at] = if chars[at] == 'x' { 'y' } else { 'x' };
            write_batch(
                store,
                &path,
                &set_string(
                    &batch,
                    "event_json",
                    row,
                    &changed.into_iter().collect::<String>(),
                ),
            );
        }
        Mutation::DeleteRow { file, row } => {
            let path = pick(&files, *file);
            let batch = read_batch(store, &path);
            let row = (row % batch.num_rows()) as u32;
            let keep: Vec<u32> = (0..batch.num_rows() as u32).filter(|i| *i != row).collect();
            if keep.is_empty() {
                store.delete(&path).unwrap();
            } else {
                write_batch(store, &path, &take(&batch, &keep));
            }
        }
        Mutation::DuplicateRow { file, row } => {
            let path = pick(&files, *file);
            let batch = read_batch(store, &path);
            let row = (row % batch.num_rows()) as u32;
            let mut idx: Vec<u32> = (0..batch.num_rows() as u32).collect();
            idx.insert(row as usize, row);
            write_batch(store, &path, &take(&batch, &idx));
        }
        Mutation::SwapRows { file, a, b } => {
            let path = pick(&files, *file);
            let batch = read_batch(store, &path);
            let (a, b) = (a % batch.num_rows(), b % batch.num_rows());
            if a == b {
                return false;
            }
            let mut idx: Vec<u32> = (0..batch.num_rows() as u32).collect();
            idx.swap(a, b);
            write_batch(store, &path, &take(&batch, &idx));
        }
        Mutation::ChangeSeq { file, row, delta } => {
            let path = pick(&files, *file);
            let batch = read_batch(store, &path);
            let row = row % batch.num_rows();
            let i = batch.schema().index_of("seq").unwrap();
            let old = batch
                .column(i)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .unwrap();
            let new: UInt64Array = (0..old.len())
                .map(|j| {
                    Some(if j == row {
                        old.value(j) + delta
                    } else {
                        old.value(j)
                    })
                })
                .collect();
            let mut cols = batch.columns().to_vec();
            cols[i] = std::sync::Arc::new(new);
            write_batch(
                store,
                &path,
                &RecordBatch::try_new(batch.schema(), cols).unwrap(),
            );
        }
        Mutation::ChangeQueryColumn { file, row } => {
            let path = pick(&files, *file);
            let batch = read_batch(store, &path);
            let row = row % batch.num_rows();
            write_batch(
                store,
                &path,
                &set_string(&batch, "class_name", row, "Nothing Happened"),
            );
        }
        Mutation::DeleteFile { file } => store.delete(&pick(&files, *file)).unwrap(),
        Mutation::DeleteCheckpoint { cp } => store.delete(&pick(&cps, *cp)).unwrap(),
        Mutation::EditCheckpointByte { cp, at } => {
            let path = pick(&cps, *cp);
            let mut bytes = store.read(&path).unwrap().to_vec();
            let at = at % bytes.len();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            store.write(&path, &bytes).unwrap();
        }
        Mutation::TruncateTail => {
            store.delete(files.last().unwrap()).unwrap();
            store.delete(cps.last().unwrap()).unwrap();
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn clean_archives_of_any_shape_are_never_flagged(n in 1usize..40, every in 1u64..12, file_rows in 1usize..15) {
        let (store, notes) = build(&temp_dir("prop-clean"), &all_events()[..n], every, file_rows, 1);
        let mut options = VerifyOptions::new(keyring(1));
        options.trusted = notes.last().cloned();
        let report = verify(&store, &options).unwrap();
        prop_assert!(report.is_clean(), "{:#?}", report.findings);
        prop_assert_eq!(report.summary.events, n as u64);
    }

    #[test]
    fn every_mutation_of_a_sealed_archive_is_detected(n in 8usize..40, every in 2u64..10, file_rows in 3usize..12, m in mutation()) {
        let (store, notes) = build(&temp_dir("prop-mutate"), &all_events()[..n], every, file_rows, 1);
        prop_assume!(apply(&store, &m));
        let mut options = VerifyOptions::new(keyring(1));
        options.trusted = notes.last().cloned();
        let report = verify(&store, &options).unwrap();
        prop_assert!(!report.is_clean(), "undetected: {:?}", m);
    }
}
