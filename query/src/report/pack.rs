//! Report packs: controls as data (TOML), loaded from a file, a directory
//! or the built-in set, checked before anything runs.
//!
//! ```toml
//! [pack]
//! name = "my-pack"
//! version = "1.0.0"
//! title = "Quarterly access review"
//! framework = "Internal policy 7"
//!
//! [params.max_failed]                  # a declared parameter: `:max_failed`
//! type = "number"
//! default = "10"
//! description = "Failed sign-ins per actor and day before a control fails"
//!
//! [views]                              # named queries the controls share
//! failures = "SELECT actor_user_name, count(*) AS n FROM failed_signins WHERE time >= :from AND time < :to GROUP BY 1"
//!
//! [[control]]
//! id = "AR-1"
//! title = "No actor fails to sign in too often"
//! description = "..."
//! rationale = "..."
//! sql = "SELECT actor_user_name, n, CASE WHEN n > :max_failed THEN 'fail' ELSE 'pass' END AS status, n || ' failures' AS reason FROM failures"
//!
//! [[control]]
//! id = "AR-2"
//! title = "Access review signed off"
//! manual = "Attach the signed access-review minutes."
//! ```
//!
//! How rows become a status: a `status` column (`pass`, `fail`, `info` or
//! `manual`) gives each row its own, with a `reason` column; without one,
//! every row has the control's `rows` status (default `fail`: the query
//! lists violations). No rows at all gives `empty` (default `pass`) with
//! `empty_reason`. A control's status is the worst of its rows' (fail,
//! then manual, then pass, then info). `manual` (the evidence to attach)
//! makes the control `manual` whatever its query returns; the rows are
//! then supporting evidence.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::QueryError;

fn pack_error(pack: &str, reason: impl Into<String>) -> QueryError {
    QueryError::Pack {
        pack: pack.to_owned(),
        reason: reason.into(),
    }
}

/// The packs compiled into auditfed: `(name, TOML)`.
pub const BUILT_IN: [(&str, &str); 5] = [
    ("pci-dss-4.0", include_str!("../../packs/pci-dss-4.0.toml")),
    ("soc2", include_str!("../../packs/soc2.toml")),
    (
        "iso27001-2022",
        include_str!("../../packs/iso27001-2022.toml"),
    ),
    ("hipaa", include_str!("../../packs/hipaa.toml")),
    (
        "nist-800-53-r5",
        include_str!("../../packs/nist-800-53-r5.toml"),
    ),
];

/// The result of a control or of one of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The requirement is met.
    Pass,
    /// The requirement is not met.
    Fail,
    /// Evidence only: nothing to decide.
    Info,
    /// Cannot be decided from logs: a person attaches evidence.
    Manual,
}

impl Status {
    /// Parses `pass`, `fail`, `info` or `manual`.
    pub fn parse(text: &str) -> Option<Status> {
        match text.trim().to_ascii_lowercase().as_str() {
            "pass" => Some(Status::Pass),
            "fail" => Some(Status::Fail),
            "info" => Some(Status::Info),
            "manual" => Some(Status::Manual),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Info => "info",
            Status::Manual => "manual",
        }
    }

