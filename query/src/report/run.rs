//! Running a pack over pinned archives: the controls' results, the
//! evidence health and the charts' figures, everything a bundle renders.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use auditfed_schemas::seal::{Keyring, format_time};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::pack::{Control, Pack, PackHeader, Status, substitute};
use super::state::{ChainState, findings_schema, verification_batches, verification_schema};
use crate::QueryError;
use crate::sql::{Archive, ChainPin, SidePin, register_side_tables, session_pinned, sql_error};
use crate::verify::Finding;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The pack.
    pub pack: Pack,
    /// Values of declared parameters (`--param`), over their defaults.
    pub params: BTreeMap<String, String>,
    /// Start of the period (inclusive), epoch ms.
    pub from_ms: i64,
    /// End of the period (exclusive), epoch ms.
    pub to_ms: i64,
    /// The archives.
    pub archives: Vec<Archive>,
    /// The sinks' delivery receipts (`archive.receipts_path`), if any.
    pub receipts: Option<String>,
    /// The pollers' coverage (`archive.coverage_path`), if any.
    pub coverage: Option<String>,
    /// The pinned public keys.
    pub keyring: Keyring,
    /// Dead letters of the period, per source and reason, when Kafka was
    /// read (`None`: not checked).
    pub dead_letters: Option<Vec<DeadLetters>>,
}

/// Dead letters of one source and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetters {
    /// The source (raw topic) they came from.
    pub source: String,
    /// Why they were rejected.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// The archive state a report rests on (recorded in its manifest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    /// Per chain, the checkpoint included.
    pub chains: Vec<ChainState>,
    /// Per archive, chains with data but no verifiable checkpoint.
    pub unpinned: BTreeMap<String, Vec<String>>,
    /// The side tables (receipts, coverage) up to these Kafka offsets.
    pub side: Vec<SidePin>,
}

/// One control's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    /// The control as defined.
    pub control: Control,
    /// The query as run (parameters substituted).
    pub sql: Option<String>,
    /// The control's status.
    pub status: Status,
    /// Why, in one line.
    pub reason: String,
    /// Column names of the rows.
    pub columns: Vec<String>,
    /// The first rows (at most the pack's `max_rows`), sorted, as text.
    pub rows: Vec<Vec<String>>,
    /// All rows the query returned.
    pub total_rows: u64,
    /// Rows per status, over all rows.
    pub counts: BTreeMap<String, u64>,
}

/// Events per source and hour, and what else tells whether the evidence is whole.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    /// Per archive: chains pinned, events sealed up to the pins, verifier findings.
    pub archives: Vec<ArchiveHealth>,
    /// Per source: events in the period and hours with and without events.
    pub sources: Vec<SourceHealth>,
    /// `(source, hour start ms, events)` for every hour with events.
    pub hours: Vec<(String, i64, u64)>,
    /// Pages of the API pollers that do not chain (`coverage_gaps`); `None`: no coverage table.
    pub coverage_gaps: Option<u64>,
    /// Per SIEM sink with receipts, events of the period not delivered; `None`: no receipts.
    pub undelivered: Option<Vec<(String, u64)>>,
    /// Dead letters of the period; `None`: not checked.
    pub dead_letters: Option<Vec<DeadLetters>>,
    /// What must be seen on the first page.
    pub flags: Vec<String>,
}

/// One archive's verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveHealth {
    /// Its name.
    pub archive: String,
    /// Chains pinned.
    pub chains: usize,
    /// Events sealed up to the pinned checkpoints.
    pub sealed_events: u64,
    /// Verifier findings that concern the report.
    pub findings: Vec<Finding>,
}

/// One source's activity in the period.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceHealth {
    /// The source type.
    pub source: String,
    /// Events in the period.
    pub events: u64,
    /// Hours of the period with at least one event.
    pub active_hours: u64,
    /// Hours of the period without any.
    pub silent_hours: u64,
    /// Its latest event before the end of the period (epoch ms).
    pub last_event_ms: Option<i64>,
}

/// Figures for the charts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Charts {
    /// Events per day (day start ms, events).
    pub per_day: Vec<(i64, u64)>,
    /// The 10 most active actors.
    pub top_actors: Vec<(String, u64)>,
    /// Events per source.
    pub per_source: Vec<(String, u64)>,
}

impl Charts {
    /// Events per day labelled `YYYY-MM-DD`, as both renderings draw them.
    pub fn labelled_days(&self) -> Vec<(String, u64)> {
        self.per_day
            .iter()
            .map(|(d, n)| (format_time(*d)[..10].to_owned(), *n))
            .collect()
    }
}

