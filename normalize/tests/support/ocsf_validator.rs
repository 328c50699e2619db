//! A strict OCSF 1.8.0 validator over the *raw* schema files vendored in
//! `schemas/ocsf/1.8.0` (not a generated JSON Schema): it resolves `extends`,
//! `$include`d profiles, the `datetime` profile's `_dt` siblings, and checks
//! an event's required attributes, types, enum ids, constraints and that no
//! attribute is present that its class (with the profiles it declares in
//! `metadata.profiles`) does not define.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// One resolved attribute of a class or object.
#[derive(Debug, Clone)]
struct Attr {
    type_name: String,
    object_type: Option<String>,
    is_array: bool,
    requirement: String,
    enum_keys: Option<BTreeSet<String>>,
    /// The profile that adds the attribute; `None` when it is unconditional.
    profile: Option<String>,
}

/// A resolved class or object: attributes and constraints.
#[derive(Debug, Clone, Default)]
struct Shape {
    attrs: BTreeMap<String, Attr>,
    at_least_one: Vec<String>,
    just_one: Vec<String>,
}

pub struct Validator {
    root: PathBuf,
    dictionary: Map<String, Value>,
    types: Map<String, Value>,
    classes: BTreeMap<i64, (String, Shape)>,
    objects: BTreeMap<String, Shape>,
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Validator {
    pub fn load(root: &Path) -> Validator {
        let dict = read(&root.join("dictionary.json"));
        let mut v = Validator {
            root: root.to_owned(),
            dictionary: dict["attributes"].as_object().unwrap().clone(),
            types: dict["types"]["attributes"].as_object().unwrap().clone(),
            classes: BTreeMap::new(),
            objects: BTreeMap::new(),
        };
        let categories = read(&root.join("categories.json"));
        let mut event_files = BTreeMap::new();
        collect_json(&root.join("events"), &mut event_files);
        for (name, raw) in &event_files {
            let Some(uid) = raw.get("uid").and_then(Value::as_i64) else {
                continue;
            };
            let category = v.category_of(name, &event_files);
            let category_uid = categories["attributes"][&category]["uid"]
                .as_i64()
                .unwrap_or(0);
            let class_uid = if name == "base_event" {
                0
            } else {
                category_uid * 1000 + uid
            };
            let shape = v.resolve(name, &event_files);
            v.classes.insert(class_uid, (name.clone(), shape));
        }
        let base = v.resolve("base_event", &event_files);
        v.classes.insert(0, ("base_event".into(), base));
        let mut object_files = BTreeMap::new();
        collect_json(&root.join("objects"), &mut object_files);
        for name in object_files.keys() {
            let shape = v.resolve(name, &object_files);
            v.objects.insert(name.clone(), shape);
        }
        v
    }

    fn category_of(&self, name: &str, files: &BTreeMap<String, Value>) -> String {
        let raw = &files[name];
        if let Some(c) = raw.get("category").and_then(Value::as_str) {
            return c.to_owned();
        }
        match raw.get("extends").and_then(Value::as_str) {
            Some(parent) if files.contains_key(parent) => self.category_of(parent, files),
            _ => "other".into(),
        }
    }

    /// Resolves `name` with its `extends` chain and `$include`s.
    fn resolve(&self, name: &str, files: &BTreeMap<String, Value>) -> Shape {
        let raw = &files[name];
        let mut shape = match raw.get("extends").and_then(Value::as_str) {
            Some(parent) if files.contains_key(parent) && parent != name => {
                self.resolve(parent, files)
            }
            _ => Shape::default(),
        };
        let attrs = raw["attributes"].as_object().cloned().unwrap_or_default();
        if let Some(includes) = attrs.get("$include") {
            let list: Vec<&str> = match includes {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                Value::String(s) => vec![s.as_str()],
                _ => vec![],
            };
            for inc in list {
                let included = read(&self.root.join(inc));
                let profile = included
                    .get("meta")
                    .and_then(Value::as_str)
                    .filter(|m| *m == "profile")
                    .and_then(|_| {
                        included
                            .get("name")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    });
                for (k, def) in included["attributes"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
                {
                    self.merge_attr(&mut shape, &k, &def, profile.clone());
                }
            }
        }
        for (k, def) in &attrs {
            if k != "$include" {
                let inherited = shape.attrs.get(k).and_then(|a| a.profile.clone());
                self.merge_attr(&mut shape, k, def, inherited);
            }
        }
        if let Some(c) = raw.get("constraints") {
            let list = |k: &str| {
                c.get(k).and_then(Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
            };
            if let Some(l) = list("at_least_one") {
                shape.at_least_one = l;
            }
            if let Some(l) = list("just_one") {
                shape.just_one = l;
            }
        }
        shape
    }

    fn merge_attr(&self, shape: &mut Shape, name: &str, def: &Value, profile: Option<String>) {
        let dict = self.dictionary.get(name).cloned().unwrap_or(Value::Null);
        let prev = shape.attrs.get(name).cloned();
        let get_str = |k: &str| {
            def.get(k)
                .or_else(|| dict.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let type_name = get_str("type")
            .or(prev.as_ref().map(|p| p.type_name.clone()))
            .unwrap_or_else(|| "string_t".into());
        let enum_keys = def
            .get("enum")
            .or_else(|| dict.get("enum"))
            .and_then(Value::as_object)
            .map(|e| e.keys().cloned().collect::<BTreeSet<_>>())
            .map(|mut keys| {
                // A class's own enum adds to the shared one (0 Unknown / 99 Other stay valid).
                if let Some(prev) = prev.as_ref().and_then(|p| p.enum_keys.clone()) {
                    keys.extend(prev);
                }
                keys
            })
            .or(prev.as_ref().and_then(|p| p.enum_keys.clone()));
        // `"profile": null` in a class makes a profile attribute unconditional.
        let profile = match def.get("profile") {
            Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.clone()),
            _ => profile,
        };
        let attr = Attr {
            object_type: get_str("object_type")
                .or(prev.as_ref().and_then(|p| p.object_type.clone())),
            is_array: def
                .get("is_array")
                .or_else(|| dict.get("is_array"))
                .and_then(Value::as_bool)
                .or(prev.as_ref().map(|p| p.is_array))
                .unwrap_or(false),
            requirement: get_str("requirement")
                .or(prev.as_ref().map(|p| p.requirement.clone()))
                .unwrap_or_else(|| "optional".into()),
            type_name,
            enum_keys,
            profile,
        };
        shape.attrs.insert(name.to_owned(), attr);
    }

    /// Every problem with `event`, as `path: problem` lines (empty when valid).
    pub fn validate(&self, event: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let Some(class_uid) = event.get("class_uid").and_then(Value::as_i64) else {
            return vec!["class_uid: missing".into()];
        };
        let Some((_, shape)) = self.classes.get(&class_uid) else {
            return vec![format!("class_uid: {class_uid} is not an OCSF 1.8.0 class")];
        };
        let profiles: BTreeSet<String> = event["metadata"]["profiles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let activity = event
            .get("activity_id")
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        if event.get("type_uid").and_then(Value::as_i64) != Some(class_uid * 100 + activity) {
            errors.push("type_uid: must be class_uid * 100 + activity_id".into());
        }
        if class_uid != 0
            && event.get("category_uid").and_then(Value::as_i64) != Some(class_uid / 1000)
        {
            errors.push("category_uid: does not match class_uid".into());
        }
        self.check_shape("", event, shape, &profiles, &mut errors);
        errors
    }

    fn check_shape(
        &self,
        path: &str,
        value: &Value,
        shape: &Shape,
        profiles: &BTreeSet<String>,
        errors: &mut Vec<String>,
    ) {
        let Some(map) = value.as_object() else {
            errors.push(format!("{path}: expected an object"));
            return;
        };
        let allowed = |attr: &Attr| attr.profile.as_ref().is_none_or(|p| profiles.contains(p));
        for (key, v) in map {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if let Some(base) = key.strip_suffix("_dt")
                && shape
                    .attrs
                    .get(base)
                    .is_some_and(|a| a.type_name == "timestamp_t")
                && !shape.attrs.contains_key(key)
            {
                if !profiles.contains("datetime") {
                    errors.push(format!(
                        "{at}: needs the `datetime` profile in metadata.profiles"
                    ));
                }
                self.check_scalar(&at, "datetime_t", v, errors);
                continue;
            }
            match shape.attrs.get(key) {
                None => errors.push(format!("{at}: not an attribute of this class/object")),
                Some(attr) if !allowed(attr) => errors.push(format!(
                    "{at}: belongs to profile `{}`, not declared in metadata.profiles",
                    attr.profile.as_deref().unwrap_or_default()
                )),
                Some(attr) => self.check_attr(&at, attr, v, profiles, errors),
            }
        }
        for (name, attr) in &shape.attrs {
            if attr.requirement == "required" && allowed(attr) && !map.contains_key(name) {
                let at = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                errors.push(format!("{at}: required attribute missing"));
            }
        }
        if !shape.at_least_one.is_empty() && !shape.at_least_one.iter().any(|k| map.contains_key(k))
        {
            errors.push(format!(
                "{path}: needs at least one of {:?}",
                shape.at_least_one
            ));
        }
        if !shape.just_one.is_empty()
            && shape
                .just_one
                .iter()
                .filter(|k| map.contains_key(*k))
                .count()
                != 1
        {
            errors.push(format!("{path}: needs exactly one of {:?}", shape.just_one));
        }
    }

    fn check_attr(
        &self,
        at: &str,
        attr: &Attr,
        v: &Value,
        profiles: &BTreeSet<String>,
        errors: &mut Vec<String>,
    ) {
        if attr.is_array {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_one(&format!("{at}[{i}]"), attr, item, profiles, errors);
                    }
                }
                None => errors.push(format!("{at}: expected an array")),
            }
        } else {
            self.check_one(at, attr, v, profiles, errors);
        }
    }

    fn check_one(
        &self,
        at: &str,
        attr: &Attr,
        v: &Value,
        profiles: &BTreeSet<String>,
        errors: &mut Vec<String>,
    ) {
        // The raw dictionary names objects directly as the type (`"type": "user"`).
        let is_object = attr.type_name == "object_t"
            || attr.type_name == "object"
            || self.objects.contains_key(&attr.type_name);
        if is_object {
            let object = attr
                .object_type
                .as_deref()
                .unwrap_or(if attr.type_name == "object_t" {
                    "object"
                } else {
                    &attr.type_name
                });
            if object == "object" {
                if !v.is_object() {
                    errors.push(format!("{at}: expected an object"));
                }
                return;
            }
            match self.objects.get(object) {
                Some(shape) => self.check_shape(at, v, shape, profiles, errors),
                None => errors.push(format!("{at}: unknown object type {object}")),
            }
            return;
        }
        self.check_scalar(at, &attr.type_name, v, errors);
        // class_uid, category_uid and type_uid enums are generated by the schema
        // server, not in the raw files: `validate` checks them arithmetically.
        let generated = at == "class_uid" || at == "category_uid" || at == "type_uid";
        if let Some(keys) = &attr.enum_keys
            && !generated
            && let Some(n) = v.as_i64()
            && !keys.contains(&n.to_string())
        {
            errors.push(format!("{at}: {n} is not one of the enum values {keys:?}"));
        }
    }

    fn base_type(&self, type_name: &str) -> String {
        let mut t = type_name.to_owned();
        while let Some(parent) = self
            .types
            .get(&t)
            .and_then(|d| d.get("type"))
            .and_then(Value::as_str)
        {
            t = parent.to_owned();
        }
        t
    }

    fn check_scalar(&self, at: &str, type_name: &str, v: &Value, errors: &mut Vec<String>) {
        let ok = match self.base_type(type_name).as_str() {
            "string_t" => v.is_string(),
            "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
            "float_t" => v.is_number(),
            "boolean_t" => v.is_boolean(),
            "json_t" => true,
            other => {
                errors.push(format!("{at}: unknown base type {other}"));
                return;
            }
        };
        if !ok {
            errors.push(format!("{at}: {v} is not a {type_name}"));
            return;
        }
        let s = v.as_str().unwrap_or_default();
        let specific_ok = match type_name {
            "ip_t" => s.parse::<IpAddr>().is_ok(),
            "port_t" => v.as_i64().is_some_and(|p| (0..=65535).contains(&p)),
            "email_t" => regex::Regex::new(
                r"^[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~.]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$",
            )
            .unwrap()
            .is_match(s),
            "datetime_t" => regex::Regex::new(
                r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
            )
            .unwrap()
            .is_match(s),
            "uuid_t" => regex::Regex::new(
                r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
            )
            .unwrap()
            .is_match(s),
            _ => true,
        };
        if !specific_ok {
            errors.push(format!("{at}: {v} is not a valid {type_name}"));
        }
    }
}

fn collect_json(dir: &Path, out: &mut BTreeMap<String, Value>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            let raw = read(&path);
            if let Some(name) = raw.get("name").and_then(Value::as_str) {
                out.insert(name.to_owned(), raw);
            }
        }
    }
}
