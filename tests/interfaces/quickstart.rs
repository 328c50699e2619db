//! `auditfed quickstart` end to end, twice in one directory, then the
//! archive it wrote read by DuckDB and pyarrow (independent readers) and
//! compared with `auditfed sql`.

use crate::support;

use support::auditfed;

#[test]
fn quickstart_runs_twice_and_other_readers_agree_with_auditfed_sql() {
    let dir = support::temp_dir("quickstart");
    for run in 1..=2 {
        let out = auditfed()
            .arg("quickstart")
            .current_dir(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for expected in [
            "ingested",
            "normalized to OCSF and sealed",
            "archived",
            "Events per source",
            "complete and unaltered",
            "auditfed verify --archive ./auditfed-data/archive --keys ./auditfed-data/keys/keyring",
        ] {
            assert!(
                stdout.contains(expected),
                "run {run}: no {expected:?} in\n{stdout}"
            );
        }
    }
    // The command it prints works as printed.
    let out = auditfed()
        .args([
            "verify",
            "--archive",
            "./auditfed-data/archive",
            "--keys",
            "./auditfed-data/keys/keyring",
            "--json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = report["summary"]["events"].as_u64().unwrap();
    assert!(events > 200, "two runs of every source's samples: {report}");
    assert_eq!(report["summary"]["chains"], 18, "9 sources × 2 runs");

    // auditfed sql's view of the archive.
    let sql = |q: &str| -> Vec<serde_json::Value> {
        support::json_lines(
            auditfed()
                .args(["sql", "--archive", "./auditfed-data/archive"])
                .args(["--format", "json", q])
                .current_dir(&dir)
                .output()
                .unwrap(),
        )
    };
    let ours = sql(
        "SELECT chain_id, seq, event_uid, CAST(time AS BIGINT) AS ms, encode(leaf_hash, 'hex') AS leaf FROM events ORDER BY chain_id, seq",
    );
    assert_eq!(ours.len() as u64, events);
    let per_source: std::collections::BTreeMap<String, u64> =
        sql("SELECT source, count(*) AS n FROM events GROUP BY source")
            .into_iter()
            .map(|r| {
                (
                    r["source"].as_str().unwrap().to_owned(),
                    r["n"].as_u64().unwrap(),
                )
            })
            .collect();
    assert_eq!(per_source.len(), 9, "{per_source:?}");

    // DuckDB's and pyarrow's.
    let Some((code, text)) =
        support::run_python("archive_interop.py", &dir.join("auditfed-data/archive"))
    else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    let theirs: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    for reader in ["duckdb", "pyarrow"] {
        let r = &theirs[reader];
        assert_eq!(r["count"].as_u64(), Some(events), "{reader} row count");
        let their_sources: std::collections::BTreeMap<String, u64> = r["per_source"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(their_sources, per_source, "{reader} rows per source");
        let rows = r["rows"].as_array().unwrap();
        for (mine, theirs) in ours.iter().zip(rows) {
            let t = theirs.as_array().unwrap();
            assert_eq!(mine["chain_id"], t[0], "{reader}");
            assert_eq!(mine["seq"], t[1], "{reader}");
            assert_eq!(
                mine.get("event_uid").unwrap_or(&serde_json::Value::Null),
                &t[2],
                "{reader}"
            );
            assert_eq!(mine["ms"], t[3], "{reader} time");
            assert_eq!(mine["leaf"], t[4], "{reader} leaf hash");
        }
    }
}
