//! Reading packs: `[policies.<name>]` tables of the config (inline, or
//! `path` to a pack file) and pack files (`auditfed policy test DIR`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Pack, Policies};
use crate::config::{Problem, from_toml, interpolate_env};

/// The packs of `[policies.<name>]`, in name order, each checked; a
/// relative `path` is read from `base` (the config file's directory).
pub fn from_config(
    tables: &BTreeMap<String, toml::Value>,
    base: &Path,
) -> Result<Policies, Vec<Problem>> {
    let mut packs = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in tables {
        let key = format!("policies.{name}");
        let pack = match from_toml::<Pack>(&key, value.clone()) {
            Ok(pack) => pack,
            Err(p) => {
                problems.extend(p);
                continue;
            }
        };
        let pack = match &pack.path {
            None => pack,
            Some(path) => {
                let file = base.join(path);
                if pack.rules.len() + pack.tests.len() + pack.classify.len() > 0
                    || !pack.version.is_empty()
                {
                    problems.push(Problem::new(
                        format!("{key}.path"),
                        "a pack read from a file has no other keys here (put them in the file)",
                    ));
                    continue;
                }
                match read_file(&file) {
                    Ok(pack) => pack,
                    Err(p) => {
                        problems.extend(p);
                        continue;
                    }
                }
            }
        };
        let pack = Pack {
            name: name.clone(),
            ..pack
        };
        for (k, m) in pack.check(&key) {
            problems.push(Problem::new(k, m));
        }
        packs.push(pack);
    }
    if problems.is_empty() {
        Ok(Policies::new(packs))
    } else {
        Err(problems)
    }
}

/// One pack file (`${ENV}` from the environment), typed and checked; its
/// name is `name`, else the file's stem. Problems are keyed `<file>: <key>`.
pub fn read_file(path: &Path) -> Result<Pack, Vec<Problem>> {
    let key = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![Problem::new(&key, format!("cannot read the pack: {e}"))])?;
    let mut value: toml::Value = text
        .parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e: toml::de::Error| {
            vec![Problem::new(
                &key,
                format!("not valid TOML: {}", e.to_string().trim_end()),
            )]
        })?;
    let mut problems = Vec::new();
    interpolate_env(&key, &mut value, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut pack: Pack = from_toml(&key, value)?;
    if pack.path.is_some() {
        return Err(vec![Problem::new(
            format!("{key}.path"),
            "only a [policies.<name>] table of the config points to a file",
        )]);
    }
    if pack.name.is_empty() {
        pack.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let problems: Vec<Problem> = pack
        .check(&key)
        .into_iter()
        .map(|(k, m)| Problem::new(k, m))
        .collect();
    if problems.is_empty() {
        Ok(pack)
    } else {
        Err(problems)
    }
}

/// A pack file, or every `*.toml` pack of a directory (in name order).
pub fn read_path(path: &Path) -> Result<Vec<(PathBuf, Pack)>, Vec<Problem>> {
    if !path.is_dir() {
        return read_file(path).map(|p| vec![(path.to_path_buf(), p)]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| {
        vec![Problem::new(
            path.display().to_string(),
            format!("cannot list: {e}"),
        )]
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(vec![Problem::new(
            path.display().to_string(),
            "no *.toml pack in this directory",
        )]);
    }
    let mut packs = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match read_file(&file) {
            Ok(pack) => packs.push((file, pack)),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(packs)
    } else {
        Err(problems)
    }
}
