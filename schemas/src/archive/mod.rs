//! The archive's Arrow schema: what every Parquet file of the archive holds.
//!
//! Three groups of columns, in this order:
//! 1. **query columns**: flattened, typed copies of what people filter and
//!    group on (time, class, actor, source IP, cloud account, API operation,
//!    ...), extracted from the event by [`QueryColumns::of`] so every writer
//!    flattens the same way;
//! 2. **the record**: the whole OCSF event as JSON (`event_json`) and the raw
//!    source record's bytes (`raw_record`);
//! 3. **seal columns**: chain id, sequence number, leaf hash and chain hash
//!    (see docs/integrity.md).
//!
//! The schema is versioned ([`ARCHIVE_SCHEMA_VERSION`], also in the schema
//! metadata): a reader refuses files whose version it does not know.

pub mod layout;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::ocsf::{Event, OCSF_VERSION};

/// Version of the archive layout; bumped on any incompatible column change.
pub const ARCHIVE_SCHEMA_VERSION: u32 = 1;

/// Schema metadata key holding [`ARCHIVE_SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "auditfed.archive_schema_version";

/// Schema metadata key holding the OCSF version of `event_json`.
pub const OCSF_VERSION_KEY: &str = "auditfed.ocsf_version";

/// Hive partition columns, in path order: `source=<source>/date=YYYY-MM-DD/`.
pub const PARTITION_COLUMNS: [&str; 2] = ["source", "date"];

/// Name of the column holding the whole OCSF event as JSON.
pub const EVENT_JSON_COLUMN: &str = "event_json";

