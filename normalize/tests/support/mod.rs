//! Shared by the normalize integration tests: the fixtures and how they are read.

#![allow(dead_code)]

pub mod ocsf_validator;

use std::path::{Path, PathBuf};

use auditfed_normalize::{Output, SetAsideKind, normalize};
use auditfed_schemas::{SourceMeta, SourceType};
use serde_json::{Value, json};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture file: `(source, path relative to tests/fixtures)`.
pub fn fixtures() -> Vec<(SourceType, PathBuf)> {
    let root = crate_dir().join("tests/fixtures");
    let mut out = Vec::new();
    for source in SourceType::ALL {
        let dir = root.join(source.as_str());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            out.push((source, f.strip_prefix(&root).unwrap().to_owned()));
        }
    }
    out
}

/// Lineage as the goldens record it: a stable object name, and 2012 for
/// syslog timestamps without a year (the year plaso's samples were written).
pub fn meta_for(rel: &Path) -> SourceMeta {
    SourceMeta {
        object: Some(format!("fixtures/{}", rel.display())),
        assumed_year: Some(2012),
        ..Default::default()
    }
}

/// What normalizing a fixture gives, as the JSON the goldens hold.
pub fn outcomes(source: Option<SourceType>, rel: &Path) -> Vec<Value> {
    let bytes = std::fs::read(crate_dir().join("tests/fixtures").join(rel)).unwrap();
    normalize(source, &bytes, &meta_for(rel))
        .into_iter()
        .map(|r| match r {
            Ok(Output::Event(e)) => json!({ "event": e }),
            Ok(Output::SetAside(a)) => match a.kind {
                SetAsideKind::CloudTrailDigest => {
                    json!({ "set_aside": "cloudtrail_digest", "position": a.position })
                }
            },
            Err(e) => json!({ "error": e.to_string() }),
        })
        .collect()
}
