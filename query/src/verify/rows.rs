//! Row checks: streams a chain's rows in sequence order across all its
//! files, recomputing leaves, chain hashes and checkpoint Merkle roots.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use auditfed_schemas::archive::layout::{DataFile, date_of};
use auditfed_schemas::archive::{QueryColumns, archive_schema};
use auditfed_schemas::ocsf::Event;
use auditfed_schemas::seal::{
    CompactRange, Hash, canonical_event, canonical_value, chain_hash, genesis, leaf_hash,
    parse_strict,
};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;

use super::checkpoints::Verified;
use super::derived::derived_mismatch;
use super::stats::{Place, RowGroupRange};
use super::{Finding, Report, VerifyOptions, short_hash};
use crate::QueryError;
use crate::store::ArchiveStore;

struct Row {
    seq: u64,
    event_json: String,
    leaf: Hash,
    chain_hash: Hash,
    time_ms: i64,
    /// Row number in its file, for messages.
    index: usize,
}

struct Loaded {
    path: String,
    rows: Vec<Row>,
    pos: usize,
}

/// Reads one data file, checking what can be checked within it.
fn load(
    store: &dyn ArchiveStore,
    file: &DataFile,
    findings: &mut Vec<Finding>,
) -> Result<Loaded, QueryError> {
    let path = file.path();
    let chain = file.chain.as_str();
    let bad_file = |why: String| {
        Finding::new("file_unreadable", why)
            .chain(chain)
            .at(path.clone())
    };
    let bytes = store.read(&path)?;
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    // The footer (and page index) is parsed once and shared by every row group's reader.
    let reader_metadata = match ArrowReaderMetadata::load(&bytes, options) {
        Ok(m) => m,
        Err(e) => {
            findings.push(bad_file(format!("not a readable Parquet file: {e}")));
            return Ok(Loaded {
                path,
                rows: Vec::new(),
                pos: 0,
            });
        }
    };
    // Every column is read: the query columns and the raw record are
    // checked against the sealed event too, so SQL cannot be fed altered copies.
    let arrow_schema = reader_metadata.schema().clone();
    for field in archive_schema().fields() {
        if arrow_schema.index_of(field.name()).is_err() {
            findings.push(bad_file(format!("column `{}` is missing", field.name())));
            return Ok(Loaded {
                path,
                rows: Vec::new(),
                pos: 0,
            });
        }
    }
    // Row group by row group, so each group's statistics can be checked against its data.
    let metadata = reader_metadata.metadata().clone();
    let names: Vec<String> = arrow_schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows = Vec::new();
    'groups: for rg in 0..metadata.num_row_groups() {
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            bytes.clone(),
            reader_metadata.clone(),
        )
        .with_row_groups(vec![rg])
        .build()
        .map_err(|e| QueryError::Parquet(format!("{path}: {e}")))?;
        let page_starts: Vec<Vec<i64>> = metadata
            .offset_index()
            .and_then(|o| o.get(rg))
            .map(|cols| {
                cols.iter()
                    .map(|c| {
                        c.page_locations()
                            .iter()
                            .map(|p| p.first_row_index)
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut range = RowGroupRange::new(page_starts);
        for batch in reader {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    findings.push(bad_file(format!("cannot decode: {e}")));
                    break 'groups;
                }
            };
            range.add(&batch);
            if let Err(e) = decode(&batch, file, &path, rows.len(), &mut rows, findings) {
                findings.push(bad_file(e));
                break 'groups;
            }
        }
        let column_index = metadata
            .column_index()
            .and_then(|c| c.get(rg))
            .map(Vec::as_slice);
        let place = Place {
            names: &names,
            row_group: rg,
            file: &path,
            chain,
        };
        range.check(metadata.row_group(rg), column_index, &place, findings);
    }
    // Within a file: strictly increasing seq, and the range its name declares.
    for w in rows.windows(2) {
        if w[1].seq <= w[0].seq {
            findings.push(
                Finding::new(
                    if w[1].seq == w[0].seq {
                        "duplicate_row"
                    } else {
                        "rows_reordered"
                    },
                    "rows are not in strictly increasing seq order within the file",
                )
                .chain(chain)
                .seq(w[1].seq)
                .at(format!("{path} row {}", w[1].index))
                .expected_found(format!("seq > {}", w[0].seq), w[1].seq.to_string()),
            );
        }
    }
    if let (Some(first), Some(last)) = (
        rows.iter().map(|r| r.seq).min(),
        rows.iter().map(|r| r.seq).max(),
    ) && (first != file.first || last != file.last)
    {
        findings.push(
            Finding::new(
                "file_name_mismatch",
                "the seq range in the file name does not match its rows (file replaced or renamed)",
            )
            .chain(chain)
            .at(path.clone())
            .expected_found(
                format!("{}..{}", file.first, file.last),
                format!("{first}..{last}"),
            ),
        );
    }
    if rows.is_empty() {
        findings.push(
            Finding::new("file_empty", "a data file without rows")
                .chain(chain)
                .at(path.clone()),
        );
    }
    rows.sort_by_key(|r| r.seq);
    Ok(Loaded { path, rows, pos: 0 })
}