    /// How bad it is: the worst row decides a control.
    pub fn rank(self) -> u8 {
        match self {
            Status::Info => 0,
            Status::Pass => 1,
            Status::Manual => 2,
            Status::Fail => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// `text` (substituted as a quoted SQL string) or `number`.
    #[serde(default = "text_kind", rename = "type")]
    pub kind: String,
    /// The value when none is given (`--param NAME=VALUE`).
    pub default: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
}

fn text_kind() -> String {
    "text".into()
}

/// One control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Its id in the framework (`10.2.1.4`, `CC6.1`).
    pub id: String,
    /// The framework (default: the pack's).
    #[serde(default)]
    pub framework: String,
    /// One line.
    pub title: String,
    /// What the requirement says.
    #[serde(default)]
    pub description: String,
    /// Why this query answers it.
    #[serde(default)]
    pub rationale: String,
    /// The query, over `events`, the views and the report tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Evidence a person must attach: makes the control `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
    /// The status of each row when the query has no `status` column.
    #[serde(default = "fail_status")]
    pub rows: Status,
    /// The status when the query returns no rows.
    #[serde(default = "pass_status")]
    pub empty: Status,
    /// The reason given when the query returns no rows.
    #[serde(default)]
    pub empty_reason: String,
}

fn fail_status() -> Status {
    Status::Fail
}

fn pass_status() -> Status {
    Status::Pass
}

/// `[pack]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackHeader {
    /// Short name (`pci-dss-4.0`).
    pub name: String,
    /// Its version: a changed control is a new version.
    pub version: String,
    /// Title printed on the report.
    pub title: String,
    /// The framework every control belongs to unless it names another.
    #[serde(default)]
    pub framework: String,
    /// What the pack covers.
    #[serde(default)]
    pub description: String,
    /// Rows kept per control in the bundle's CSV files (the count of all
    /// rows is always reported). Default 10 000.
    #[serde(default)]
    pub max_rows: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: Option<PackHeader>,
    #[serde(default)]
    params: BTreeMap<String, Param>,
    #[serde(default)]
    views: BTreeMap<String, String>,
    #[serde(default)]
    control: Vec<Control>,
}

/// A loaded pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pack {
    /// `[pack]`.
    pub header: PackHeader,
    /// Declared parameters (besides `:from` and `:to`).
    pub params: BTreeMap<String, Param>,
    /// Named queries, created as views before the controls run (in name order).
    pub views: BTreeMap<String, String>,
    /// The controls, in order.
    pub controls: Vec<Control>,
    /// Where it came from: `built-in:<name>` or a path.
    pub origin: String,
    /// SHA-256 (hex) of the pack's text, file by file in name order.
    pub digest: String,
}

/// The parameters every run gives: the period as timestamps and as epoch ms.
pub const RUN_PARAMS: [&str; 4] = ["from", "to", "from_ms", "to_ms"];

/// Rows kept per control when the pack does not say.
pub const DEFAULT_MAX_ROWS: usize = 10_000;

