//! The PCI DSS pack over a month of a generated archive: time, peak memory
//! and bundle size, with `auditfed verify` of the same archive in the same
//! run as the reference (a report verifies the archive first, so it cannot
//! be faster than that).
//!
//! ```sh
//! cargo bench -p auditfed-query --bench reports                  # 10 M events
//! AUDITFED_BENCH_EVENTS=1000000 cargo bench -p auditfed-query --bench reports
//! AUDITFED_BENCH_DIR=/data/bench cargo bench …                   # keep (and reuse) the archive
//! ```
//!
//! The archive is the one of the `queries` bench (same generator, same
//! directory convention, reused when it holds the same number of events).
//! Peak memory is the process's resident-set high-water mark, reset
//! (`/proc/self/clear_refs`) before each measured step.

mod generate;

use std::collections::BTreeMap;
use std::time::Instant;

use auditfed_query::report::bundle::SideLocations;
use auditfed_query::report::service::{Job, produce};
use auditfed_query::sql::Archive;
use auditfed_query::store::LocalDir;
use auditfed_query::verify::{VerifyOptions, verify};
use auditfed_schemas::seal::{FileSigner, Keyring, Signer};
use generate::{DAYS, START_MS};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resets the resident-set high-water mark (Linux); false where unsupported.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The resident-set high-water mark in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_size(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let (events, dir, keep) = generate::prepare("report");
    let signer = FileSigner::from_seed("bench", &[7; 32]).unwrap();
    let mut keyring = Keyring::default();
    keyring.add(signer.verifier_key());
    let archive_bytes = dir_size(&dir);

    let measured_peak = reset_peak();
    let started = Instant::now();
    let report = verify(&LocalDir::new(&dir), &VerifyOptions::new(keyring.clone())).unwrap();
    let verify_secs = started.elapsed().as_secs_f64();
    let verify_peak = peak_mib();
    assert!(report.is_clean(), "{:?}", report.findings);

    let out =
        std::env::temp_dir().join(format!("auditfed-report-bench-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    reset_peak();
    let job = Job {
        pack: "pci-dss-4.0".into(),
        params: BTreeMap::new(),
        from_ms: START_MS,
        to_ms: START_MS + DAYS * 86_400_000,
        archives: vec![Archive::new("bench", &dir.display().to_string())],
        sides: SideLocations::default(),
        keyring,
        signer: &signer,
        dead_letters: None,
        out: out.display().to_string(),
    };
    let started = Instant::now();
    let manifest = produce(&job).unwrap();
    let report_secs = started.elapsed().as_secs_f64();
    let report_peak = peak_mib();
    let bundle_bytes = dir_size(&out);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "archive: {events} events over {DAYS} days, {:.0} MiB ({:.1} MiB per million events)",
        mib(archive_bytes),
        mib(archive_bytes) / (events as f64 / 1e6)
    );
    println!(
        "auditfed verify (reference): {verify_secs:.1} s, {:.0} events/s, peak RSS {}",
        events as f64 / verify_secs,
        if measured_peak {
            format!("{verify_peak:.0} MiB")
        } else {
            "n/a".into()
        }
    );
    println!(
        "PCI DSS pack, one month ({} controls, verification included): {report_secs:.1} s, {:.0} events/s, peak RSS {}, {:.2}x the verify time",
        manifest.controls.len(),
        events as f64 / report_secs,
        if measured_peak {
            format!("{report_peak:.0} MiB")
        } else {
            "n/a".into()
        },
        report_secs / verify_secs
    );
    println!(
        "bundle: {:.2} MiB in {} files (limit 50 MiB for a month)",
        mib(bundle_bytes),
        manifest.files.len() + 2
    );
    let mut largest: Vec<_> = manifest
        .files
        .iter()
        .map(|f| (f.bytes, f.path.clone()))
        .collect();
    largest.sort();
    for (bytes, path) in largest.iter().rev().take(5) {
        println!("  {path}: {:.2} MiB", mib(*bytes));
    }
    for c in &manifest.controls {
        println!("  {:<10} {:<7} {}", c.id, c.status.as_str(), c.reason);
    }
    assert!(
        bundle_bytes < 50 * 1024 * 1024,
        "the bundle of a month must stay under 50 MiB"
    );
    let _ = std::fs::remove_dir_all(&out);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(generate::marker(&dir));
    }
}
