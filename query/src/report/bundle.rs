//! The evidence bundle: what `auditfed report run` writes and `auditfed
//! report verify` checks.
//!
//! ```text
//! report.html            self-contained: inline CSS and SVG, no script, no network
//! report.pdf             the same content, for printing and e-mail
//! findings.json          one OCSF 1.8.0 Compliance Finding (2003) per control and result
//! controls/<id>.csv      each control's rows (sorted; the first max_rows)
//! health.json            the evidence health: verification, sources per hour, SIEM delivery, dead letters
//! manifest.json          every file with its SHA-256, the pack and its controls' query text,
//!                        the parameters, and the archive state: per chain the signed checkpoint
//! manifest.sig           a C2SP signed note over the manifest's SHA-256
//! ```
//!
//! `manifest.sig` is written last: a bundle without it is incomplete.

use std::collections::{BTreeMap, BTreeSet};

use auditfed_schemas::seal::{Keyring, SignedNote, Signer, format_time};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::pack::{Pack, Status};
use super::run::{ControlResult, Pinned, ReportData};
use crate::QueryError;
use crate::store::ArchiveStore;

/// The bundle format, first line of the signed note and `format` of the manifest.
pub const BUNDLE_FORMAT: &str = "auditfed-report/v1";

/// The manifest's name in a bundle.
pub const MANIFEST: &str = "manifest.json";

/// The signature's name in a bundle.
pub const SIGNATURE: &str = "manifest.sig";

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its path in the bundle.
    pub path: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// One control in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestControl {
    /// Its id.
    pub id: String,
    /// Its framework.
    pub framework: String,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: Status,
    /// Why.
    pub reason: String,
    /// The query as run (parameters substituted).
    pub sql: Option<String>,
    /// Rows the query returned.
    pub total_rows: u64,
    /// Rows per status.
    pub counts: BTreeMap<String, u64>,
    /// Its CSV file.
    pub csv: Option<String>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The pack as run: its header, parameters, views and controls.
    pub pack: Pack,
    /// Parameter values given to the run (`--param`), before defaults.
    pub params_given: BTreeMap<String, String>,
    /// Every declared parameter as substituted.
    pub params: BTreeMap<String, String>,
    /// Start of the period (inclusive), RFC 3339.
    pub from: String,
    /// End of the period (exclusive), RFC 3339.
    pub to: String,
    /// Start, epoch ms.
    pub from_ms: i64,
    /// End, epoch ms.
    pub to_ms: i64,
    /// When it was computed.
    pub generated: String,
    /// The archives: `(name, location)`.
    pub archives: Vec<(String, String)>,
    /// The receipts' location, if used.
    pub receipts: Option<String>,
    /// The coverage's location, if used.
    pub coverage: Option<String>,
    /// The exact archive state the report was computed over.
    pub archive_state: Pinned,
    /// Per control: status, query, rows.
    pub controls: Vec<ManifestControl>,
    /// What the first page flags.
    pub flags: Vec<String>,
    /// Every other file of the bundle.
    pub files: Vec<FileEntry>,
}

/// Where the side tables of a run were read from.
#[derive(Debug, Clone, Default)]
pub struct SideLocations {
    /// `archive.receipts_path`.
    pub receipts: Option<String>,
    /// `archive.coverage_path`.
    pub coverage: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A control id as a file name: `10.2.1.4` → `10.2.1.4`, `164.312(b)` → `164.312_b_`.
pub fn csv_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("controls/{safe}.csv")
}

/// A control's rows as CSV (RFC 4180, header line, `\n` line ends).
pub fn csv_of(result: &ControlResult) -> Vec<u8> {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let line = |cells: &[String]| cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    out.push_str(&line(&result.columns));
    out.push('\n');
    for row in &result.rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.into_bytes()
}

