//! `auditfed normalize --source <type|auto> [FILE|-]...`

use super::Failure;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use auditfed_normalize::{NormalizeError, Output, SetAsideKind, normalize};
use auditfed_schemas::{SourceMeta, SourceType};
use flate2::read::MultiGzDecoder;

/// Arguments of `auditfed normalize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source format, or `auto` to detect it from each record's content.
    #[arg(long, short, default_value = "auto", value_parser = parse_source)]
    source: SourceChoice,
    /// Year to assume for RFC 3164 syslog timestamps, which carry none
    /// (default: the file's modification year; for stdin, the current year).
    #[arg(long)]
    year: Option<i32>,
    /// Input files (plain or .gz); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
enum SourceChoice {
    Auto,
    Known(SourceType),
}

fn parse_source(s: &str) -> Result<SourceChoice, String> {
    if s == "auto" {
        return Ok(SourceChoice::Auto);
    }
    s.parse()
        .map(SourceChoice::Known)
        .map_err(|e| format!("{e}, or auto"))
}

/// Prints every event; reports bad records on stderr. Exit 0 when every
/// record normalized, 2 when any record (or file) could not be.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let source = match args.source {
        SourceChoice::Auto => None,
        SourceChoice::Known(s) => Some(s),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let mut failures = 0usize;
    for path in &files {
        let (input, year) = match read_input(path) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("auditfed: {}: {e}", path.display());
                failures += 1;
                continue;
            }
        };
        let meta = SourceMeta {
            object: Some(if path == Path::new("-") {
                "stdin".to_owned()
            } else {
                path.display().to_string()
            }),
            assumed_year: args.year.or(Some(year)),
            ..Default::default()
        };
        for result in normalize(source, &input, &meta) {
            match result {
                Ok(Output::Event(event)) => {
                    serde_json::to_writer(&mut out, &event)?;
                    out.write_all(b"\n")
                        .map_err(|e| format!("writing stdout: {e}"))?;
                }
                Ok(Output::SetAside(aside)) => match aside.kind {
                    SetAsideKind::CloudTrailDigest => eprintln!(
                        "auditfed: {}: {}: CloudTrail digest file, not an event: set aside for integrity checking",
                        path.display(),
                        aside.position
                    ),
                },
                Err(err) => {
                    failures += 1;
                    report(path, &err);
                }
            }
        }
    }
    out.flush().map_err(|e| format!("writing stdout: {e}"))?;
    if failures > 0 {
        eprintln!(
            "auditfed: {failures} record(s) could not be normalized (see above); the others were printed"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn report(path: &Path, err: &NormalizeError) {
    eprintln!("auditfed: {}: {err}", path.display());
}

/// The whole input, gunzipped when it is gzip, and the year to assume.
fn read_input(path: &Path) -> io::Result<(Vec<u8>, i32)> {
    let now_year = year_of(SystemTime::now());
    let (mut reader, year): (Box<dyn Read>, i32) = if path == Path::new("-") {
        (Box::new(io::stdin().lock()), now_year)
    } else {
        let file = File::open(path)?;
        let year = file
            .metadata()
            .and_then(|m| m.modified())
            .map(year_of)
            .unwrap_or(now_year);
        (Box::new(file), year)
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        MultiGzDecoder::new(&bytes[..]).read_to_end(&mut plain)?;
        bytes = plain;
    }
    Ok((bytes, year))
}

fn year_of(t: SystemTime) -> i32 {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // `YYYY-MM-DD`: the archive's own date function, not a second calendar.
    auditfed_schemas::archive::layout::date_of(ms)[..4]
        .parse()
        .unwrap_or(1970)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn years_of_known_instants() {
        let at = |secs: u64| year_of(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), 1970);
        assert_eq!(at(951_782_400), 2000); // 2000-02-29
        assert_eq!(at(1_735_689_599), 2024); // 2024-12-31T23:59:59Z
        assert_eq!(at(1_735_689_600), 2025);
    }
}
