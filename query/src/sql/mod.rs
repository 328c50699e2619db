//! SQL over one or more archives with DataFusion.
//!
//! Every archive becomes a table of its Parquet files (hive partitions
//! `source=` and `date=` are columns, and filters on them prune files; row
//! groups are pruned on `time` by their statistics). The `events` view is
//! the union of all of them, with a column `archive` naming where each row
//! lives: one table, whatever the number of clouds and sites.
//!
//! Views for common audit questions are defined over `events`
//! ([`AUDIT_VIEWS`]): `failed_signins`, `privilege_changes`,
//! `audit_logging_disabled`, `audit_policy_changes`, `root_activity`,
//! `access_denied_bursts`, `logins_without_mfa`, `new_access_keys`,
//! `admin_role_grants`, `k8s_exec_and_secrets`, `field_completeness` and
//! `clock_skew`. The function `json_get(event_json, 'dotted.path')` reads
//! any other attribute of the OCSF event (see [`json_get_udf`]).
//!
//! ```no_run
//! use auditfed_query::sql::{Archive, Catalog};
//!
//! let catalog = Catalog::new(&[Archive::new("onprem", "./auditfed-data/archive")])?;
//! let batches = catalog.query("SELECT source, count(*) FROM events GROUP BY source")?;
//! # Ok::<(), auditfed_query::QueryError>(())
//! ```

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use auditfed_schemas::archive::archive_schema;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::QueryError;
use crate::object::Location;

mod json;
mod views;

pub use json::json_get_udf;
pub use views::AUDIT_VIEWS;

/// One archive to query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Its name: the value of the `archive` column for its rows.
    pub name: String,
    /// Where it is: a directory, or an `s3://`, `gs://`, `az://` URL.
    pub location: String,
}

impl Archive {
    /// The archive at `location` (a directory or an object-store URL), named `name`.
    pub fn new(name: &str, location: &str) -> Archive {
        Archive {
            name: name.to_owned(),
            location: location.to_owned(),
        }
    }

    /// Parses `NAME=LOCATION` or `LOCATION` (named after its last path component).
    pub fn parse(spec: &str) -> Archive {
        match spec.split_once('=') {
            Some((name, location)) if !name.contains('/') && !name.contains(':') => {
                Archive::new(name, location)
            }
            _ if spec.contains("://") => Archive::new(spec, spec),
            _ => {
                let name = spec
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("archive");
                Archive::new(name, spec)
            }
        }
    }
}

/// A DataFusion session over archives, with `events` and the audit views.
pub struct Catalog {
    ctx: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl Catalog {
    /// Registers `archives` (at least one) and the views.
    pub fn new(archives: &[Archive]) -> Result<Catalog, QueryError> {
        Catalog::with_receipts(archives, None)
    }

    /// [`Catalog::new`], plus the delivery receipts at `receipts` (see
    /// [`register_receipts`]).
    pub fn with_receipts(
        archives: &[Archive],
        receipts: Option<&str>,
    ) -> Result<Catalog, QueryError> {
        Catalog::with_side_tables(archives, receipts, None)
    }

    /// [`Catalog::new`], plus the receipts at `receipts` and the pollers'
    /// coverage at `coverage` (see [`register_coverage`]).
    pub fn with_side_tables(
        archives: &[Archive],
        receipts: Option<&str>,
        coverage: Option<&str>,
    ) -> Result<Catalog, QueryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| QueryError::Store(format!("cannot start a runtime: {e}")))?;
        let ctx = runtime.block_on(async {
            let ctx = session(archives).await?;
            if let Some(receipts) = receipts {
                register_receipts(&ctx, receipts).await?;
            }
            if let Some(coverage) = coverage {
                register_coverage(&ctx, coverage).await?;
            }
            Ok::<_, QueryError>(ctx)
        })?;
        Ok(Catalog { ctx, runtime })
    }

    /// Runs one SQL statement. Reads only: DDL and DML (`CREATE`,
    /// `INSERT INTO events`, `COPY … TO`) are refused, so a query cannot
    /// add files to an archive.
    pub fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        self.runtime.block_on(async {
            let df = self.read_only(sql).await?;
            df.collect().await.map_err(sql_error)
        })
    }

    /// Runs one read-only statement and streams its batches (see
    /// [`Catalog::block_on`] to pull them).
    pub fn stream(
        &self,
        sql: &str,
    ) -> Result<datafusion::physical_plan::SendableRecordBatchStream, QueryError> {
        self.runtime.block_on(async {
            let df = self.read_only(sql).await?;
            df.execute_stream().await.map_err(sql_error)
        })
    }

    /// Plans `sql`, refusing DDL and DML.
    async fn read_only(&self, sql: &str) -> Result<datafusion::dataframe::DataFrame, QueryError> {
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false);
        self.ctx
            .sql_with_options(sql, read_only)
            .await
            .map_err(sql_error)
    }

    /// Runs `future` on the catalog's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The session, for servers that run their own async code.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