/// A computed report: what a bundle renders.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    /// The pack's header.
    pub pack: PackHeader,
    /// Where the pack came from.
    pub pack_origin: String,
    /// SHA-256 of the pack's text.
    pub pack_digest: String,
    /// Start of the period, epoch ms.
    pub from_ms: i64,
    /// End of the period (exclusive), epoch ms.
    pub to_ms: i64,
    /// When it was computed, epoch ms.
    pub generated_ms: i64,
    /// Declared parameters as substituted (SQL literals).
    pub params: BTreeMap<String, String>,
    /// The archives (name, location).
    pub archives: Vec<(String, String)>,
    /// The archive state.
    pub pinned: Pinned,
    /// Per control.
    pub controls: Vec<ControlResult>,
    /// Evidence health.
    pub health: Health,
    /// Chart figures.
    pub charts: Charts,
}

impl ReportData {
    /// Controls per status.
    pub fn status_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for c in &self.controls {
            *out.entry(c.status.as_str()).or_default() += 1;
        }
        out
    }
}

/// The SQL literal of a time: `:from` and `:to`.
pub fn timestamp_literal(ms: i64) -> String {
    format!("to_timestamp_millis({ms}) AT TIME ZONE 'UTC'")
}

/// The values substituted for `:from`, `:to`, `:from_ms`, `:to_ms` and
/// every declared parameter.
fn substitutions(
    params: &BTreeMap<String, String>,
    from_ms: i64,
    to_ms: i64,
) -> BTreeMap<String, String> {
    let mut values = params.clone();
    values.insert("from".into(), timestamp_literal(from_ms));
    values.insert("to".into(), timestamp_literal(to_ms));
    values.insert("from_ms".into(), from_ms.to_string());
    values.insert("to_ms".into(), to_ms.to_string());
    values
}

/// Pins the archives: every chain at its newest verifiable checkpoint,
/// the side tables at their current Kafka offsets.
pub fn pin(spec: &RunSpec) -> Result<Pinned, QueryError> {
    let mut pinned = Pinned::default();
    for archive in &spec.archives {
        let store = crate::object::Location::open_existing(&archive.location)?;
        let (states, unpinned) =
            super::state::pin_archive(&archive.name, store.as_ref(), &spec.keyring)?;
        if !unpinned.is_empty() {
            pinned.unpinned.insert(archive.name.clone(), unpinned);
        }
        pinned.chains.extend(states);
    }
    pinned.side = crate::sql::side_pins(spec.receipts.as_deref(), spec.coverage.as_deref())?;
    Ok(pinned)
}

/// Runs the pack over the archives as `pinned`, verifying them first.
pub fn run(spec: &RunSpec, pinned: Pinned, generated_ms: i64) -> Result<ReportData, QueryError> {
    let mut findings: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for archive in &spec.archives {
        let store = crate::object::Location::open_existing(&archive.location)?;
        let unpinned = pinned
            .unpinned
            .get(&archive.name)
            .cloned()
            .unwrap_or_default();
        let list = super::state::verify_pinned(
            &archive.name,
            store.as_ref(),
            &spec.keyring,
            &pinned.chains,
            &unpinned,
        )?;
        findings.insert(archive.name.clone(), list);
    }
    let params = spec.pack.resolve_params(&spec.params)?;
    let values = substitutions(&params, spec.from_ms, spec.to_ms);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| QueryError::Report(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let ctx = report_session(spec, &pinned, &findings).await?;
        for (name, sql) in &spec.pack.views {
            ctx.sql(&format!(
                "CREATE VIEW {name} AS {}",
                substitute(sql, &values)
            ))
            .await
            .map_err(|e| QueryError::Report(format!("view {name}: {}", sql_error(e))))?;
        }
        let mut controls = Vec::new();
        for control in &spec.pack.controls {
            tracing::debug!(control = %control.id, "running control");
            controls.push(run_control(&ctx, control, &values, spec.pack.max_rows()).await?);
        }
        let health = health(&ctx, spec, &pinned, &findings, &values).await?;
        let charts = charts(&ctx, &values, spec.from_ms, spec.to_ms).await?;
        Ok(ReportData {
            pack: spec.pack.header.clone(),
            pack_origin: spec.pack.origin.clone(),
            pack_digest: spec.pack.digest.clone(),
            from_ms: spec.from_ms,
            to_ms: spec.to_ms,
            generated_ms,
            params,
            archives: spec
                .archives
                .iter()
                .map(|a| (a.name.clone(), a.location.clone()))
                .collect(),
            pinned: pinned.clone(),
            controls,
            health,
            charts,
        })
    })
}

