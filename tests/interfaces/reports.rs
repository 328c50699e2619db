//! Reports as users and auditors see them: the quickstart's PCI DSS bundle
//! opened in headless Chromium (screenshot, every control, charts drawn),
//! its PDF turned into pages by pdftoppm and read by pdftotext, its
//! findings checked by the OCSF JSON Schemas, verified and re-run by the
//! CLI, and found out when the archive changes; a schedule of a few seconds
//! killed -9 mid-run and restarted: every period once, each mailed over
//! STARTTLS with AUTH to a real SMTP server (aiosmtpd) with a signature
//! that verifies, and posted to a webhook.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::Digest;
use support::{KillOnDrop, auditfed, free_port, openssl, temp_dir};

/// Runs the quickstart in a fresh directory: an archive, keys and a report.
fn quickstart(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let out = auditfed()
        .arg("quickstart")
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("6. report: PCI DSS 4.0")
            && stdout.contains("reports/pci-dss-4.0/report.html"),
        "the quickstart names its report:\n{stdout}"
    );
    dir
}

/// A program the test needs: its path, or `None` (a skip) unless
/// `AUDITFED_REQUIRE_BROWSER=1`, which makes its absence a failure.
fn tool(names: &[&str]) -> Option<String> {
    for name in names {
        // `--version` for Chromium, `-v` for poppler's tools.
        let works = |flag: &str| {
            Command::new(name)
                .arg(flag)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works("--version") || works("-v") {
            return Some((*name).to_owned());
        }
    }
    assert!(
        std::env::var("AUDITFED_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "{names:?} required (AUDITFED_REQUIRE_BROWSER=1) but not installed"
    );
    eprintln!("skipping the {names:?} part: not installed");
    None
}

fn run_ok(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_report_reads_in_a_browser_and_a_pdf_reader_and_proves_its_archive() {
    let dir = quickstart("report-quickstart");
    let data = dir.join("auditfed-data");
    let bundle = data.join("reports/pci-dss-4.0");
    let keyring = data.join("keys/keyring");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<String> = manifest["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 16, "PCI DSS 4.0 requirement 10: {ids:?}");

    if let Some(chromium) = tool(&["chromium", "chromium-browser"]) {
        let html = format!("file://{}", bundle.join("report.html").display());
        let png = dir.join("report.png");
        let browser = |extra: &[&str]| {
            let mut c = Command::new(&chromium);
            c.args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.join("chromium").display()
            ))
            .args(extra)
            .arg(&html);
            c
        };
        run_ok(&mut browser(&[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,3000",
        ]));
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 20_000,
            "a screenshot of the report ({size} bytes at {})",
            png.display()
        );
        let dom = run_ok(&mut browser(&["--dump-dom"]));
        for id in &ids {
            assert!(
                dom.contains(&format!("id=\"c-{id}\"")),
                "control {id} not in the page"
            );
        }
        for chart in ["chart-per-day", "chart-top-actors", "chart-per-source"] {
            let at = dom
                .find(&format!("id=\"{chart}\""))
                .unwrap_or_else(|| panic!("no {chart}"));
            let section = &dom[at..at + dom[at..].find("</svg>").unwrap()];
            assert!(
                section.matches("class=\"bar\"").count() >= 3,
                "{chart} draws bars"
            );
        }
        assert!(dom.contains("id=\"evidence-verdict\"") && dom.contains("Evidence health"));
        assert!(!dom.contains("<script"), "readable without JavaScript");
        eprintln!("screenshot of the report: {}", png.display());
    }

    if let Some(pdftoppm) = tool(&["pdftoppm"]) {
        let pdf = bundle.join("report.pdf");
        run_ok(
            Command::new(&pdftoppm)
                .args(["-png", "-r", "40"])
                .arg(&pdf)
                .arg(dir.join("page")),
        );
        let pages = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("page-")
            })
            .count();
        assert!(pages >= 2, "{pages} page(s)");
        let text = run_ok(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
        for expected in [
            "PCI DSS v4.0 Requirement 10",
            "Evidence health",
            "Archive state",
            "Events per day",
        ] {
            assert!(text.contains(expected), "no {expected:?} in the PDF's text");
        }
        for id in &ids {
            assert!(text.contains(id.as_str()), "control {id} not in the PDF");
        }
    }

    // The findings are OCSF 1.8.0 Compliance Findings, by the independent validator.
    let findings: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(bundle.join("findings.json")).unwrap()).unwrap();
    assert!(findings.len() >= ids.len());
    assert!(findings.iter().all(|f| f["class_uid"] == 2003));
    let golden = dir.join("findings-check");
    std::fs::create_dir_all(&golden).unwrap();
    let outcomes: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| serde_json::json!({ "event": f }))
        .collect();
    std::fs::write(
        golden.join("findings.golden.json"),
        serde_json::to_vec(&outcomes).unwrap(),
    )
    .unwrap();
    if let Some((code, text)) = support::run_python("ocsf_validate.py", &golden) {
        assert_eq!(code, 0, "{text}");
        assert!(text.contains(": 0 problem(s)"), "{text}");
    }

    // An auditor with the bundle, the keyring and the archive.
    let verify = |rerun: bool| {
        let mut c = auditfed();
        c.current_dir(&dir)
            .args(["report", "verify"])
            .arg(&bundle)
            .arg("--keys")
            .arg(&keyring);
        if rerun {
            c.args(["--rerun", "--archive"])
                .arg(format!("archive={}", data.join("archive").display()));
        }
        c.output().unwrap()
    };
    let out = verify(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A data file of the archive disappears: the re-run no longer matches.
    let victim = walk(&data.join("archive"))
        .into_iter()
        .find(|p| {
            p.extension().is_some_and(|e| e == "parquet")
                && p.to_string_lossy().contains("aws_cloudtrail")
        })
        .unwrap();
    std::fs::remove_file(&victim).unwrap();
    let out = verify(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("rerun_differs"), "{stdout}");
    // The bundle itself is edited.
    std::fs::write(
        bundle.join("controls/10.3.2.csv"),
        "archive,chain_id\nall,fine\n",
    )
    .unwrap();
    let out = verify(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("file_modified at controls/10.3.2.csv"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A CA and a server certificate for 127.0.0.1 it signed.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=report-test-ca",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// Starts the scheduler; its stderr lines arrive on the channel.
fn scheduler(dir: &Path, config: &Path) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = auditfed()
        .current_dir(dir)
        .env("AUDITFED_TEST_SMTP_PASSWORD", "s3cret-pass")
        .args(["--log-format", "json", "run", "reports", "--config"])
        .arg(config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (KillOnDrop(child), rx)
}

/// Lines until `stop` says so (or a timeout), returning them all.
fn lines_until(rx: &mpsc::Receiver<String>, mut stop: impl FnMut(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let done = stop(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("the scheduler did not get there:\n{}", seen.join("\n"));
}

/// The bundles a run's log says it delivered.
fn delivered(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "report delivered")
        .map(|v| {
            v["bundle"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn scheduled_reports_come_once_per_period_through_kill_9_mailed_and_signed() {
    let dir = quickstart("report-schedule");
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    certificates(&pki);
    let (smtp, http) = (free_port(), free_port());
    let peers_out = dir.join("peers");
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut peers = KillOnDrop(
        Command::new(python)
            .arg(support::root().join("tests/report_peers.py"))
            .arg(&peers_out)
            .args([smtp.to_string(), http.to_string()])
            .arg(pki.join("server.crt"))
            .arg(pki.join("server.key"))
            .args(["reports", "s3cret-pass"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !peers_out.join("ready").exists() {
        if let Ok(Some(status)) = peers.0.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(peers.0.stderr.as_mut().unwrap(), &mut err).unwrap();
            if status.code() == Some(3) {
                assert!(
                    std::env::var("AUDITFED_REQUIRE_PYTHON").as_deref() != Ok("1"),
                    "aiosmtpd is required: {err}"
                );
                eprintln!("skipping: {err}");
                return;
            }
            panic!("report_peers.py exited {status}: {err}");
        }
        assert!(
            Instant::now() < deadline,
            "the SMTP and webhook peers did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = dir.join("reports-out");
    let config = dir.join("auditfed.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[kafka]
bootstrap = "embedded"
[keys]
signing_key = "./auditfed-data/keys/auditfed.key"
keyring = "./auditfed-data/keys/keyring"
[archive]
path = "./auditfed-data/archive"
[reports.fast]
pack = "hipaa"
schedule = "*/3 * * * * *"
period = "rolling"
window = "3s"
out = "{out}"
attempts = 5
retry_secs = 1
[reports.fast.email]
smtp = "127.0.0.1:{smtp}"
security = "starttls"
username = "reports"
password = "${{AUDITFED_TEST_SMTP_PASSWORD}}"
from = "auditfed@example.com"
to = ["compliance@example.com", "auditor@example.com"]
ca_file = "{ca}"
[reports.fast.webhook]
url = "http://127.0.0.1:{http}/hook"
"#,
            out = out.display(),
            ca = pki.join("ca.crt").display()
        ),
    )
    .unwrap();
    let validate = auditfed()
        .current_dir(&dir)
        .env("AUDITFED_TEST_SMTP_PASSWORD", "s3cret-pass")
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );

    // Run 1: two periods delivered, then kill -9 in the middle of the third.
    let (mut run1, rx1) = scheduler(&dir, &config);
    let mut count = 0;
    let mut lines = lines_until(&rx1, |l| {
        if l.contains("\"report delivered\"") {
            count += 1;
        }
        count >= 2
    });
    lines.extend(lines_until(&rx1, |l| l.contains("archive pinned")));
    run1.0.kill().unwrap();
    run1.0.wait().unwrap();
    let first = delivered(&lines);
    assert_eq!(first.len(), 2, "{lines:?}");

    // Run 2: catches up the killed period, then three more delivered.
    let (mut run2, rx2) = scheduler(&dir, &config);
    let mut count = 0;
    let lines2 = lines_until(&rx2, |l| {
        if l.contains("\"report delivered\"") {
            count += 1;
        }
        count >= 3
    });
    run2.0.kill().unwrap();
    run2.0.wait().unwrap();
    let second = delivered(&lines2);

    // Every period once: the bundles follow each other without a gap, each
    // complete, each delivered exactly once over the two runs.
    let mut bundles: Vec<String> = std::fs::read_dir(out.join("fast"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains('_'))
        .collect();
    bundles.sort();
    for pair in bundles.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(
            a.split('_').nth(1),
            b.split('_').next(),
            "a gap or overlap between {a} and {b}"
        );
    }
    for b in &bundles {
        assert!(
            out.join("fast").join(b).join("manifest.sig").exists(),
            "{b} incomplete"
        );
    }
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(
        all, unique,
        "a period delivered twice: {first:?} then {second:?}"
    );
    assert_eq!(all, bundles, "delivered {all:?}, bundles {bundles:?}");

    // Mail: one per period, over STARTTLS with AUTH, the manifest signed by a trusted key.
    let keyring =
        auditfed_schemas::seal::Keyring::load(&dir.join("auditfed-data/keys/keyring")).unwrap();
    let mails: Vec<PathBuf> = std::fs::read_dir(&peers_out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mail-")
        })
        .collect();
    assert_eq!(mails.len(), bundles.len(), "one mail per period");
    for mail in &mails {
        let envelope: serde_json::Value =
            serde_json::from_slice(&std::fs::read(mail.join("envelope.json")).unwrap()).unwrap();
        assert_eq!(envelope["tls"], true);
        assert_eq!(envelope["authenticated"], true);
        assert_eq!(envelope["to"].as_array().unwrap().len(), 2);
        let manifest = std::fs::read(mail.join("manifest.json")).unwrap();
        let note = auditfed_schemas::seal::SignedNote::parse(
            &std::fs::read_to_string(mail.join("manifest.sig")).unwrap(),
        )
        .unwrap();
        note.verify_signature(&keyring).unwrap();
        let digest = hex::encode(sha2::Sha256::digest(&manifest));
        assert!(
            note.text.contains(&format!("manifest sha256:{digest}")),
            "{}",
            note.text
        );
        assert!(
            std::fs::read(mail.join("report.pdf"))
                .unwrap()
                .starts_with(b"%PDF")
        );
        let body = std::fs::read_to_string(mail.join("body.txt")).unwrap();
        assert!(
            body.contains("164.312(b)") && body.contains("auditfed report verify"),
            "{body}"
        );
        // The attachment is the bundle's manifest.
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let name = format!(
            "{}_{}",
            compact(m["from"].as_str().unwrap()),
            compact(m["to"].as_str().unwrap())
        );
        assert_eq!(
            std::fs::read(out.join("fast").join(&name).join("manifest.json")).unwrap(),
            manifest
        );
    }
    let hooks = std::fs::read_dir(&peers_out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("hook-")
        })
        .count();
    assert_eq!(hooks, bundles.len(), "one webhook call per period");
    let out_verify = auditfed()
        .args(["report", "verify"])
        .arg(out.join("fast").join(&bundles[0]))
        .arg("--keys")
        .arg(dir.join("auditfed-data/keys/keyring"))
        .output()
        .unwrap();
    assert!(
        out_verify.status.success(),
        "{}",
        String::from_utf8_lossy(&out_verify.stdout)
    );
    drop(peers);
    let _ = std::fs::remove_dir_all(dir);
}

/// `2026-12-06T08:46:25.000Z` → `20261206T084625Z`, the bundles' names.
fn compact(time: &str) -> String {
    format!(
        "{}{}{}T{}{}{}Z",
        &time[0..4],
        &time[5..7],
        &time[8..10],
        &time[11..13],
        &time[14..16],
        &time[17..19]
    )
}