pub(crate) fn sql_error(e: datafusion::error::DataFusionError) -> QueryError {
    let message = e.to_string();
    if message.contains("DML not supported") || message.contains("DDL not supported") {
        return QueryError::Sql(format!(
            "{message}: queries over the archive are read-only (the archive is evidence)"
        ));
    }
    QueryError::Sql(message)
}

/// A session with one table per archive, the `events` union and the views.
pub async fn session(archives: &[Archive]) -> Result<SessionContext, QueryError> {
    session_pinned(archives, None).await
}

/// The last sequence number of one chain that a pinned session shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainPin {
    /// The archive's name (the `archive` column).
    pub archive: String,
    /// The chain.
    pub chain_id: String,
    /// Rows with a larger `seq` are not shown.
    pub last_seq: u64,
}

/// [`session`], with `events` restricted to `pins` when given: only the
/// chains pinned, each up to its pinned sequence number. Rows archived
/// later (and chains that appeared later) are invisible, so a report run
/// again over a grown archive sees exactly what it saw the first time.
pub async fn session_pinned(
    archives: &[Archive],
    pins: Option<&[ChainPin]>,
) -> Result<SessionContext, QueryError> {
    if archives.is_empty() {
        return Err(QueryError::Sql("no archive to query".into()));
    }
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("auditfed", "public")
        // Filters on time are checked against row-group statistics and page indexes.
        .set_bool("datafusion.execution.parquet.pruning", true)
        .set_bool("datafusion.execution.parquet.enable_page_index", true)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true);
    // No listing cache: the archive grows while a server runs, and the cache
    // is keyed by path prefix alone, so two buckets with the same prefix
    // would share one listing.
    let runtime = RuntimeEnvBuilder::new()
        .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0))
        .build_arc()
        .map_err(sql_error)?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    ctx.register_udf(json_get_udf());
    let mut union = Vec::new();
    for (i, archive) in archives.iter().enumerate() {
        let table = format!("archive_{i}");
        register_archive(&ctx, &table, archive).await?;
        union.push(format!(
            "SELECT *, '{}' AS archive FROM {table}",
            archive.name.replace('\'', "''")
        ));
    }
    let all = union.join(" UNION ALL ");
    let events = match pins {
        None => format!("CREATE VIEW events AS {all}"),
        Some(pins) => {
            register_pins(&ctx, pins)?;
            format!(
                "CREATE VIEW events AS SELECT e.* FROM ({all}) e JOIN archive_pins p \
                 ON e.archive = p.archive AND e.chain_id = p.chain_id AND e.seq <= p.last_seq"
            )
        }
    };
    let statements = std::iter::once(events).chain(
        AUDIT_VIEWS
            .iter()
            .map(|(name, _, sql)| format!("CREATE VIEW {name} AS {sql}")),
    );
    for statement in statements {
        ctx.sql(&statement).await.map_err(sql_error)?;
    }
    Ok(ctx)
}

/// `archive_pins(archive, chain_id, last_seq)`: what a pinned session shows.
fn register_pins(ctx: &SessionContext, pins: &[ChainPin]) -> Result<(), QueryError> {
    use arrow_array::{StringArray, UInt64Array};
    use arrow_schema::{Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("archive", DataType::Utf8, false),
        Field::new("chain_id", DataType::Utf8, false),
        Field::new("last_seq", DataType::UInt64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                pins.iter().map(|p| p.archive.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                pins.iter().map(|p| p.chain_id.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                pins.iter().map(|p| p.last_seq),
            )),
        ],
    )
    .map_err(|e| QueryError::Sql(e.to_string()))?;
    let table =
        datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).map_err(sql_error)?;
    ctx.register_table("archive_pins", Arc::new(table))
        .map_err(sql_error)?;
    Ok(())
}

async fn register_archive(
    ctx: &SessionContext,
    table: &str,
    archive: &Archive,
) -> Result<(), QueryError> {
    let url = listing_url(
        ctx,
        &archive.location,
        &format!("archive `{}`", archive.name),
    )?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![
            ("source".to_owned(), DataType::Utf8),
            ("date".to_owned(), DataType::Utf8),
        ]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(archive_schema());
    let listing = ListingTable::try_new(config).map_err(sql_error)?;
    ctx.register_table(table, Arc::new(listing))
        .map_err(sql_error)?;
    Ok(())
}