/// The session a pack runs in: pinned `events`, the audit views, the side
/// tables (empty when not configured) and the verification tables.
async fn report_session(
    spec: &RunSpec,
    pinned: &Pinned,
    findings: &BTreeMap<String, Vec<Finding>>,
) -> Result<SessionContext, QueryError> {
    let pins: Vec<ChainPin> = pinned.chains.iter().map(ChainState::pin).collect();
    let ctx = session_pinned(&spec.archives, Some(&pins)).await?;
    register_side_tables(
        &ctx,
        spec.receipts.as_deref(),
        spec.coverage.as_deref(),
        Some(&pinned.side),
    )
    .await?;
    let (verification, listed) = verification_batches(&pinned.chains, findings)?;
    register_batch(&ctx, "verification", verification)?;
    register_batch(&ctx, "verification_findings", listed)?;
    Ok(ctx)
}

fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<(), QueryError> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(sql_error)?;
    ctx.register_table(name, Arc::new(table))
        .map_err(sql_error)?;
    Ok(())
}

/// Plans every view and control of `pack` against empty tables of the
/// archive's schema: unknown tables, columns and functions are found
/// before any data is read.
pub fn validate(pack: &Pack) -> Result<(), QueryError> {
    let dir = std::env::temp_dir().join(format!(
        "auditfed-pack-check-{}-{}",
        std::process::id(),
        auditfed_platform::backoff::random_u64()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| QueryError::Report(e.to_string()))?;
    let result = (|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| QueryError::Report(e.to_string()))?;
        runtime.block_on(async {
            let archives = [Archive::new("validate", &dir.display().to_string())];
            let ctx = session_pinned(&archives, Some(&[])).await?;
            register_side_tables(&ctx, None, None, None).await?;
            register_batch(
                &ctx,
                "verification",
                RecordBatch::new_empty(verification_schema()),
            )?;
            register_batch(
                &ctx,
                "verification_findings",
                RecordBatch::new_empty(findings_schema()),
            )?;
            let params = pack.resolve_params(&BTreeMap::new())?;
            let values = substitutions(&params, 0, 86_400_000);
            let bad = |what: String, e: datafusion::error::DataFusionError| QueryError::Pack {
                pack: pack.origin.clone(),
                reason: format!("{what}: {}", sql_error(e)),
            };
            for (name, sql) in &pack.views {
                ctx.sql(&format!(
                    "CREATE VIEW {name} AS {}",
                    substitute(sql, &values)
                ))
                .await
                .map_err(|e| bad(format!("views.{name}"), e))?;
            }
            for control in &pack.controls {
                if let Some(sql) = &control.sql {
                    let df = ctx
                        .sql(&substitute(sql, &values))
                        .await
                        .map_err(|e| bad(format!("control {}", control.id), e))?;
                    df.create_physical_plan()
                        .await
                        .map_err(|e| bad(format!("control {}", control.id), e))?;
                }
            }
            Ok(())
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_control(
    ctx: &SessionContext,
    control: &Control,
    values: &BTreeMap<String, String>,
    max_rows: usize,
) -> Result<ControlResult, QueryError> {
    let failed = |e: datafusion::error::DataFusionError| {
        QueryError::Report(format!("control {}: {}", control.id, sql_error(e)))
    };
    let mut result = ControlResult {
        control: control.clone(),
        sql: None,
        status: Status::Manual,
        reason: String::new(),
        columns: Vec::new(),
        rows: Vec::new(),
        total_rows: 0,
        counts: BTreeMap::new(),
    };
    if let Some(sql) = &control.sql {
        let sql = substitute(sql, values);
        let df = ctx.sql(&sql).await.map_err(failed)?;
        let schema = df.schema().clone();
        result.columns = schema.fields().iter().map(|f| f.name().clone()).collect();
        let status_col = result.columns.iter().position(|c| c == "status");
        let reason_col = result.columns.iter().position(|c| c == "reason");
        // Every sortable column orders the rows: the same archive state
        // gives the same bytes.
        let order: Vec<String> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                !matches!(
                    f.data_type(),
                    DataType::List(_)
                        | DataType::LargeList(_)
                        | DataType::Struct(_)
                        | DataType::Map(..)
                )
            })
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        let ordered = if order.is_empty() {
            format!("SELECT * FROM ({sql}) control_rows")
        } else {
            format!(
                "SELECT * FROM ({sql}) control_rows ORDER BY {}",
                order.join(", ")
            )
        };
        let mut stream = ctx
            .sql(&ordered)
            .await
            .map_err(failed)?
            .execute_stream()
            .await
            .map_err(failed)?;
        let options = FormatOptions::default().with_null("");
        let mut first_reasons: BTreeMap<Status, String> = BTreeMap::new();
        let mut worst: Option<Status> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(failed)?;
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueryError::Report(format!("control {}: {e}", control.id)))?;
            for row in 0..batch.num_rows() {
                let cell = |i: usize| formatters[i].value(row).to_string();
                let status = match status_col {
                    Some(i) if batch.column(i).is_valid(row) => {
                        let text = cell(i);
                        Status::parse(&text).ok_or_else(|| {
                            QueryError::Report(format!(
                                "control {}: row status `{text}` is not pass, fail, info or manual",
                                control.id
                            ))
                        })?
                    }
                    _ => control.rows,
                };
                result.total_rows += 1;
                *result.counts.entry(status.as_str().to_owned()).or_default() += 1;
                if worst.is_none_or(|w| status.rank() > w.rank()) {
                    worst = Some(status);
                }
                first_reasons
                    .entry(status)
                    .or_insert_with(|| reason_col.map(cell).unwrap_or_default());
                if result.rows.len() < max_rows {
                    let mut cells: Vec<String> = (0..batch.num_columns()).map(cell).collect();
                    if status_col.is_none() {
                        cells.push(status.as_str().to_owned());
                    }
                    result.rows.push(cells);
                }
            }
        }
        if status_col.is_none() {
            result.columns.push("status".into());
        }
        result.sql = Some(sql);
        match worst {
            None => {
                result.status = control.empty;
                result.reason = control.empty_reason.clone();
            }
            Some(worst) => {
                result.status = worst;
                let counts: Vec<String> = result
                    .counts
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect();
                let first = first_reasons.get(&worst).cloned().unwrap_or_default();
                // One row, or a row that fails or needs a person: its own words.
                // Many rows that pass or inform: how many of each.
                let telling =
                    result.total_rows == 1 || matches!(worst, Status::Fail | Status::Manual);
                result.reason = if first.is_empty() || !telling {
                    format!("{} row(s): {}", result.total_rows, counts.join(", "))
                } else {
                    format!("{first} ({})", counts.join(", "))
                };
            }
        }
    }
    if let Some(evidence) = &control.manual {
        result.status = Status::Manual;
        result.reason = if result.total_rows > 0 {
            format!("{evidence} ({} supporting row(s) below)", result.total_rows)
        } else {
            evidence.clone()
        };
    }
    Ok(result)
}

