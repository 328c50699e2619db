//! Verification throughput: `cargo bench -p auditfed-query --bench verify`.
//!
//! Builds a sealed archive of real CloudTrail events mapped to OCSF (sealer,
//! zstd Parquet files of 5 000 rows, a checkpoint every 1 000 events) and
//! times `verify` over it, single-threaded. `AUDITFED_BENCH_1KB=1` drops the
//! embedded raw record and unmapped fields (about 1 KB events, the size of
//! the design's budget). Under `cargo test` it builds a
//! tiny archive and verifies it once, as a smoke test.

use std::sync::Arc;
use std::time::Instant;

use auditfed_normalize::sealer::{Sealer, SealerConfig};
use auditfed_normalize::{Output, normalize};
use auditfed_query::store::LocalDir;
use auditfed_query::verify::{VerifyOptions, verify};
use auditfed_query::writer::{SealedRow, write_checkpoint, write_rows};
use auditfed_schemas::seal::{FileSigner, Keyring, Signer};
use auditfed_schemas::{SourceMeta, SourceType};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 100_000 } else { 200 };
    let small = std::env::var_os("AUDITFED_BENCH_1KB").is_some();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../normalize/tests/fixtures/aws_cloudtrail/stratus-red-team__aws.execution.ssm-send-command.json");
    let events: Vec<_> = normalize(
        Some(SourceType::AwsCloudtrail),
        &std::fs::read(fixture).unwrap(),
        &SourceMeta::default(),
    )
    .into_iter()
    .filter_map(|o| match o {
        Ok(Output::Event(e)) => Some(*e),
        _ => None,
    })
    .collect();
    let dir = std::env::temp_dir().join(format!("auditfed-verify-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = LocalDir::new(&dir);
    let signer = Arc::new(FileSigner::from_seed("bench", &[5; 32]).unwrap());
    let mut keyring = Keyring::default();
    keyring.add(signer.verifier_key());
    let config = SealerConfig {
        checkpoint_every_events: 1_000,
        ..SealerConfig::default()
    };
    let mut sealer = Sealer::new("bench/0", config, signer, 0).unwrap();
    let mut rows = Vec::with_capacity(5_000);
    let mut bytes = 0usize;
    let build = Instant::now();
    for i in 0..n {
        let mut event = events[i % events.len()].clone();
        event.metadata.uid = Some(format!("bench-{i}"));
        // The design's budget is for 1 KB events: without the embedded raw record and unmapped fields.
        if small {
            event.raw_data = None;
            event.raw_data_hash = None;
            event.unmapped = None;
        }
        let (sealed, note) = sealer.seal(&event, i as i64).unwrap();
        if let Some(note) = note {
            write_checkpoint(&store, &note).unwrap();
        }
        bytes += sealed.canonical.len();
        rows.push(SealedRow {
            raw_record: event.raw_data.as_ref().map(|r| r.as_bytes().to_vec()),
            event,
            event_json: sealed.canonical,
            source: "aws_cloudtrail".into(),
            chain: sealed.chain,
            seq: sealed.seq,
            leaf: sealed.leaf,
            chain_hash: sealed.chain_hash,
        });
        if rows.len() == 5_000 {
            write_rows(&store, &rows).unwrap();
            rows.clear();
        }
    }
    write_rows(&store, &rows).unwrap();
    if let Some(note) = sealer.flush(n as i64).unwrap() {
        write_checkpoint(&store, &note).unwrap();
    }
    let built = build.elapsed().as_secs_f64();
    let start = Instant::now();
    let report = verify(&store, &VerifyOptions::new(keyring)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.summary.events, n as u64);
    println!(
        "verify, one thread: {n} events ({} B of event JSON on average), {} files",
        bytes / n,
        report.summary.data_files
    );
    println!(
        "  build (seal + Parquet zstd write)   {:>10.0} events/s",
        n as f64 / built
    );
    println!(
        "  verify                              {:>10.0} events/s {:>8.2} µs/event",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
