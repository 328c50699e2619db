//! What a rule matches: conditions over the archive's query columns (the
//! same names as in SQL), so one match decides a sealed event in a sink
//! and becomes a `WHERE` predicate over the `events` table
//! ([`Match::to_sql`]) for query roles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::archive::QueryColumns;

/// The query columns a rule may match on, with their kind.
pub const MATCH_COLUMNS: [(&str, Kind); 19] = [
    ("source_type", Kind::Text),
    ("class_uid", Kind::Int),
    ("category_uid", Kind::Int),
    ("activity_id", Kind::Int),
    ("severity_id", Kind::Int),
    ("status_id", Kind::Int),
    ("cloud_provider", Kind::Text),
    ("cloud_region", Kind::Text),
    ("cloud_account_uid", Kind::Text),
    ("tenant_uid", Kind::Text),
    ("actor_user_name", Kind::Text),
    ("actor_user_uid", Kind::Text),
    ("actor_user_type", Kind::Text),
    ("user_name", Kind::Text),
    ("src_ip", Kind::Text),
    ("api_service", Kind::Text),
    ("api_operation", Kind::Text),
    ("product_name", Kind::Text),
    ("log_source", Kind::Text),
];

/// A match column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text: values are exact, or a prefix ending in `*` (`eu-*`).
    Text,
    /// Integers: values are exact.
    Int,
}

/// One value of a condition: text (exact, or a `*`-ended prefix) or an
/// integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer (`class_uid = [3002]`).
    Int(i64),
    /// Text (`cloud_region = ["eu-*"]`).
    Text(String),
}

/// A rule's condition: every column named must have one of its values
/// (`AND` across columns, `OR` within a list); `fields` and `classified`
/// ask for fields present in the event. An empty match matches every event.
///
/// ```toml
/// match = { cloud_region = ["eu-*"], class_uid = [3002, 3001] }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Match {
    /// Column → accepted values (unknown columns: [`Match::check`]).
    pub columns: BTreeMap<String, Vec<Value>>,
}

/// What a rule is decided on: one event's query columns, its source type
/// and the event itself (for field conditions and redaction).
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The event's query columns.
    pub columns: QueryColumns<'a>,
    /// The source type (`aws_cloudtrail`, ...), when known.
    pub source_type: Option<&'a str>,
    /// The OCSF event.
    pub event: &'a serde_json::Value,
}

/// A column's value in one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Text, or nothing.
    Text(Option<&'a str>),
    /// An integer, or nothing.
    Int(Option<i64>),
}

impl<'a> Facts<'a> {
    /// The facts of `event` (parsed OCSF JSON) from source `source_type`.
    pub fn of(event: &'a serde_json::Value, source_type: Option<&'a str>) -> Facts<'a> {
        Facts {
            columns: QueryColumns::of_value(event),
            source_type,
            event,
        }
    }

    /// The value of match column `name` (one of [`MATCH_COLUMNS`]).
    pub fn cell(&self, name: &str) -> Cell<'a> {
        let c = &self.columns;
        match name {
            "source_type" => Cell::Text(self.source_type),
            "class_uid" => Cell::Int(Some(c.class_uid.into())),
            "category_uid" => Cell::Int(Some(c.category_uid.into())),
            "activity_id" => Cell::Int(Some(c.activity_id.into())),
            "severity_id" => Cell::Int(Some(c.severity_id.into())),
            "status_id" => Cell::Int(c.status_id.map(i64::from)),
            "cloud_provider" => Cell::Text(c.cloud_provider),
            "cloud_region" => Cell::Text(c.cloud_region),
            "cloud_account_uid" => Cell::Text(c.cloud_account_uid),
            "tenant_uid" => Cell::Text(c.tenant_uid),
            "actor_user_name" => Cell::Text(c.actor_user_name),
            "actor_user_uid" => Cell::Text(c.actor_user_uid),
            "actor_user_type" => Cell::Text(c.actor_user_type),
            "user_name" => Cell::Text(c.user_name),
            "src_ip" => Cell::Text(c.src_ip),
            "api_service" => Cell::Text(c.api_service),
            "api_operation" => Cell::Text(c.api_operation),
            "product_name" => Cell::Text(c.product_name),
            "log_source" => Cell::Text(c.log_source),
            _ => Cell::Text(None),
        }
    }

    /// Whether the event has a non-null value at dotted `path`.
    pub fn has_field(&self, path: &str) -> bool {
        field(self.event, path).is_some()
    }
}

/// The non-null value at dotted `path` of `value`.
pub fn field<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.')
        .try_fold(value, |v, part| v.get(part))
        .filter(|v| !v.is_null())
}

/// Whether `path` is a dotted path (`actor.user.email_addr`): no empty part.
pub fn is_dotted_path(path: &str) -> bool {
    !path.is_empty() && !path.split('.').any(str::is_empty)
}