fn decode(
    batch: &RecordBatch,
    file: &DataFile,
    path: &str,
    offset: usize,
    rows: &mut Vec<Row>,
    findings: &mut Vec<Finding>,
) -> Result<(), String> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("column `{name}` missing"))
    };
    let time = col("time")?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or("`time` has the wrong type")?;
    let source = col("source_type")?
        .as_string_opt::<i32>()
        .ok_or("`source_type` has the wrong type")?;
    let json = col("event_json")?
        .as_string_opt::<i32>()
        .ok_or("`event_json` has the wrong type")?;
    let chain = col("chain_id")?
        .as_string_opt::<i32>()
        .ok_or("`chain_id` has the wrong type")?;
    let seq = col("seq")?
        .as_primitive_opt::<UInt64Type>()
        .ok_or("`seq` has the wrong type")?;
    let leaf = col("leaf_hash")?
        .as_fixed_size_binary_opt()
        .ok_or("`leaf_hash` has the wrong type")?;
    let head = col("chain_hash")?
        .as_fixed_size_binary_opt()
        .ok_or("`chain_hash` has the wrong type")?;
    for i in 0..batch.num_rows() {
        let index = offset + i;
        // Locations are only formatted when there is something to report.
        let at = || format!("{path} row {index}");
        if [
            time.is_null(i),
            json.is_null(i),
            chain.is_null(i),
            seq.is_null(i),
            leaf.is_null(i),
            head.is_null(i),
        ]
        .contains(&true)
        {
            findings.push(
                Finding::new("row_modified", "a required column is null")
                    .chain(&file.chain)
                    .at(at()),
            );
            continue;
        }
        let hash = |v: &[u8]| -> Result<Hash, String> {
            v.try_into()
                .map_err(|_| "hash columns hold 32 bytes".to_owned())
        };
        let row = Row {
            seq: seq.value(i),
            event_json: json.value(i).to_owned(),
            leaf: hash(leaf.value(i))?,
            chain_hash: hash(head.value(i))?,
            time_ms: time.value(i),
            index,
        };
        // A row in the wrong file: another chain's, or another partition's.
        if chain.value(i) != file.chain {
            findings.push(
                Finding::new("row_moved", "the row belongs to another chain")
                    .chain(&file.chain)
                    .seq(row.seq)
                    .at(at())
                    .expected_found(file.chain.clone(), chain.value(i)),
            );
        }
        if source.value(i) != file.source || date_of(row.time_ms) != file.date {
            findings.push(
                Finding::new(
                    "row_moved",
                    "the row's source or date does not match its partition",
                )
                .chain(&file.chain)
                .seq(row.seq)
                .at(at())
                .expected_found(
                    format!("source={}/date={}", file.source, file.date),
                    format!("source={}/date={}", source.value(i), date_of(row.time_ms)),
                ),
            );
        }
        // Content. Fast path: a typed OCSF event whose canonical encoding is
        // exactly the stored bytes (so they are canonical, without duplicate
        // keys). Otherwise a strict JSON parse says what is wrong.
        let typed = serde_json::from_str::<Event>(&row.event_json)
            .ok()
            .filter(|e| canonical_event(e).is_ok_and(|c| c == row.event_json.as_bytes()));
        let problem = match &typed {
            Some(event) => derived_mismatch(
                batch,
                i,
                QueryColumns::of(event),
                event
                    .raw_data_hash
                    .as_ref()
                    .and_then(|h| h.value.as_deref()),
            ),
            None => {
                match parse_strict(row.event_json.as_bytes()) {
                    Ok(value) => {
                        if canonical_value(&value) != row.event_json.as_bytes() {
                            findings.push(
                            Finding::new("non_canonical_event_json", "event_json is not in canonical (RFC 8785) form: it was rewritten")
                                .chain(&file.chain)
                                .seq(row.seq)
                                .at(at()),
                        );
                        }
                        let sealed_raw = value
                            .pointer("/raw_data_hash/value")
                            .and_then(serde_json::Value::as_str);
                        derived_mismatch(batch, i, QueryColumns::of_value(&value), sealed_raw)
                    }
                    Err(e) => {
                        findings.push(
                            Finding::new("invalid_event_json", e.to_string())
                                .chain(&file.chain)
                                .seq(row.seq)
                                .at(at()),
                        );
                        None
                    }
                }
            }
        };
        if let Some(problem) = problem {
            findings.push(
                Finding::new(
                    "column_modified",
                    format!("column `{}` does not match the sealed event", problem.0),
                )
                .chain(&file.chain)
                .seq(row.seq)
                .at(format!("{path} row {index}"))
                .expected_found(problem.1, problem.2),
            );
        }
        rows.push(row);
    }
    Ok(())
}