/// The listing URL of a directory or object-store location (registering
/// the object store with the session); `what` names it in errors.
pub(crate) fn listing_url(
    ctx: &SessionContext,
    location: &str,
    what: &str,
) -> Result<ListingTableUrl, QueryError> {
    let location = Location::parse(location)?;
    let url = match &location {
        Location::Local(dir) => {
            let dir = std::fs::canonicalize(dir)
                .map_err(|e| QueryError::Store(format!("{what} at {}: {e}", dir.display())))?;
            format!("{}/", dir.display())
        }
        Location::Object { store_url, prefix } => {
            let store = location.object_store()?.expect("object location");
            let base = url::Url::parse(store_url).map_err(|e| QueryError::Store(e.to_string()))?;
            ctx.register_object_store(&base, store);
            if prefix.is_empty() {
                format!("{store_url}/")
            } else {
                format!("{store_url}/{prefix}/")
            }
        }
    };
    ListingTableUrl::parse(url).map_err(sql_error)
}

/// The undelivered events per sink: the `undelivered` view over `receipts`.
const UNDELIVERED: &str = "CREATE VIEW undelivered AS \
     SELECT s.sink, e.time, e.archive, e.source, e.event_uid, e.chain_id, e.seq \
     FROM (SELECT DISTINCT sink FROM receipts) s CROSS JOIN events e \
     WHERE NOT EXISTS (SELECT 1 FROM receipts r WHERE r.sink = s.sink \
     AND r.chain_id = e.chain_id AND r.seq = e.seq AND r.outcome IN ('delivered', 'withheld'))";

/// Pages that do not chain: the `coverage_gaps` view over `coverage`.
const COVERAGE_GAPS: &str = "CREATE VIEW coverage_gaps AS \
     SELECT collector, previous_seq, collector_seq, previous_cursor_to, cursor_from FROM ( \
       SELECT collector, collector_seq, cursor_from, \
         LAG(collector_seq) OVER (PARTITION BY collector ORDER BY collector_seq) AS previous_seq, \
         LAG(cursor_to) OVER (PARTITION BY collector ORDER BY collector_seq) AS previous_cursor_to \
       FROM coverage) pages \
     WHERE (previous_seq IS NULL AND collector_seq <> 0) \
        OR (previous_seq IS NOT NULL AND (collector_seq <> previous_seq + 1 OR cursor_from <> previous_cursor_to))";

/// Registers the delivery receipts at `location` (`archive.receipts_path`)
/// as `receipts`, and the view `undelivered`: per sink that has receipts,
/// the events with neither a delivered nor a withheld receipt. Receipts
/// name events by their seal (`chain_id`, `seq`), which is unique; the
/// event's `metadata.uid` is the source's id and may repeat.
pub async fn register_receipts(ctx: &SessionContext, location: &str) -> Result<(), QueryError> {
    register_side_table(ctx, SideTable::Receipts, Some(location), None).await
}

/// Registers the API pollers' coverage at `location`
/// (`archive.coverage_path`) as `coverage`, and the view `coverage_gaps`:
/// per collector, each page that does not follow the one before it (a
/// sequence number skipped, or a page fetched from another cursor than
/// where the previous one ended), and a first page that is not page 0.
/// An empty `coverage_gaps` is the proof that the pages chain.
pub async fn register_coverage(ctx: &SessionContext, location: &str) -> Result<(), QueryError> {
    register_side_table(ctx, SideTable::Coverage, Some(location), None).await
}

/// The side tables: Parquet blocks of a Kafka topic, apart from the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SideTable {
    Receipts,
    Coverage,
}

impl SideTable {
    fn name(self) -> &'static str {
        match self {
            SideTable::Receipts => "receipts",
            SideTable::Coverage => "coverage",
        }
    }

    fn schema(self) -> arrow_schema::SchemaRef {
        match self {
            SideTable::Receipts => crate::receipts::receipts_schema(),
            SideTable::Coverage => crate::coverage::coverage_schema(),
        }
    }

    fn view(self) -> &'static str {
        match self {
            SideTable::Receipts => UNDELIVERED,
            SideTable::Coverage => COVERAGE_GAPS,
        }
    }
}