/// Writes the bundle of `data` into `store`, signing it with `signer`.
/// Returns the manifest.
pub fn write_bundle(
    store: &dyn ArchiveStore,
    data: &ReportData,
    pack: &Pack,
    params_given: &BTreeMap<String, String>,
    sides: &SideLocations,
    signer: &dyn Signer,
) -> Result<Manifest, QueryError> {
    let mut files = Vec::new();
    let mut put = |path: &str, bytes: Vec<u8>| -> Result<(), QueryError> {
        store.write(path, &bytes)?;
        files.push(FileEntry {
            path: path.to_owned(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
        });
        Ok(())
    };
    let mut controls = Vec::new();
    for result in &data.controls {
        let csv = result.sql.as_ref().map(|_| csv_name(&result.control.id));
        if let Some(path) = &csv {
            put(path, csv_of(result))?;
        }
        controls.push(ManifestControl {
            id: result.control.id.clone(),
            framework: result.control.framework.clone(),
            title: result.control.title.clone(),
            status: result.status,
            reason: result.reason.clone(),
            sql: result.sql.clone(),
            total_rows: result.total_rows,
            counts: result.counts.clone(),
            csv,
        });
    }
    put(
        "health.json",
        serde_json::to_vec_pretty(&data.health).map_err(|e| QueryError::Report(e.to_string()))?,
    )?;
    let findings = super::findings::compliance_findings(data);
    put(
        "findings.json",
        serde_json::to_vec_pretty(&findings).map_err(|e| QueryError::Report(e.to_string()))?,
    )?;
    put("report.html", super::html::render(data).into_bytes())?;
    put("report.pdf", super::pdf::render(data))?;
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        pack: pack.clone(),
        params_given: params_given.clone(),
        params: data.params.clone(),
        from: format_time(data.from_ms),
        to: format_time(data.to_ms),
        from_ms: data.from_ms,
        to_ms: data.to_ms,
        generated: format_time(data.generated_ms),
        archives: data.archives.clone(),
        receipts: sides.receipts.clone(),
        coverage: sides.coverage.clone(),
        archive_state: data.pinned.clone(),
        controls,
        flags: data.health.flags.clone(),
        files,
    };
    let bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| QueryError::Report(e.to_string()))?;
    store.write(MANIFEST, &bytes)?;
    let note = SignedNote::sign(signed_text(&manifest, &sha256_hex(&bytes)), signer)
        .map_err(|e| QueryError::Seal(e.to_string()))?;
    store.write(SIGNATURE, note.to_string().as_bytes())?;
    Ok(manifest)
}

fn signed_text(manifest: &Manifest, digest: &str) -> String {
    format!(
        "{BUNDLE_FORMAT}\npack {} {}\nperiod {} {}\nmanifest sha256:{digest}\n",
        manifest.pack.header.name, manifest.pack.header.version, manifest.from, manifest.to
    )
}

/// One problem with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleFinding {
    /// Stable kind: `signature`, `manifest_hash`, `file_missing`,
    /// `file_modified`, `file_unlisted`, `checkpoint`, `rerun_differs`.
    pub kind: &'static str,
    /// The file or control concerned.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for BundleFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.kind, self.at, self.message)
    }
}

/// Checks a bundle's signature, its manifest and every file's hash, and
/// that the checkpoints it names are signed by trusted keys. Returns the
/// manifest (when it could be read) and every problem.
pub fn verify_bundle(
    store: &dyn ArchiveStore,
    keyring: &Keyring,
) -> Result<(Option<Manifest>, Vec<BundleFinding>), QueryError> {
    let mut findings = Vec::new();
    let mut finding = |kind, at: &str, message: String| {
        findings.push(BundleFinding {
            kind,
            at: at.to_owned(),
            message,
        })
    };
    let listed: BTreeSet<String> = store.list()?.into_iter().collect();
    if !listed.contains(SIGNATURE) || !listed.contains(MANIFEST) {
        finding(
            "file_missing",
            SIGNATURE,
            format!(
                "{} has no {SIGNATURE} and {MANIFEST}: not a bundle, or an incomplete one",
                store.describe()
            ),
        );
        return Ok((None, findings));
    }
    let manifest_bytes = store.read(MANIFEST)?;
    let digest = sha256_hex(&manifest_bytes);
    let manifest: Option<Manifest> = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => Some(m),
        Err(e) => {
            finding("manifest_hash", MANIFEST, format!("not a manifest: {e}"));
            None
        }
    };
    let sig_bytes = store.read(SIGNATURE)?;
    match std::str::from_utf8(&sig_bytes)
        .map_err(|e| e.to_string())
        .and_then(|t| SignedNote::parse(t).map_err(|e| e.to_string()))
    {
        Err(e) => finding("signature", SIGNATURE, e),
        Ok(note) => {
            if let Err(e) = note.verify_signature(keyring) {
                finding("signature", SIGNATURE, e.to_string());
            }
            let claimed = note
                .text
                .lines()
                .find_map(|l| l.strip_prefix("manifest sha256:"))
                .unwrap_or("");
            if !note.text.starts_with(BUNDLE_FORMAT) {
                finding(
                    "signature",
                    SIGNATURE,
                    format!("the signed note is not an {BUNDLE_FORMAT} note"),
                );
            }
            if claimed != digest {
                finding(
                    "manifest_hash",
                    MANIFEST,
                    format!("SHA-256 is {digest}, the signed note says {claimed}"),
                );
            } else if let Some(m) = &manifest
                && note.text != signed_text(m, &digest)
            {
                finding(
                    "signature",
                    SIGNATURE,
                    "the signed note does not describe this manifest's pack and period".into(),
                );
            }
        }
    }
    if let Some(m) = &manifest {
        let mut known: BTreeSet<&str> = [MANIFEST, SIGNATURE].into();
        for file in &m.files {
            known.insert(&file.path);
            if !listed.contains(&file.path) {
                finding(
                    "file_missing",
                    &file.path,
                    "listed in the manifest, not in the bundle".into(),
                );
                continue;
            }
            let bytes = store.read(&file.path)?;
            let actual = sha256_hex(&bytes);
            if actual != file.sha256 {
                finding(
                    "file_modified",
                    &file.path,
                    format!("SHA-256 is {actual}, the manifest says {}", file.sha256),
                );
            }
        }
        for path in &listed {
            if !known.contains(path.as_str()) {
                finding(
                    "file_unlisted",
                    path,
                    "in the bundle but not in the manifest".into(),
                );
            }
        }
        for chain in &m.archive_state.chains {
            let ok = SignedNote::parse(&chain.note)
                .and_then(|n| n.verify(keyring))
                .map(|(cp, _)| cp.chain == chain.chain_id && cp.last == chain.last_seq);
            match ok {
                Ok(true) => {}
                Ok(false) => finding(
                    "checkpoint",
                    &chain.checkpoint,
                    format!(
                        "the note is not chain {}'s checkpoint at {}",
                        chain.chain_id, chain.last_seq
                    ),
                ),
                Err(e) => finding("checkpoint", &chain.checkpoint, e.to_string()),
            }
        }
    }
    Ok((manifest, findings))
}

