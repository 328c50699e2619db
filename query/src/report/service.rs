//! One report, start to finish: load and check the pack, pin the archives,
//! run, write the signed bundle. `auditfed report run` and the scheduler
//! both go through [`produce`].

use std::collections::BTreeMap;

use auditfed_schemas::seal::{Keyring, Signer};

use super::bundle::{Manifest, SideLocations, write_bundle};
use super::pack::Pack;
use super::run::{DeadLetters, RunSpec, pin, run, validate};
use crate::QueryError;
use crate::sql::Archive;

/// What one report needs.
pub struct Job<'a> {
    /// A built-in pack's name, a pack file or a pack directory.
    pub pack: String,
    /// `--param` values.
    pub params: BTreeMap<String, String>,
    /// Start of the period (inclusive), epoch ms.
    pub from_ms: i64,
    /// End of the period (exclusive), epoch ms.
    pub to_ms: i64,
    /// The archives.
    pub archives: Vec<Archive>,
    /// Side tables.
    pub sides: SideLocations,
    /// The pinned public keys.
    pub keyring: Keyring,
    /// The key that signs the manifest.
    pub signer: &'a dyn Signer,
    /// Dead letters of the period, when Kafka was read.
    pub dead_letters: Option<Vec<DeadLetters>>,
    /// Where the bundle goes: a directory or an object-store URL.
    pub out: String,
}

/// Produces the bundle of `job` at `job.out`; returns its manifest.
pub fn produce(job: &Job<'_>) -> Result<Manifest, QueryError> {
    if job.to_ms <= job.from_ms {
        return Err(QueryError::Report(format!(
            "the period is empty: --to ({}) must be after --from ({})",
            auditfed_schemas::seal::format_time(job.to_ms),
            auditfed_schemas::seal::format_time(job.from_ms)
        )));
    }
    if !job
        .keyring
        .keys()
        .iter()
        .any(|k| k.to_string() == job.signer.verifier_key().to_string())
    {
        return Err(QueryError::Report(format!(
            "the signing key `{}` is not in the keyring: a bundle it signs would not verify (add it with `auditfed keygen`)",
            job.signer.name()
        )));
    }
    let pack = Pack::load(&job.pack)?;
    validate(&pack)?;
    let spec = RunSpec {
        pack: pack.clone(),
        params: job.params.clone(),
        from_ms: job.from_ms,
        to_ms: job.to_ms,
        archives: job.archives.clone(),
        receipts: job.sides.receipts.clone(),
        coverage: job.sides.coverage.clone(),
        keyring: job.keyring.clone(),
        dead_letters: job.dead_letters.clone(),
    };
    let pinned = pin(&spec)?;
    tracing::info!(
        pack = %pack.header.name,
        chains = pinned.chains.len(),
        "archive pinned; running the controls"
    );
    let data = run(&spec, pinned, auditfed_platform::clock::now_ms())?;
    let store = crate::object::Location::parse(&job.out)?.open()?;
    let manifest = write_bundle(
        store.as_ref(),
        &data,
        &pack,
        &job.params,
        &job.sides,
        job.signer,
    )?;
    tracing::info!(out = %job.out, controls = manifest.controls.len(), "report bundle written");
    Ok(manifest)
}

/// The dead letters of `[from_ms, to_ms)` in `topic` (`<prefix>.dlq`),
/// counted per source and reason (the reason's first 120 characters).
pub fn dead_letters(
    kafka: &auditfed_platform::kafka::Kafka,
    topic: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<DeadLetters>, QueryError> {
    use auditfed_platform::kafka::consume::{BoundedReader, End};
    use auditfed_platform::kafka::headers;
    use rdkafka::Message;
    use rdkafka::message::Headers;
    let reader = BoundedReader::open(
        kafka,
        topic,
        "auditfed-report-dlq",
        Some(from_ms),
        End::Stable,
    )?;
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    reader.for_each(std::time::Duration::from_secs(120), |m| {
        let time = m.timestamp().to_millis().unwrap_or(0);
        if time < from_ms || time >= to_ms {
            return Ok::<(), QueryError>(());
        }
        let header = |key: &str| -> String {
            m.headers()
                .and_then(|hs| hs.iter().find(|h| h.key == key).and_then(|h| h.value))
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let reason: String = header(headers::REASON).chars().take(120).collect();
        *counts.entry((header(headers::SOURCE), reason)).or_default() += 1;
        Ok(())
    })?;
    Ok(counts
        .into_iter()
        .map(|((source, reason), count)| DeadLetters {
            source,
            reason,
            count,
        })
        .collect())
}