/// Runs `sql` and returns its rows as text.
async fn text_rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<String>>, QueryError> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(sql_error)?
        .collect()
        .await
        .map_err(sql_error)?;
    let options = FormatOptions::default().with_null("");
    let mut out = Vec::new();
    for batch in &batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QueryError::Report(e.to_string()))?;
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn number(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

async fn health(
    ctx: &SessionContext,
    spec: &RunSpec,
    pinned: &Pinned,
    findings: &BTreeMap<String, Vec<Finding>>,
    values: &BTreeMap<String, String>,
) -> Result<Health, QueryError> {
    let mut health = Health::default();
    for archive in &spec.archives {
        let chains: Vec<&ChainState> = pinned
            .chains
            .iter()
            .filter(|c| c.archive == archive.name)
            .collect();
        let found = findings.get(&archive.name).cloned().unwrap_or_default();
        if !found.is_empty() {
            health.flags.push(format!(
                "VERIFICATION FAILED: archive {} has {} finding(s): the evidence may have been altered",
                archive.name,
                found.len()
            ));
        }
        if chains.is_empty() {
            health.flags.push(format!(
                "archive {} has no chain with a verifiable checkpoint: nothing in it is evidence",
                archive.name
            ));
        }
        health.archives.push(ArchiveHealth {
            archive: archive.name.clone(),
            chains: chains.len(),
            sealed_events: chains.iter().map(|c| c.last_seq).sum(),
            findings: found,
        });
    }
    let period = substitute("time >= :from AND time < :to", values);
    let hours = text_rows(
        ctx,
        &format!(
            "SELECT source, CAST(date_trunc('hour', time) AS BIGINT), count(*) FROM events WHERE {period} GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    )
    .await?;
    health.hours = hours
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap_or(0), number(&r[2])))
        .collect();
    let last_seen = text_rows(
        ctx,
        &substitute(
            "SELECT source, CAST(max(time) AS BIGINT) FROM events WHERE time < :to GROUP BY 1 ORDER BY 1",
            values,
        ),
    )
    .await?;
    let period_hours = ((spec.to_ms - spec.from_ms).max(0) as u64).div_ceil(3_600_000);
    for row in &last_seen {
        let source = row[0].clone();
        let in_period: Vec<&(String, i64, u64)> =
            health.hours.iter().filter(|h| h.0 == source).collect();
        let events: u64 = in_period.iter().map(|h| h.2).sum();
        let active = in_period.len() as u64;
        if events == 0 {
            health.flags.push(format!(
                "source {source} sent no events in the period (its last event: {})",
                row[1]
                    .parse::<i64>()
                    .map(format_time)
                    .unwrap_or_else(|_| row[1].clone())
            ));
        }
        health.sources.push(SourceHealth {
            source,
            events,
            active_hours: active,
            silent_hours: period_hours.saturating_sub(active),
            last_event_ms: row[1].parse().ok(),
        });
    }
    if spec.coverage.is_some() {
        let gaps = text_rows(ctx, "SELECT count(*) FROM coverage_gaps").await?;
        let n = gaps.first().map_or(0, |r| number(&r[0]));
        if n > 0 {
            health.flags.push(format!(
                "{n} gap(s) in the API pollers' coverage: pages that do not follow each other (see coverage_gaps)"
            ));
        }
        health.coverage_gaps = Some(n);
    }
    if spec.receipts.is_some() {
        let rows = text_rows(
            ctx,
            &format!(
                "SELECT s.sink, coalesce(u.n, 0) FROM (SELECT DISTINCT sink FROM receipts) s \
                 LEFT JOIN (SELECT sink, count(*) AS n FROM undelivered WHERE {period} GROUP BY sink) u \
                 ON s.sink = u.sink ORDER BY 1"
            ),
        )
        .await?;
        health.undelivered = Some(rows.iter().map(|r| (r[0].clone(), number(&r[1]))).collect());
    }
    health.dead_letters = spec.dead_letters.clone();
    Ok(health)
}

/// Events per UTC day over the period, days without events as 0 (a gap
/// must show as a gap); only the days with events for periods over 400 days.
fn every_day(counted: &BTreeMap<i64, u64>, from_ms: i64, to_ms: i64) -> Vec<(i64, u64)> {
    const DAY: i64 = 86_400_000;
    if to_ms - from_ms > 400 * DAY {
        return counted.iter().map(|(d, n)| (*d, *n)).collect();
    }
    let mut day = from_ms.div_euclid(DAY) * DAY;
    let mut out = Vec::new();
    while day < to_ms {
        out.push((day, counted.get(&day).copied().unwrap_or(0)));
        day += DAY;
    }
    out
}

async fn charts(
    ctx: &SessionContext,
    values: &BTreeMap<String, String>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Charts, QueryError> {
    let period = substitute("time >= :from AND time < :to", values);
    let per_day = text_rows(
        ctx,
        &format!(
            "SELECT CAST(date_trunc('day', time) AS BIGINT), count(*) FROM events WHERE {period} GROUP BY 1 ORDER BY 1"
        ),
    )
    .await?;
    let top = text_rows(
        ctx,
        &format!(
            "SELECT coalesce(actor_user_name, actor_user_uid, '(no actor)'), count(*) FROM events WHERE {period} \
             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
        ),
    )
    .await?;
    let per_source = text_rows(
        ctx,
        &format!("SELECT source, count(*) FROM events WHERE {period} GROUP BY 1 ORDER BY 1"),
    )
    .await?;
    let counted: BTreeMap<i64, u64> = per_day
        .iter()
        .map(|r| (r[0].parse().unwrap_or(0), number(&r[1])))
        .collect();
    Ok(Charts {
        per_day: every_day(&counted, from_ms, to_ms),
        top_actors: top.iter().map(|r| (r[0].clone(), number(&r[1]))).collect(),
        per_source: per_source
            .iter()
            .map(|r| (r[0].clone(), number(&r[1])))
            .collect(),
    })
}