/// The archive's Arrow schema, with its version in the metadata.
pub fn archive_schema() -> SchemaRef {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    let int32 = |name: &str| Field::new(name, DataType::Int32, true);
    let hash = |name: &str| Field::new(name, DataType::FixedSizeBinary(32), false);
    let fields = vec![
        // Query columns.
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("class_uid", DataType::Int32, false),
        utf8("class_name"),
        Field::new("category_uid", DataType::Int32, false),
        Field::new("activity_id", DataType::Int32, false),
        Field::new("type_uid", DataType::Int64, false),
        Field::new("severity_id", DataType::Int32, false),
        int32("status_id"),
        utf8("status_code"),
        utf8("actor_user_name"),
        utf8("actor_user_uid"),
        utf8("actor_user_type"),
        utf8("user_name"),
        utf8("src_ip"),
        utf8("cloud_provider"),
        utf8("cloud_account_uid"),
        utf8("cloud_region"),
        utf8("api_service"),
        utf8("api_operation"),
        Field::new(
            "resource_uids",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        utf8("tenant_uid"),
        Field::new("source_type", DataType::Utf8, false),
        utf8("product_name"),
        utf8("event_uid"),
        utf8("log_source"),
        // The record.
        Field::new(EVENT_JSON_COLUMN, DataType::Utf8, false),
        Field::new("raw_record", DataType::Binary, true),
        // Seal.
        Field::new("chain_id", DataType::Utf8, false),
        Field::new("seq", DataType::UInt64, false),
        hash("leaf_hash"),
        hash("chain_hash"),
    ];
    let metadata = HashMap::from([
        (
            SCHEMA_VERSION_KEY.to_owned(),
            ARCHIVE_SCHEMA_VERSION.to_string(),
        ),
        (OCSF_VERSION_KEY.to_owned(), OCSF_VERSION.to_owned()),
    ]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// The flattened query columns of one event, borrowed from it.
///
/// Field names match the archive's column names.
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct QueryColumns<'a> {
    pub time: i64,
    pub class_uid: i32,
    pub class_name: Option<&'a str>,
    pub category_uid: i32,
    pub activity_id: i32,
    pub type_uid: i64,
    pub severity_id: i32,
    pub status_id: Option<i32>,
    pub status_code: Option<&'a str>,
    pub actor_user_name: Option<&'a str>,
    pub actor_user_uid: Option<&'a str>,
    pub actor_user_type: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub src_ip: Option<&'a str>,
    pub cloud_provider: Option<&'a str>,
    pub cloud_account_uid: Option<&'a str>,
    pub cloud_region: Option<&'a str>,
    pub api_service: Option<&'a str>,
    pub api_operation: Option<&'a str>,
    pub resource_uids: Vec<&'a str>,
    pub tenant_uid: Option<&'a str>,
    pub product_name: Option<&'a str>,
    pub event_uid: Option<&'a str>,
    pub log_source: Option<&'a str>,
}

/// One query-column value, typed as in the archive schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// A `Timestamp(ms, UTC)` column.
    Time(i64),
    /// An `Int32` column.
    Int32(Option<i32>),
    /// An `Int64` column.
    Int64(i64),
    /// A `Utf8` column.
    Utf8(Option<&'a str>),
    /// A `List<Utf8>` column (null when empty).
    Utf8List(&'a [&'a str]),
}

impl<'a> QueryColumns<'a> {
    /// Every query column as `(column name, value)`, in schema order: what
    /// the verifier compares with the stored columns.
    pub fn cells(&'a self) -> Vec<(&'static str, Cell<'a>)> {
        vec![
            ("time", Cell::Time(self.time)),
            ("class_uid", Cell::Int32(Some(self.class_uid))),
            ("class_name", Cell::Utf8(self.class_name)),
            ("category_uid", Cell::Int32(Some(self.category_uid))),
            ("activity_id", Cell::Int32(Some(self.activity_id))),
            ("type_uid", Cell::Int64(self.type_uid)),
            ("severity_id", Cell::Int32(Some(self.severity_id))),
            ("status_id", Cell::Int32(self.status_id)),
            ("status_code", Cell::Utf8(self.status_code)),
            ("actor_user_name", Cell::Utf8(self.actor_user_name)),
            ("actor_user_uid", Cell::Utf8(self.actor_user_uid)),
            ("actor_user_type", Cell::Utf8(self.actor_user_type)),
            ("user_name", Cell::Utf8(self.user_name)),
            ("src_ip", Cell::Utf8(self.src_ip)),
            ("cloud_provider", Cell::Utf8(self.cloud_provider)),
            ("cloud_account_uid", Cell::Utf8(self.cloud_account_uid)),
            ("cloud_region", Cell::Utf8(self.cloud_region)),
            ("api_service", Cell::Utf8(self.api_service)),
            ("api_operation", Cell::Utf8(self.api_operation)),
            ("resource_uids", Cell::Utf8List(&self.resource_uids)),
            ("tenant_uid", Cell::Utf8(self.tenant_uid)),
            ("product_name", Cell::Utf8(self.product_name)),
            ("event_uid", Cell::Utf8(self.event_uid)),
            ("log_source", Cell::Utf8(self.log_source)),
        ]
    }

    /// Flattens an event given as parsed JSON (the verifier's view of
    /// `event_json`), without building an [`Event`]. Must agree with
    /// [`QueryColumns::of`]; a test checks both on every golden event.
    pub fn of_value(event: &'a serde_json::Value) -> QueryColumns<'a> {
        let s = |p: &str| event.pointer(p).and_then(serde_json::Value::as_str);
        let i32_at = |p: &str| {
            event
                .pointer(p)
                .and_then(serde_json::Value::as_i64)
                .and_then(|v| i32::try_from(v).ok())
        };
        let i64_at = |p: &str| {
            event
                .pointer(p)
                .and_then(serde_json::Value::as_i64)
                .unwrap_or_default()
        };
        QueryColumns {
            time: i64_at("/time"),
            class_uid: i32_at("/class_uid").unwrap_or_default(),
            class_name: s("/class_name"),
            category_uid: i32_at("/category_uid").unwrap_or_default(),
            activity_id: i32_at("/activity_id").unwrap_or_default(),
            type_uid: i64_at("/type_uid"),
            severity_id: i32_at("/severity_id").unwrap_or_default(),
            status_id: i32_at("/status_id"),
            status_code: s("/status_code"),
            actor_user_name: s("/actor/user/name"),
            actor_user_uid: s("/actor/user/uid"),
            actor_user_type: s("/actor/user/type"),
            user_name: s("/user/name"),
            src_ip: s("/src_endpoint/ip"),
            cloud_provider: s("/cloud/provider"),
            cloud_account_uid: s("/cloud/account/uid"),
            cloud_region: s("/cloud/region"),
            api_service: s("/api/service/name"),
            api_operation: s("/api/operation"),
            resource_uids: event
                .pointer("/resources")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("uid").and_then(serde_json::Value::as_str))
                .collect(),
            tenant_uid: s("/metadata/tenant_uid"),
            product_name: s("/metadata/product/name"),
            event_uid: s("/metadata/uid"),
            log_source: s("/metadata/log_source"),
        }
    }

    /// Flattens `event` into its query columns.
    pub fn of(event: &'a Event) -> QueryColumns<'a> {
        let actor_user = event.actor.as_ref().and_then(|a| a.user.as_ref());
        let cloud = event.cloud.as_ref();
        let api = event.api.as_ref();
        QueryColumns {
            time: event.time,
            class_uid: event.class_uid,
            class_name: event.class_name.as_deref(),
            category_uid: event.category_uid,
            activity_id: event.activity_id,
            type_uid: event.type_uid,
            severity_id: event.severity_id,
            status_id: event.status_id,
            status_code: event.status_code.as_deref(),
            actor_user_name: actor_user.and_then(|u| u.name.as_deref()),
            actor_user_uid: actor_user.and_then(|u| u.uid.as_deref()),
            actor_user_type: actor_user.and_then(|u| u.r#type.as_deref()),
            user_name: event.user.as_ref().and_then(|u| u.name.as_deref()),
            src_ip: event.src_endpoint.as_ref().and_then(|e| e.ip.as_deref()),
            cloud_provider: cloud.and_then(|c| c.provider.as_deref()),
            cloud_account_uid: cloud
                .and_then(|c| c.account.as_ref())
                .and_then(|a| a.uid.as_deref()),
            cloud_region: cloud.and_then(|c| c.region.as_deref()),
            api_service: api
                .and_then(|a| a.service.as_ref())
                .and_then(|s| s.name.as_deref()),
            api_operation: api.and_then(|a| a.operation.as_deref()),
            resource_uids: event
                .resources
                .iter()
                .flatten()
                .filter_map(|r| r.uid.as_deref())
                .collect(),
            tenant_uid: event.metadata.tenant_uid.as_deref(),
            product_name: event
                .metadata
                .product
                .as_ref()
                .and_then(|p| p.name.as_deref()),
            event_uid: event.metadata.uid.as_deref(),
            log_source: event.metadata.log_source.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocsf::{Api, Class, Metadata, ResourceDetails, Service, Severity};

    #[test]
    fn schema_is_versioned_and_cells_name_every_query_column_in_order() {
        let schema = archive_schema();
        assert_eq!(
            schema.metadata()[SCHEMA_VERSION_KEY],
            ARCHIVE_SCHEMA_VERSION.to_string()
        );
        assert_eq!(schema.metadata()[OCSF_VERSION_KEY], "1.8.0");
        let columns = QueryColumns::default();
        let mut names: Vec<&str> = columns.cells().into_iter().map(|(n, _)| n).collect();
        names.insert(21, "source_type");
        names.extend([
            "event_json",
            "raw_record",
            "chain_id",
            "seq",
            "leaf_hash",
            "chain_hash",
        ]);
        let fields: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, fields);
        for partition in PARTITION_COLUMNS {
            assert!(
                schema.field_with_name(partition).is_err(),
                "{partition} lives in the path, not the file"
            );
        }
    }

    #[test]
    fn query_columns_flatten_nested_attributes() {
        let mut event = Event::new(
            Class::ApiActivity,
            4,
            42,
            Severity::Informational,
            Metadata::default(),
        );
        event.api = Some(Api {
            operation: Some("DeleteBucket".into()),
            service: Some(Service {
                name: Some("s3.amazonaws.com".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        event.resources = Some(vec![
            ResourceDetails {
                uid: Some("arn:aws:s3:::a".into()),
                ..Default::default()
            },
            ResourceDetails {
                name: Some("no uid".into()),
                ..Default::default()
            },
        ]);
        let cols = QueryColumns::of(&event);
        assert_eq!(cols.api_operation, Some("DeleteBucket"));
        assert_eq!(cols.api_service, Some("s3.amazonaws.com"));
        assert_eq!(cols.resource_uids, vec!["arn:aws:s3:::a"]);
        assert_eq!(cols.type_uid, 600304);
        assert_eq!(cols.actor_user_name, None);
    }
}
