//! The archiver against the real Kafka broker and the object-store
//! emulators of `scripts/test.sh`: kill -9 mid-upload loses and duplicates
//! nothing, re-archiving rewrites the same files byte for byte, every store
//! kind (S3, GCS, Azure Blob) holds the same file names as a directory, and
//! one SQL table federates them all.

use crate::support;

use std::path::Path;
use std::time::Duration;

use support::kafka::{Pipeline, cloudtrail_lines, terminate};
use support::object_stores::stores;
use support::{Rng, auditfed, json_lines, serial};

/// The archive's files under `dir` (relative name, bytes), temp files left out.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if !e.file_name().to_string_lossy().starts_with(".tmp-") {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                files.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// `auditfed verify --json` of `archive` (a directory or URL) with `env`.
fn verify(p: &Pipeline, archive: &str, env: &[(String, String)]) -> serde_json::Value {
    let out = auditfed()
        .args(["verify", "--json", "--archive", archive, "--keys"])
        .arg(p.dir.join("keys/keyring"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{archive}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{archive}: {report:#}\n{}", p.logs());
    report
}

#[test]
fn the_archiver_writes_a_verifying_archive_across_kill_dash_nine() {
    let _guard = serial();
    let Some(p) = Pipeline::new(
        "archive",
        "checkpoint_every_events = 100\ncheckpoint_every_secs = 1",
        "",
    ) else {
        return;
    };
    let mut rng = Rng::new();
    let lines = cloudtrail_lines("ar", 1500);
    p.ingest("aws_cloudtrail", "a.jsonl", &lines[..800]);
    p.ingest("aws_cloudtrail", "b.jsonl", &lines[800..]);
    let mut normalizer = p.spawn_normalizer("n1");
    p.wait_for_events(1500, Duration::from_secs(120));
    terminate(&mut normalizer);
    // The archiver killed at random points, mid-upload included.
    for _ in 0..6 {
        let mut archiver = p.spawn("archive", "a1", &[]);
        std::thread::sleep(Duration::from_millis(700 + rng.below(1500)));
        archiver.kill().unwrap();
        archiver.wait().unwrap();
    }
    let status = p
        .spawn("archive", "a1", &["--exit-when-idle", "3"])
        .wait()
        .unwrap();
    assert!(status.success(), "{}", p.logs());
    let archive = p.dir.join("archived");
    let report = verify(&p, archive.to_str().unwrap(), &[]);
    assert_eq!(report["summary"]["events"], 1500, "{report:#}");
    // Archived once more from the start by another group into another
    // directory: the same files, byte for byte (deterministic cuts, so a
    // re-run after a crash overwrites rather than duplicates).
    let again_dir = p.dir.join("archived-again");
    let again = p.dir.join("again.toml");
    std::fs::write(
        &again,
        std::fs::read_to_string(&p.config).unwrap().replace(
            &format!("[archive]\npath = \"{}\"", archive.display()),
            &format!(
                "[archive]\ngroup_id = \"{}-again\"\npath = \"{}\"",
                p.prefix,
                again_dir.display()
            ),
        ),
    )
    .unwrap();
    let out = auditfed()
        .args(["run", "archive", "--exit-when-idle", "3", "--config"])
        .arg(&again)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = listing(&archive);
    let second = listing(&again_dir);
    assert!(first.len() > 10, "{} files", first.len());
    assert_eq!(
        first.iter().map(|f| &f.0).collect::<Vec<_>>(),
        second.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(first == second, "same names, different bytes");
}

/// A copy of the pipeline's config archiving to `target` in its own consumer group.
fn archive_config(p: &Pipeline, name: &str, target: &str) -> std::path::PathBuf {
    let config = p.dir.join(format!("archive-{name}.toml"));
    std::fs::write(
        &config,
        std::fs::read_to_string(&p.config)
            .unwrap()
            .replace(
                "[archive]\n",
                &format!("[archive]\ngroup_id = \"{}-archive-{name}\"\n", p.prefix),
            )
            .replace(&p.dir.join("archived").display().to_string(), target),
    )
    .unwrap();
    config
}

#[test]
fn every_object_store_holds_the_same_archive_and_sql_federates_them() {
    let _guard = serial();
    let Some(p) = Pipeline::new(
        "stores",
        "checkpoint_every_events = 50\ncheckpoint_every_secs = 1",
        "",
    ) else {
        return;
    };
    let stores = stores(&p.dir);
    if stores.is_empty() {
        return;
    }
    let lines = cloudtrail_lines("st", 400);
    p.ingest("aws_cloudtrail", "a.jsonl", &lines);
    let mut normalizer = p.spawn_normalizer("n1");
    p.wait_for_events(400, Duration::from_secs(120));
    terminate(&mut normalizer);

    // The directory archive is the reference every store must match.
    let local = p.dir.join("local-archive");
    let config = archive_config(&p, "dir", local.to_str().unwrap());
    let status = auditfed()
        .args(["run", "archive", "--exit-when-idle", "3", "--config"])
        .arg(&config)
        .status()
        .unwrap();
    assert!(status.success(), "{}", p.logs());
    let reference: Vec<String> = listing(&local).into_iter().map(|f| f.0).collect();
    assert!(
        reference.iter().any(|f| f.ends_with(".parquet")),
        "{reference:?}"
    );

    let mut rng = Rng::new();
    let nonce = p.prefix.replace(['.', '_'], "-").to_lowercase();
    let mut federation = vec![format!("dir={}", local.display())];
    let mut all_env: Vec<(String, String)> = Vec::new();
    for store in &stores {
        let bucket = format!("{nonce}-{}", store.kind);
        store.create_bucket(&bucket);
        let url = store.url(&bucket, "audit");
        let config = archive_config(&p, store.kind, &url);
        let run = || {
            let mut command = auditfed();
            command
                .args(["run", "archive", "--config"])
                .arg(&config)
                .envs(store.env.iter().map(|(k, v)| (k, v)));
            command
        };
        // Killed mid-upload a few times, then run to the end.
        for _ in 0..3 {
            let mut child = run().stderr(std::process::Stdio::null()).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(800 + rng.below(1200)));
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let out = run().args(["--exit-when-idle", "3"]).output().unwrap();
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let report = verify(&p, &url, &store.env);
        assert_eq!(report["summary"]["events"], 400, "{url}: {report:#}");
        assert_eq!(
            store.list(&bucket, "audit"),
            reference,
            "{url}: the store's objects (listed by the vendor API) differ from the directory archive's files"
        );

        // A proof of one event, taken from the store and checked offline.
        let first = json_lines(
            auditfed()
                .args(["sql", "--format", "json", "--archive", &url])
                .arg("SELECT chain_id, seq FROM events ORDER BY seq DESC LIMIT 1")
                .envs(store.env.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap(),
        );
        let event = format!(
            "{}:{}",
            first[0]["chain_id"].as_str().unwrap(),
            first[0]["seq"]
        );
        let bundle = p.dir.join(format!("proof-{}.json", store.kind));
        let out = auditfed()
            .args(["prove", "--archive", &url, "--event", &event, "--out"])
            .arg(&bundle)
            .envs(store.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = auditfed()
            .arg("verify-proof")
            .arg(&bundle)
            .arg("--keys")
            .arg(p.dir.join("keys/keyring"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stdout)
        );

        federation.push(format!("{}={url}", store.kind));
        all_env.extend(store.env.iter().cloned());
    }

    // One `events` table over the directory and every store, each row telling where it lives.
    let mut sql = auditfed();
    sql.args(["sql", "--format", "json"]);
    for archive in &federation {
        sql.args(["--archive", archive]);
    }
    let rows = json_lines(
        sql.arg("SELECT archive, count(*) AS n, count(DISTINCT event_uid) AS uids FROM events GROUP BY archive ORDER BY archive")
            .envs(all_env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap(),
    );
    let mut expected: Vec<&str> = stores.iter().map(|s| s.kind).collect();
    expected.push("dir");
    expected.sort();
    assert_eq!(
        rows,
        expected
            .iter()
            .map(|a| serde_json::json!({"archive": a, "n": 400, "uids": 400}))
            .collect::<Vec<_>>()
    );
}