pub(super) fn verify_chain_rows(
    store: &dyn ArchiveStore,
    chain: &str,
    mut files: Vec<DataFile>,
    verified: &Verified,
    _options: &VerifyOptions,
    report: &mut Report,
    tick: &mut dyn FnMut(u64, usize),
) -> Result<(), QueryError> {
    files.sort_by_key(|f| (f.first, f.last, f.path()));
    let mut report_events = report.summary.events;
    let findings = &mut report.findings;
    if verified.newest_last == 0 && verified.batches.is_empty() && !files.is_empty() {
        findings.push(
            Finding::new(
                "no_checkpoints",
                "data files of a chain without any valid checkpoint: nothing proves them",
            )
            .chain(chain)
            .at(files[0].path()),
        );
    }
    let mut loaded: Vec<Loaded> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut next_file = 0;
    let mut expected = 1u64;
    let mut head = genesis(chain);
    let mut batch = CompactRange::default();
    let mut batch_broken = false;
    let mut last_leaf: Option<(u64, Hash)> = None;
    let batch_firsts: std::collections::HashSet<u64> =
        verified.batches.values().map(|cp| cp.first).collect();
    loop {
        // Open every file that may hold the next rows; close exhausted ones.
        while next_file < files.len()
            && heap
                .peek()
                .is_none_or(|Reverse((s, _))| files[next_file].first <= *s)
        {
            let l = load(store, &files[next_file], findings)?;
            tick(report_events, next_file + 1);
            let idx = loaded.len();
            if let Some(r) = l.rows.first() {
                heap.push(Reverse((r.seq, idx)));
            }
            loaded.push(l);
            next_file += 1;
        }
        let Some(Reverse((_, idx))) = heap.pop() else {
            break;
        };
        let file = &mut loaded[idx];
        let row = std::mem::replace(
            &mut file.rows[file.pos],
            Row {
                seq: 0,
                event_json: String::new(),
                leaf: [0; 32],
                chain_hash: [0; 32],
                time_ms: 0,
                index: 0,
            },
        );
        file.pos += 1;
        if let Some(next) = file.rows.get(file.pos) {
            heap.push(Reverse((next.seq, idx)));
        } else {
            file.rows = Vec::new();
        }
        let file_path: &str = &file.path;
        let at = || format!("{file_path} row {}", row.index);
        report.summary.events += 1;
        report_events = report.summary.events;
        if report_events.is_multiple_of(10_000) {
            tick(report_events, next_file);
        }
        report.summary.first_time = Some(
            report
                .summary
                .first_time
                .map_or(row.time_ms, |t| t.min(row.time_ms)),
        );
        report.summary.last_time = Some(
            report
                .summary
                .last_time
                .map_or(row.time_ms, |t| t.max(row.time_ms)),
        );

        // Content: canonical JSON whose hash is the stored leaf.
        let computed_leaf = leaf_hash(row.event_json.as_bytes());
        if computed_leaf != row.leaf {
            findings.push(
                Finding::new("row_modified", "event_json does not hash to the row's leaf")
                    .chain(chain)
                    .seq(row.seq)
                    .at(at())
                    .expected_found(short_hash(&row.leaf), short_hash(&computed_leaf)),
            );
        }
        // Sequence: every number once, in order.
        if row.seq < expected {
            let kind = if last_leaf.is_some_and(|(s, l)| s == row.seq && l == computed_leaf) {
                "duplicate_row"
            } else {
                "conflicting_row"
            };
            findings.push(
                Finding::new(kind, "a second row with a seq already seen")
                    .chain(chain)
                    .seq(row.seq)
                    .at(at())
                    .expected_found(format!("seq {expected}"), row.seq.to_string()),
            );
            continue;
        }
        if row.seq > expected {
            findings.push(
                Finding::new(
                    "missing_rows",
                    format!("rows {expected}..={} are missing", row.seq - 1),
                )
                .chain(chain)
                .seq(expected)
                .at(at())
                .expected_found(format!("seq {expected}"), row.seq.to_string()),
            );
            // Resynchronize on the stored chain hash so one gap is one finding.
            head = row.chain_hash;
            batch_broken = true;
        } else {
            let computed = chain_hash(&head, &computed_leaf);
            if computed != row.chain_hash {
                findings.push(
                    Finding::new("chain_mismatch", "the chain hash does not follow from the previous row and this event (modified, inserted or reordered row)")
                        .chain(chain)
                        .seq(row.seq)
                        .at(at())
                        .expected_found(short_hash(&computed), short_hash(&row.chain_hash)),
                );
            }
            head = row.chain_hash;
        }
        expected = row.seq + 1;
        last_leaf = Some((row.seq, computed_leaf));
        // A batch starts where its checkpoint says, even when checkpoints before it are missing.
        if batch_firsts.contains(&row.seq) {
            batch = CompactRange::default();
            batch_broken = false;
        }
        batch.push(computed_leaf);
        if let Some((last, trusted_head)) = verified.trusted
            && last == row.seq
            && trusted_head != row.chain_hash
        {
            findings.push(
                Finding::new(
                    "fork",
                    "the archive's chain differs from the trusted checkpoint at its last seq",
                )
                .chain(chain)
                .seq(row.seq)
                .at(at())
                .expected_found(short_hash(&trusted_head), short_hash(&row.chain_hash)),
            );
        }
        if let Some(cp) = verified.batches.get(&row.seq) {
            if !batch_broken && (batch.size() != cp.batch_size() || batch.root() != cp.root) {
                findings.push(
                    Finding::new(
                        "checkpoint_mismatch",
                        format!(
                            "the rows {}..={} do not match their checkpoint's Merkle root",
                            cp.first, cp.last
                        ),
                    )
                    .chain(chain)
                    .seq(cp.first)
                    .at(at())
                    .expected_found(short_hash(&cp.root), short_hash(&batch.root())),
                );
            }
            if cp.head != row.chain_hash {
                findings.push(
                    Finding::new(
                        "checkpoint_mismatch",
                        "the chain hash at the checkpoint's last seq differs from the signed head",
                    )
                    .chain(chain)
                    .seq(row.seq)
                    .at(at())
                    .expected_found(short_hash(&cp.head), short_hash(&row.chain_hash)),
                );
            }
            batch = CompactRange::default();
            batch_broken = false;
        }
    }
    let sealed_to = verified.newest_last;
    let rows_to = expected - 1;
    if rows_to < sealed_to {
        findings.push(
            Finding::new("missing_rows", format!("rows {}..={sealed_to} are missing: the checkpoints cover them (tail truncated or files deleted)", rows_to + 1))
                .chain(chain)
                .seq(rows_to + 1)
                .expected_found(format!("rows up to seq {sealed_to}"), format!("rows up to seq {rows_to}")),
        );
    }
    if rows_to > sealed_to && sealed_to > 0 {
        findings.push(
            Finding::new("unsealed_rows", format!("rows {}..={rows_to} are not covered by any checkpoint (inserted, or checkpoints deleted)", sealed_to + 1))
                .chain(chain)
                .seq(sealed_to + 1),
        );
    }
    Ok(())
}
