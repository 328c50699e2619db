//! Sealing throughput, single-threaded: `cargo bench -p auditfed-normalize --bench seal`.
//!
//! Per event: `canonical_v1` (RFC 8785 JCS of the OCSF event), the leaf and
//! chain SHA-256, and the compact-range append; a signed checkpoint every
//! 10 000 events. The events are real CloudTrail records mapped to OCSF
//! (about 4 KB of OCSF JSON each, raw record included; with
//! `AUDITFED_BENCH_1KB=1`, about 1 KB without the raw record and unmapped
//! fields, the size of the design's budget). Under `cargo test` it runs a
//! few iterations only.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditfed_normalize::sealer::{Sealer, SealerConfig};
use auditfed_normalize::{Output, normalize};
use auditfed_schemas::seal::{
    FileSigner, canonical_event, canonical_v1, chain_hash, genesis, leaf_hash,
};
use auditfed_schemas::{SourceMeta, SourceType};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let budget = if full {
        Duration::from_secs(3)
    } else {
        Duration::ZERO
    };
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aws_cloudtrail");
    let mut events = Vec::new();
    for f in [
        "stratus-red-team__aws.execution.ssm-send-command.json",
        "otel-contrib__cloudtrail_log.json",
    ] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        for o in normalize(
            Some(SourceType::AwsCloudtrail),
            &bytes,
            &SourceMeta::default(),
        ) {
            if let Ok(Output::Event(e)) = o {
                events.push(*e);
            }
        }
    }
    // The design's budget is for 1 KB events: the same events without the
    // embedded raw record and unmapped fields are about that size.
    if std::env::var_os("AUDITFED_BENCH_1KB").is_some() {
        for e in &mut events {
            e.raw_data = None;
            e.raw_data_hash = None;
            e.unmapped = None;
        }
    }
    let avg = events
        .iter()
        .map(|e| canonical_v1(e).unwrap().len())
        .sum::<usize>()
        / events.len();
    let signer = Arc::new(FileSigner::from_seed("bench", &[3; 32]).unwrap());
    let config = SealerConfig {
        checkpoint_every_events: 10_000,
        ..SealerConfig::default()
    };
    let mut sealer = Sealer::new("bench/0", config, signer, 0).unwrap();

    let run = |label: &str, f: &mut dyn FnMut(&auditfed_schemas::ocsf::Event)| {
        let start = Instant::now();
        let mut n = 0u64;
        while n == 0 || start.elapsed() < budget {
            for e in &events {
                f(e);
            }
            n += events.len() as u64;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:<44} {:>12.0} events/s {:>8.2} µs/event",
            n as f64 / secs,
            secs * 1e6 / n as f64
        );
    };
    println!("sealing, one thread, OCSF events of {avg} B canonical JSON on average");
    let mut t = 0;
    run("Sealer::seal (JCS + 2 SHA-256 + checkpoints)", &mut |e| {
        t += 1;
        black_box(sealer.seal(e, t).unwrap());
    });
    run("  of which canonical_event (JCS, fast path)", &mut |e| {
        black_box(canonical_event(e).unwrap());
    });
    run("  (general canonical_v1 via a JSON tree)", &mut |e| {
        black_box(canonical_v1(e).unwrap());
    });
    run(
        "  (reference: serde_json::to_vec, not canonical)",
        &mut |e| {
            black_box(serde_json::to_vec(e).unwrap());
        },
    );
    run("  (reference: serde_json::to_value)", &mut |e| {
        black_box(serde_json::to_value(e).unwrap());
    });
    let canon: Vec<Vec<u8>> = events.iter().map(|e| canonical_v1(e).unwrap()).collect();
    let mut head = genesis("bench/0");
    let start = Instant::now();
    let mut n = 0u64;
    while n == 0 || start.elapsed() < budget {
        for c in &canon {
            head = chain_hash(&head, &leaf_hash(c));
        }
        n += canon.len() as u64;
    }
    black_box(head);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:<44} {:>12.0} events/s {:>8.2} µs/event",
        "  of which leaf + chain SHA-256",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
