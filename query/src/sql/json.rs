//! `json_get(json, 'dotted.path')`: one value out of a JSON column.
//!
//! The query columns flatten what most questions need; the rest of the
//! OCSF event stays in `event_json`. This function reads it without a JSON
//! extension: `json_get(event_json, 'metadata.event_code')`,
//! `json_get(event_json, 'is_mfa')`. Strings come back as they are, other
//! values as their JSON text, and a missing path or JSON `null` as SQL
//! `NULL`. Array elements are addressed by index (`resources.0.uid`).

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::scalar::ScalarValue;
use std::collections::HashMap;

use serde_json::value::RawValue;

/// The `json_get` function, for registration in a session.
pub fn json_get_udf() -> ScalarUDF {
    create_udf(
        "json_get",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(json_get),
    )
}

fn json_get(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let path = match &args[1] {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(p))) => p.clone(),
        _ => {
            return Err(DataFusionError::Plan(
                "json_get(json, path): the path must be a string literal such as 'metadata.uid'"
                    .into(),
            ));
        }
    };
    let steps: Vec<&str> = path.split('.').collect();
    match &args[0] {
        ColumnarValue::Scalar(ScalarValue::Utf8(text)) => Ok(ColumnarValue::Scalar(
            ScalarValue::Utf8(text.as_deref().and_then(|t| lookup(t, &steps))),
        )),
        ColumnarValue::Scalar(other) => Err(DataFusionError::Plan(format!(
            "json_get expects text, found {}",
            other.data_type()
        ))),
        ColumnarValue::Array(array) => {
            let cast = arrow::compute::cast(array, &DataType::Utf8)?;
            let texts: &StringArray = as_string_array(&cast)?;
            let mut out = StringBuilder::with_capacity(texts.len(), texts.len() * 8);
            for i in 0..texts.len() {
                if texts.is_null(i) {
                    out.append_null();
                } else {
                    out.append_option(lookup(texts.value(i), &steps));
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
        }
    }
}

use datafusion::arrow;

/// The value at `steps` in the JSON `text`. Only the objects on the path are
/// split into their members, as unparsed slices: the rest of the document is
/// scanned, never built into a tree.
fn lookup(text: &str, steps: &[&str]) -> Option<String> {
    let mut at: &RawValue = serde_json::from_str(text).ok()?;
    for step in steps {
        let raw = at.get();
        at = match raw.as_bytes().first()? {
            b'{' => {
                let members: HashMap<String, &RawValue> = serde_json::from_str(raw).ok()?;
                *members.get(*step)?
            }
            b'[' => {
                let items: Vec<&RawValue> = serde_json::from_str(raw).ok()?;
                *items.get(step.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    let raw = at.get();
    match raw.as_bytes().first()? {
        b'"' => serde_json::from_str::<String>(raw).ok(),
        b'n' => None,
        _ => Some(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn paths_reach_strings_numbers_and_array_items() {
        let doc = r#"{"metadata":{"event_code":"team.add_member","uid":7},"is_mfa":false,"r":[{"uid":"a"}],"n":null}"#;
        let get = |p: &str| lookup(doc, &p.split('.').collect::<Vec<_>>());
        assert_eq!(
            get("metadata.event_code").as_deref(),
            Some("team.add_member")
        );
        assert_eq!(get("metadata.uid").as_deref(), Some("7"));
        assert_eq!(get("is_mfa").as_deref(), Some("false"));
        assert_eq!(get("r.0.uid").as_deref(), Some("a"));
        assert_eq!(get("n"), None);
        assert_eq!(get("metadata.missing"), None);
        assert_eq!(lookup("not json", &["a"]), None);
    }
}