/// How far a side table is read: its rows from one Kafka partition up to
/// an offset. Side tables grow while sinks deliver and pollers poll; a
/// report pins them as it pins the archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SidePin {
    /// `receipts` or `coverage`.
    pub table: String,
    /// The Kafka partition of the rows.
    pub kafka_partition: i32,
    /// The largest offset included.
    pub max_offset: i64,
}

/// The current end of the side tables at `receipts` and `coverage`.
pub fn side_pins(
    receipts: Option<&str>,
    coverage: Option<&str>,
) -> Result<Vec<SidePin>, QueryError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| QueryError::Store(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let mut pins = Vec::new();
        for (table, location) in [
            (SideTable::Receipts, receipts),
            (SideTable::Coverage, coverage),
        ] {
            let Some(location) = location else { continue };
            let ctx = SessionContext::new();
            register_side_table(&ctx, table, Some(location), None).await?;
            let batches = ctx
                .sql(&format!(
                    "SELECT kafka_partition, max(kafka_offset) FROM {} GROUP BY 1 ORDER BY 1",
                    table.name()
                ))
                .await
                .map_err(sql_error)?
                .collect()
                .await
                .map_err(sql_error)?;
            for batch in batches {
                let partitions = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow_array::Int32Array>()
                    .expect("kafka_partition is Int32");
                let offsets = batch
                    .column(1)
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>()
                    .expect("max(kafka_offset) is Int64");
                for i in 0..batch.num_rows() {
                    pins.push(SidePin {
                        table: table.name().to_owned(),
                        kafka_partition: partitions.value(i),
                        max_offset: offsets.value(i),
                    });
                }
            }
        }
        Ok(pins)
    })
}

/// Registers `receipts` (with `undelivered`) and `coverage` (with
/// `coverage_gaps`): from their locations when given, else empty, so that
/// queries over them plan everywhere; restricted to `pins` when given.
pub async fn register_side_tables(
    ctx: &SessionContext,
    receipts: Option<&str>,
    coverage: Option<&str>,
    pins: Option<&[SidePin]>,
) -> Result<(), QueryError> {
    register_side_table(ctx, SideTable::Receipts, receipts, pins).await?;
    register_side_table(ctx, SideTable::Coverage, coverage, pins).await
}

async fn register_side_table(
    ctx: &SessionContext,
    table: SideTable,
    location: Option<&str>,
    pins: Option<&[SidePin]>,
) -> Result<(), QueryError> {
    let name = table.name();
    let provider: Arc<dyn datafusion::catalog::TableProvider> = match location {
        Some(location) => {
            let url = listing_url(ctx, location, name)?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(table.schema());
            Arc::new(ListingTable::try_new(config).map_err(sql_error)?)
        }
        None => Arc::new(
            datafusion::datasource::MemTable::try_new(table.schema(), vec![vec![]])
                .map_err(sql_error)?,
        ),
    };
    match pins {
        None => {
            ctx.register_table(name, provider).map_err(sql_error)?;
        }
        Some(pins) => {
            let files = format!("{name}_files");
            ctx.register_table(files.as_str(), provider)
                .map_err(sql_error)?;
            let bounds: Vec<String> = pins
                .iter()
                .filter(|p| p.table == name)
                .map(|p| {
                    format!(
                        "(kafka_partition = {} AND kafka_offset <= {})",
                        p.kafka_partition, p.max_offset
                    )
                })
                .collect();
            let filter = if bounds.is_empty() {
                "FALSE".to_owned()
            } else {
                bounds.join(" OR ")
            };
            ctx.sql(&format!(
                "CREATE VIEW {name} AS SELECT * FROM {files} WHERE {filter}"
            ))
            .await
            .map_err(sql_error)?;
        }
    }
    ctx.sql(table.view()).await.map_err(sql_error)?;
    Ok(())
}

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row, per line.
    Json,
}

/// Renders result batches.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String, QueryError> {
    use datafusion::arrow;
    let err = |e: arrow::error::ArrowError| QueryError::Sql(e.to_string());
    match format {
        OutputFormat::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)
            .map_err(err)?
            .to_string()),
        OutputFormat::Csv => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for b in batches {
                    writer.write(b).map_err(err)?;
                }
            }
            String::from_utf8(out).map_err(|e| QueryError::Sql(e.to_string()))
        }
        OutputFormat::Json => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::json::LineDelimitedWriter::new(&mut out);
                for b in batches {
                    writer.write(b).map_err(err)?;
                }
                writer.finish().map_err(err)?;
            }
            String::from_utf8(out).map_err(|e| QueryError::Sql(e.to_string()))
        }
    }
}