/// Re-runs the controls of `manifest` over `archives` (`(name, location)`,
/// the manifest's by default) restricted to the recorded archive state, and
/// compares every control's status, row count and CSV bytes.
pub fn rerun(
    manifest: &Manifest,
    archives: &[(String, String)],
    keyring: &Keyring,
    sides: &SideLocations,
) -> Result<Vec<BundleFinding>, QueryError> {
    let mut findings = Vec::new();
    let archives: Vec<crate::sql::Archive> = archives
        .iter()
        .map(|(n, l)| crate::sql::Archive::new(n, l))
        .collect();
    for chain in &manifest.archive_state.chains {
        let Some(archive) = archives.iter().find(|a| a.name == chain.archive) else {
            findings.push(BundleFinding {
                kind: "checkpoint",
                at: chain.archive.clone(),
                message: "the report's archive was not given (--archive NAME=LOCATION)".into(),
            });
            continue;
        };
        let store = crate::object::Location::open_existing(&archive.location)?;
        match store.read(&chain.checkpoint) {
            Ok(bytes) if bytes.as_ref() == chain.note.as_bytes() => {}
            Ok(_) => findings.push(BundleFinding {
                kind: "checkpoint",
                at: format!("{}:{}", archive.name, chain.checkpoint),
                message: "the archive's checkpoint differs from the one the report names".into(),
            }),
            Err(_) => findings.push(BundleFinding {
                kind: "checkpoint",
                at: format!("{}:{}", archive.name, chain.checkpoint),
                message: "the checkpoint the report names is gone from the archive (rolled back or truncated?)".into(),
            }),
        }
    }
    let spec = super::run::RunSpec {
        pack: manifest.pack.clone(),
        params: manifest.params_given.clone(),
        from_ms: manifest.from_ms,
        to_ms: manifest.to_ms,
        archives,
        receipts: sides.receipts.clone().or(manifest.receipts.clone()),
        coverage: sides.coverage.clone().or(manifest.coverage.clone()),
        keyring: keyring.clone(),
        dead_letters: None,
    };
    let data = super::run::run(&spec, manifest.archive_state.clone(), 0)?;
    for (was, now) in manifest.controls.iter().zip(&data.controls) {
        let csv = now.sql.as_ref().map(|_| sha256_hex(&csv_of(now)));
        let recorded = was
            .csv
            .as_ref()
            .and_then(|p| manifest.files.iter().find(|f| &f.path == p))
            .map(|f| f.sha256.clone());
        if was.status != now.status || was.total_rows != now.total_rows || csv != recorded {
            findings.push(BundleFinding {
                kind: "rerun_differs",
                at: format!("control {}", was.id),
                message: format!(
                    "recorded {} with {} row(s); the re-run gives {} with {} row(s){}",
                    was.status,
                    was.total_rows,
                    now.status,
                    now.total_rows,
                    if csv != recorded {
                        ", and other rows"
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    Ok(findings)
}