/// Whether `text` is one of `patterns` (exact, or a prefix ending in `*`).
pub fn text_matches(patterns: &[Value], text: &str) -> bool {
    patterns.iter().any(|p| match p {
        Value::Text(p) => match p.strip_suffix('*') {
            Some(prefix) => text.starts_with(prefix),
            None => p == text,
        },
        Value::Int(i) => text == i.to_string(),
    })
}

impl Match {
    /// Whether `facts` satisfy every condition; `classes` resolves
    /// `classified` names to the pack's field lists.
    pub fn matches(&self, facts: &Facts<'_>, classes: &BTreeMap<String, Vec<String>>) -> bool {
        self.columns
            .iter()
            .all(|(column, values)| match column.as_str() {
                "fields" => values
                    .iter()
                    .any(|v| matches!(v, Value::Text(path) if facts.has_field(path))),
                "classified" => values.iter().any(|v| match v {
                    Value::Text(class) => classes
                        .get(class)
                        .is_some_and(|paths| paths.iter().any(|p| facts.has_field(p))),
                    Value::Int(_) => false,
                }),
                name => match facts.cell(name) {
                    Cell::Text(Some(text)) => text_matches(values, text),
                    Cell::Int(Some(n)) => values.contains(&Value::Int(n)),
                    Cell::Text(None) | Cell::Int(None) => false,
                },
            })
    }

    /// Problems of the match at `key`: unknown columns, values of the
    /// wrong kind, unknown field classes.
    pub fn check(
        &self,
        key: &str,
        classes: &BTreeMap<String, Vec<String>>,
    ) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (column, values) in &self.columns {
            let at = format!("{key}.{column}");
            if values.is_empty() {
                problems.push((
                    at.clone(),
                    "an empty list matches nothing; remove the key to match every value".into(),
                ));
            }
            match column.as_str() {
                "fields" => {
                    for v in values {
                        match v {
                            Value::Text(p) if is_dotted_path(p) => {}
                            other => problems.push((at.clone(), format!("{other:?}: expected a dotted path such as actor.user.email_addr"))),
                        }
                    }
                }
                "classified" => {
                    for v in values {
                        match v {
                            Value::Text(class) if classes.contains_key(class) => {}
                            other => problems.push((
                                at.clone(),
                                format!(
                                    "{other:?}: not a field class of this pack (its [classify] has: {})",
                                    classes.keys().cloned().collect::<Vec<_>>().join(", ")
                                ),
                            )),
                        }
                    }
                }
                name => match MATCH_COLUMNS.iter().find(|(c, _)| *c == name) {
                    None => problems.push((
                        at,
                        format!(
                            "unknown column; expected one of: {}, fields, classified",
                            MATCH_COLUMNS.map(|(c, _)| c).join(", ")
                        ),
                    )),
                    Some((_, Kind::Int)) => {
                        if let Some(v) = values.iter().find(|v| !matches!(v, Value::Int(_))) {
                            problems.push((at, format!("{v:?}: expected integers")));
                        }
                    }
                    Some((_, Kind::Text)) => {
                        if let Some(v) = values.iter().find(|v| match v {
                            Value::Text(t) => t.trim_end_matches('*').contains('*'),
                            Value::Int(_) => true,
                        }) {
                            problems.push((
                                at,
                                format!("{v:?}: expected text (exact, or a prefix ending in *)"),
                            ));
                        }
                    }
                },
            }
        }
        problems
    }

    /// The condition as a SQL predicate over the `events` table (`TRUE`
    /// when empty); `fields`/`classified` test `event_json` with the
    /// `json_get` function of `auditfed sql`.
    pub fn to_sql(&self, classes: &BTreeMap<String, Vec<String>>) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let has_field = |path: &str| format!("json_get(event_json, {}) IS NOT NULL", quote(path));
        let any = |terms: Vec<String>| match terms.len() {
            0 => "FALSE".to_owned(),
            1 => terms.into_iter().next().unwrap_or_default(),
            _ => format!("({})", terms.join(" OR ")),
        };
        let mut all = Vec::new();
        for (column, values) in &self.columns {
            let term = match column.as_str() {
                "fields" => any(values
                    .iter()
                    .filter_map(|v| match v {
                        Value::Text(p) => Some(has_field(p)),
                        Value::Int(_) => None,
                    })
                    .collect()),
                "classified" => any(values
                    .iter()
                    .filter_map(|v| match v {
                        Value::Text(c) => classes.get(c),
                        Value::Int(_) => None,
                    })
                    .flatten()
                    .map(|p| has_field(p))
                    .collect()),
                name => any(values
                    .iter()
                    .map(|v| match v {
                        Value::Int(i) => format!("{name} = {i}"),
                        Value::Text(t) => match t.strip_suffix('*') {
                            Some(prefix) => format!("starts_with({name}, {})", quote(prefix)),
                            None => format!("{name} = {}", quote(t)),
                        },
                    })
                    .collect()),
            };
            all.push(term);
        }
        if all.is_empty() {
            "TRUE".to_owned()
        } else {
            all.join(" AND ")
        }
    }

    /// Whether the match has no condition (matches every event).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}
