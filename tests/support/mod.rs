//! Shared by the end-to-end tests: the independent Python checks, temp dirs.
//!
//! `scripts/test.sh` provides a Python with the needed packages
//! (AUDITFED_PYTHON) and sets AUDITFED_REQUIRE_PYTHON=1 so CI cannot skip a
//! check; a plain `cargo test` without them prints a notice and skips.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/<script> <arg>`: `Some((exit code, output))`, or `None` when
/// the script reports a missing package (exit 3) and that is allowed.
pub fn run_python(script: &str, arg: &Path) -> Option<(i32, String)> {
    run_python_args(script, &[arg.to_str().expect("UTF-8 path")])
}

/// [`run_python`] with several arguments.
pub fn run_python_args(script: &str, args: &[&str]) -> Option<(i32, String)> {
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(python)
        .arg(root().join("tests").join(script))
        .args(args)
        .output()
        .expect("cannot run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    if code == 3 {
        assert!(
            std::env::var("AUDITFED_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "the Python check {script} is required but cannot run: {text}"
        );
        eprintln!("skipping {script}: {text}");
        return None;
    }
    Some((code, text))
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auditfed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
pub mod kafka;
