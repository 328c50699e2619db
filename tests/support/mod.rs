//! Shared by the end-to-end tests: the `auditfed` binary, the independent
//! Python checks, temp dirs, a serial lock and a seeded random generator.
//!
//! `scripts/test.sh` provides a Python with the needed packages
//! (AUDITFED_PYTHON) and sets AUDITFED_REQUIRE_PYTHON=1 so CI cannot skip a
//! check; a plain `cargo test` without them prints a notice and skips.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `auditfed` binary under test.
pub fn auditfed() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auditfed"))
}

/// A successful run's stdout as JSON lines (`--format json`, `--json`);
/// a failed run fails the test with its stderr.
pub fn json_lines(out: std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "auditfed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A child process (a server) killed when the test lets go of it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `server` listens on 127.0.0.1:`port`. Fails the test if it
/// exits first (with its stderr, when piped) or after `timeout`.
pub fn await_listening(server: &mut KillOnDrop, port: u16, timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.0.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(stderr) = server.0.stderr.as_mut() {
                std::io::Read::read_to_string(stderr, &mut err).unwrap();
            }
            panic!("the server exited with {status}: {err}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on port {port} after {timeout:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Asserts that `seen` (id → times read) holds every id of `expected` once
/// and nothing else; `what` names the records in the messages.
pub fn assert_exactly_once(
    what: &str,
    seen: &std::collections::BTreeMap<String, usize>,
    expected: &[String],
) {
    let missing: Vec<&String> = expected
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} records lost: {missing:?}",
        missing.len(),
        expected.len()
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{what}: records produced twice: {twice:?}"
    );
    let unexpected: Vec<_> = seen.keys().filter(|id| !expected.contains(id)).collect();
    assert!(
        unexpected.is_empty(),
        "{what}: records that should not have been read: {unexpected:?}"
    );
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Serializes the tests of one binary that share a broker or an emulator.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A small deterministic generator (xorshift), seeded from the clock or
/// AUDITFED_TEST_SEED, and printed so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = std::env::var("AUDITFED_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("AUDITFED_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

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

/// Runs `openssl ARGS` in `dir`; a failure fails the test with its stderr.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auditfed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
pub mod kafka;
pub mod object_stores;
pub mod outage;