impl Pack {
    /// Loads `spec`: a built-in pack's name, a `.toml` file or a directory
    /// of them (one holding `[pack]`).
    pub fn load(spec: &str) -> Result<Pack, QueryError> {
        let path = Path::new(spec);
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| pack_error(spec, format!("cannot read the directory: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(pack_error(spec, "no .toml files in the directory"));
            }
            let mut texts = Vec::new();
            for file in &files {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    pack_error(&file.display().to_string(), format!("cannot read: {e}"))
                })?;
                texts.push((file.display().to_string(), text));
            }
            return Pack::parse_files(spec, &texts);
        }
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| pack_error(spec, format!("cannot read: {e}")))?;
            return Pack::parse_files(spec, &[(spec.to_owned(), text)]);
        }
        match BUILT_IN.iter().find(|(name, _)| *name == spec) {
            Some((name, text)) => Pack::parse_files(
                &format!("built-in:{name}"),
                &[(format!("built-in:{name}"), (*text).to_owned())],
            ),
            None => Err(pack_error(
                spec,
                format!(
                    "neither a file, a directory nor a built-in pack (built-in: {})",
                    BUILT_IN.map(|(n, _)| n).join(", ")
                ),
            )),
        }
    }

    /// Parses a pack from its files' texts `(name, text)`, checking its
    /// structure and every control's parameters (not yet its SQL: see
    /// [`super::run::validate`]).
    pub fn parse_files(origin: &str, files: &[(String, String)]) -> Result<Pack, QueryError> {
        let mut header = None;
        let mut params = BTreeMap::new();
        let mut views = BTreeMap::new();
        let mut controls: Vec<Control> = Vec::new();
        let mut digest = Sha256::new();
        for (name, text) in files {
            digest.update((text.len() as u64).to_be_bytes());
            digest.update(text.as_bytes());
            let file: PackFile = toml::from_str(text)
                .map_err(|e| pack_error(name, e.to_string().trim_end().to_owned()))?;
            if let Some(h) = file.pack {
                if header.is_some() {
                    return Err(pack_error(name, "a second [pack] table"));
                }
                header = Some(h);
            }
            for (key, param) in file.params {
                if params.insert(key.clone(), param).is_some() {
                    return Err(pack_error(name, format!("params.{key} declared twice")));
                }
            }
            for (key, view) in file.views {
                if views.insert(key.clone(), view).is_some() {
                    return Err(pack_error(name, format!("views.{key} defined twice")));
                }
            }
            controls.extend(file.control);
        }
        let header =
            header.ok_or_else(|| pack_error(origin, "no [pack] table (name, version, title)"))?;
        let mut pack = Pack {
            header,
            params,
            views,
            controls,
            origin: origin.to_owned(),
            digest: hex::encode(digest.finalize()),
        };
        pack.check()?;
        Ok(pack)
    }

    fn check(&mut self) -> Result<(), QueryError> {
        let origin = self.origin.clone();
        let bad = |what: String| pack_error(&origin, what);
        if self.controls.is_empty() {
            return Err(bad("no [[control]]".into()));
        }
        for (name, param) in &self.params {
            if !is_identifier(name) || RUN_PARAMS.contains(&name.as_str()) {
                return Err(bad(format!(
                    "params.{name}: a parameter name is a SQL identifier, and `from`, `to`, `from_ms`, `to_ms` are given by the run"
                )));
            }
            if param.kind != "text" && param.kind != "number" {
                return Err(bad(format!(
                    "params.{name}.type: expected `text` or `number`, found `{}`",
                    param.kind
                )));
            }
            literal(param, &param.default)
                .map_err(|why| bad(format!("params.{name}.default: {why}")))?;
        }
        for (name, sql) in &self.views {
            if !is_identifier(name) {
                return Err(bad(format!("views.{name}: not a SQL identifier")));
            }
            self.unknown_params(sql)
                .map_err(|p| bad(format!("views.{name}: unknown parameter `:{p}`")))?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for control in &mut self.controls {
            if control.id.trim().is_empty() {
                return Err(bad("a control without an id".into()));
            }
            if !seen.insert(control.id.clone()) {
                return Err(bad(format!("control {} appears twice", control.id)));
            }
            if control.sql.is_none() && control.manual.is_none() {
                return Err(bad(format!(
                    "control {}: needs `sql`, `manual` (the evidence to attach), or both",
                    control.id
                )));
            }
            if control.framework.is_empty() {
                control.framework = self.header.framework.clone();
            }
        }
        for control in &self.controls {
            if let Some(sql) = &control.sql {
                self.unknown_params(sql).map_err(|p| {
                    bad(format!(
                        "control {}: unknown parameter `:{p}` (declare it under [params.{p}])",
                        control.id
                    ))
                })?;
            }
        }
        Ok(())
    }

    fn unknown_params(&self, sql: &str) -> Result<(), String> {
        for name in parameters(sql) {
            if !RUN_PARAMS.contains(&name.as_str()) && !self.params.contains_key(&name) {
                return Err(name);
            }
        }
        Ok(())
    }

    /// Rows kept per control.
    pub fn max_rows(&self) -> usize {
        self.header.max_rows.unwrap_or(DEFAULT_MAX_ROWS)
    }

    /// The values of every declared parameter: `given` over the defaults,
    /// as SQL literals. A name not declared is an error.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, QueryError> {
        for name in given.keys() {
            if !self.params.contains_key(name) {
                let declared: Vec<&str> = self.params.keys().map(String::as_str).collect();
                return Err(pack_error(
                    &self.origin,
                    format!(
                        "--param {name}: the pack declares no such parameter (it declares: {})",
                        if declared.is_empty() {
                            "none".to_owned()
                        } else {
                            declared.join(", ")
                        }
                    ),
                ));
            }
        }
        let mut out = BTreeMap::new();
        for (name, param) in &self.params {
            let value = given.get(name).unwrap_or(&param.default);
            let literal = literal(param, value)
                .map_err(|why| pack_error(&self.origin, format!("--param {name}: {why}")))?;
            out.insert(name.clone(), literal);
        }
        Ok(out)
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A parameter's value as a SQL literal.
fn literal(param: &Param, value: &str) -> Result<String, String> {
    if param.kind == "number" {
        let ok = !value.is_empty()
            && value.parse::<f64>().is_ok_and(f64::is_finite)
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if !ok {
            return Err(format!("expected a number, found `{value}`"));
        }
        Ok(value.to_owned())
    } else {
        Ok(format!("'{}'", value.replace('\'', "''")))
    }
}

/// The `:name` parameters of `sql`, outside string literals, quoted
/// identifiers and comments (`::` casts are not parameters).
pub fn parameters(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(sql, &mut |name| {
        out.push(name.to_owned());
        None
    });
    out
}

/// `sql` with every `:name` replaced by `values[name]`.
pub fn substitute(sql: &str, values: &BTreeMap<String, String>) -> String {
    scan(sql, &mut |name| values.get(name).cloned())
}

/// Walks `sql`, calling `on_param` for each parameter; returns the text with
/// each parameter replaced by what `on_param` returned (kept when `None`).
fn scan(sql: &str, on_param: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == c)
                    .map_or(bytes.len(), |p| i + 1 + p + 1);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b':' if bytes.get(i + 1) == Some(&b':') => {
                out.push_str("::");
                i += 2;
            }
            b':' if bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') =>
            {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                let name = &sql[start..end];
                match on_param(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&sql[i..end]),
                }
                i = end;
            }
            _ => {
                let next = sql[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&sql[i..i + next]);
                i += next;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_found_outside_strings_comments_and_casts() {
        let sql =
            "SELECT ':no', x::text, \"a:b\" FROM t -- :nor\nWHERE time >= :from AND n > :max_n";
        assert_eq!(parameters(sql), ["from", "max_n"]);
        let values = BTreeMap::from([
            (
                "from".to_owned(),
                "TIMESTAMP '2026-01-01T00:00:00Z'".to_owned(),
            ),
            ("max_n".to_owned(), "5".to_owned()),
        ]);
        assert_eq!(
            substitute(sql, &values),
            "SELECT ':no', x::text, \"a:b\" FROM t -- :nor\nWHERE time >= TIMESTAMP '2026-01-01T00:00:00Z' AND n > 5"
        );
    }

    #[test]
    fn every_built_in_pack_loads() {
        for (name, _) in BUILT_IN {
            let pack = Pack::load(name).unwrap();
            assert_eq!(pack.header.name, name);
            assert!(pack.controls.len() >= 2, "{name}");
            for control in &pack.controls {
                assert!(!control.framework.is_empty(), "{name} {}", control.id);
            }
        }
    }

    #[test]
    fn structural_mistakes_are_named() {
        let err = |text: &str| {
            Pack::parse_files("t.toml", &[("t.toml".into(), text.into())])
                .unwrap_err()
                .to_string()
        };
        let head = "[pack]\nname='p'\nversion='1'\ntitle='t'\n";
        assert!(
            err(&format!(
                "{head}[[control]]\nid='a'\ntitle='x'\nsql='SELECT :nope'\n"
            ))
            .contains("unknown parameter `:nope`")
        );
        assert!(err(&format!("{head}[[control]]\nid='a'\ntitle='x'\n")).contains("needs `sql`"));
        assert!(
            err(&format!(
                "{head}[[control]]\nid='a'\ntitle='x'\nsql='SELECT 1'\nrows='maybe'\n"
            ))
            .contains("rows")
        );
        assert!(
            err(&format!(
                "{head}[[control]]\nid='a'\ntitle='x'\nsqll='SELECT 1'\n"
            ))
            .contains("sqll")
        );
        assert!(err("[[control]]\nid='a'\ntitle='x'\nsql='SELECT 1'\n").contains("no [pack]"));
        let pack = Pack::parse_files(
            "t.toml",
            &[(
                "t.toml".into(),
                format!("{head}[params.n]\ntype='number'\ndefault='3'\n[[control]]\nid='a'\ntitle='x'\nsql='SELECT :n'\n"),
            )],
        )
        .unwrap();
        let given = BTreeMap::from([("n".to_owned(), "x; DROP".to_owned())]);
        assert!(pack.resolve_params(&given).is_err());
        let given = BTreeMap::from([("m".to_owned(), "1".to_owned())]);
        assert!(
            pack.resolve_params(&given)
                .unwrap_err()
                .to_string()
                .contains("declares: n")
        );
    }
}
