//! The crate docs are the manual: every public module of every crate is
//! listed, with a line of its own, in its crate's `lib.rs` docs, and no
//! manifest or crate doc speaks of issue numbers instead of what the code
//! does.

use std::path::{Path, PathBuf};

/// Every crate of the workspace with a library: its folder.
fn crates() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        "schemas",
        "ingest/platform",
        "ingest",
        "normalize",
        "query",
        "sinks",
    ]
    .iter()
    .map(|c| root.join(c))
    .collect()
}

/// `pub mod NAME;` declarations of a `lib.rs`, and its `//!` text.
fn modules_and_docs(lib: &str) -> (Vec<String>, String) {
    let mut modules = Vec::new();
    let mut docs = String::new();
    for line in lib.lines() {
        let line = line.trim();
        if let Some(doc) = line.strip_prefix("//!") {
            docs.push_str(doc);
            docs.push('\n');
        } else if let Some(name) = line
            .strip_prefix("pub mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        {
            modules.push(name.trim().to_owned());
        }
    }
    (modules, docs)
}

/// Whether the docs link the module: ``[`name`]``, ``[`mod@name`]`` or a
/// path through it (``[`name::Item`]``).
fn listed(docs: &str, module: &str) -> bool {
    [
        format!("[`{module}`]"),
        format!("[`mod@{module}`]"),
        format!("[`{module}::"),
    ]
    .iter()
    .any(|form| docs.contains(form.as_str()))
}

#[test]
fn every_public_module_is_listed_in_its_crate_docs() {
    let mut missing = Vec::new();
    for dir in crates() {
        let path = dir.join("src/lib.rs");
        let lib = std::fs::read_to_string(&path).unwrap();
        let (modules, docs) = modules_and_docs(&lib);
        assert!(
            !modules.is_empty(),
            "{}: no public module found",
            path.display()
        );
        for module in modules {
            if !listed(&docs, &module) {
                missing.push(format!("{}: `pub mod {module}`", path.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "public modules missing from their crate's module list (add a line [`name`]: what it holds):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_check_sees_a_missing_module() {
    let (modules, docs) = modules_and_docs(
        "//! - [`a`]: one\n//! - [`mod@b`]: two\npub mod a;\npub mod b;\npub mod c;\n",
    );
    assert_eq!(modules, ["a", "b", "c"]);
    assert!(listed(&docs, "a") && listed(&docs, "b"));
    assert!(!listed(&docs, "c"));
}

#[test]
fn manifests_and_crate_docs_name_no_issue_numbers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = vec![root.join("Cargo.toml")];
    for dir in crates() {
        files.push(dir.join("Cargo.toml"));
        files.push(dir.join("src/lib.rs"));
    }
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let mentions = lower.match_indices("issue").any(|(i, _)| {
                let rest = lower[i + "issue".len()..].trim_start_matches(['s', ' ', '#']);
                rest.starts_with(|c: char| c.is_ascii_digit())
            });
            if mentions {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "issue numbers:\n{}", found.join("\n"));
}
