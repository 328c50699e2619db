//! Following files: each file's cursor is `{dev, ino, offset}` (the file's
//! identity and the first byte not yet produced), moved in the same Kafka
//! transaction as the lines it covers.
//!
//! Rotation: a file whose path now names another inode is read to its end
//! (through the handle kept open, or, after a restart, found again by its
//! inode in the same directory) before the new file is started at byte 0;
//! a file shorter than its cursor was truncated (copy-truncate) and is read
//! from 0. Only complete lines are produced while a file is current; a
//! rotated file's last line is produced even without its newline.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_schemas::SourceType;

use super::config::{FileConfig, StartAt};
use crate::IngestError;
use crate::collect::Collecting;
use crate::raw::RawRecord;
use auditfed_platform::clock::now_ms;

/// A file being followed.
struct Followed {
    file: File,
    dev: u64,
    ino: u64,
    offset: u64,
}

/// What a run read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileStats {
    /// Lines produced.
    pub records: u64,
    /// Lines dead-lettered (over `max_record_bytes`).
    pub rejected: u64,
    /// Rotations and truncations followed.
    pub rotations: u64,
}

/// How lines become records.
struct Lines {
    source: SourceType,
    max_record_bytes: usize,
    batch_records: usize,
}

/// Follows the files of `config` until `stop`, or until nothing new came
/// for `idle`.
pub fn follow(
    config: &FileConfig,
    out: &mut Collecting,
    max_record_bytes: usize,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<FileStats, IngestError> {
    let source: SourceType = config
        .source
        .parse()
        .map_err(|_| IngestError::Config(format!("unknown source type {:?}", config.source)))?;
    let mut open: BTreeMap<String, Followed> = BTreeMap::new();
    let mut stats = FileStats::default();
    let lines = Lines {
        source,
        max_record_bytes,
        batch_records: config.batch_records.max(1),
    };
    let mut last_read = Instant::now();
    let counters = out.counters();
    while !stop.load(Ordering::Relaxed) {
        let mut read_any = false;
        let mut lag = 0;
        for path in expand(&config.paths) {
            let key = path.to_string_lossy().into_owned();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !open.contains_key(&key) {
                let start = resume(out, &key, &path, &meta, config.start_at, &lines, &mut stats)?;
                read_any |= start.1;
                let Some(followed) = start.0 else { continue };
                open.insert(key.clone(), followed);
            }
            let followed = open.get_mut(&key).expect("inserted above");
            if (meta.dev(), meta.ino()) != (followed.dev, followed.ino) {
                // Renamed away: finish the old file, and any rotated
                // between it and the new one, then start the new one.
                read_any |= read_lines(out, &key, &path, followed, &lines, true, &mut stats)?;
                let since = followed.file.metadata().and_then(|m| m.modified()).ok();
                read_any |= catch_up(
                    out,
                    &key,
                    &path,
                    (followed.dev, followed.ino),
                    &meta,
                    since,
                    &lines,
                    &mut stats,
                )?;
                let file = File::open(&path).map_err(IngestError::read(&key))?;
                *followed = Followed {
                    file,
                    dev: meta.dev(),
                    ino: meta.ino(),
                    offset: 0,
                };
                stats.rotations += 1;
            } else if meta.len() < followed.offset {
                // Truncated in place (copy-truncate).
                followed.offset = 0;
                stats.rotations += 1;
            }
            read_any |= read_lines(out, &key, &path, followed, &lines, false, &mut stats)?;
            lag += meta.len().saturating_sub(followed.offset);
        }
        counters.set_lag(lag);
        out.commit()?;
        if read_any {
            last_read = Instant::now();
        } else {
            if idle.is_some_and(|idle| last_read.elapsed() >= idle) {
                break;
            }
            std::thread::sleep(Duration::from_millis(config.poll_ms));
        }
    }
    out.commit()?;
    Ok(stats)
}

/// Opens `path` where its cursor says, first finishing the file the cursor
/// names if a rotation happened while auditfed was not running.
fn resume(
    out: &mut Collecting,
    key: &str,
    path: &Path,
    meta: &std::fs::Metadata,
    start_at: StartAt,
    lines: &Lines,
    stats: &mut FileStats,
) -> Result<(Option<Followed>, bool), IngestError> {
    let io = IngestError::read(&key);
    let cursor = out.cursor(key).cloned();
    let at = |c: &serde_json::Value, k: &str| c[k].as_u64().unwrap_or(0);
    let mut read_any = false;
    let offset = match &cursor {
        None => match start_at {
            StartAt::Beginning => 0,
            StartAt::End => meta.len(),
        },
        Some(c) if (at(c, "dev"), at(c, "ino")) == (meta.dev(), meta.ino()) => {
            if meta.len() < at(c, "offset") {
                0
            } else {
                at(c, "offset")
            }
        }
        Some(c) => {
            // Rotated while we were away: the old file, if still in the
            // directory under another name, is read to its end first.
            let identity = (at(c, "dev"), at(c, "ino"));
            if let Some(old) = find_inode(path, identity.0, identity.1) {
                let mut followed = Followed {
                    file: File::open(&old).map_err(&io)?,
                    dev: identity.0,
                    ino: identity.1,
                    offset: at(c, "offset"),
                };
                read_any |= read_lines(out, key, &old, &mut followed, lines, true, stats)?;
                let since = followed.file.metadata().and_then(|m| m.modified()).ok();
                read_any |= catch_up(out, key, path, identity, meta, since, lines, stats)?;
            } else {
                out.counters().error();
                tracing::warn!(
                    file = %key,
                    inode = identity.1,
                    offset = at(c, "offset"),
                    "the file last read is gone (deleted or compressed?): lines written to it after this offset may be missing"
                );
            }
            stats.rotations += 1;
            0
        }
    };
    let file = File::open(path).map_err(&io)?;
    let followed = Followed {
        file,
        dev: meta.dev(),
        ino: meta.ino(),
        offset,
    };
    out.advance(key, cursor_of(&followed));
    Ok((Some(followed), read_any))
}

fn cursor_of(f: &Followed) -> serde_json::Value {
    serde_json::json!({ "dev": f.dev, "ino": f.ino, "offset": f.offset })
}

/// Produces the lines of `followed` from its offset; `to_end` also takes a
/// last line without its newline (the file will not grow any more).
fn read_lines(
    out: &mut Collecting,
    key: &str,
    shown: &Path,
    followed: &mut Followed,
    lines: &Lines,
    to_end: bool,
    stats: &mut FileStats,
) -> Result<bool, IngestError> {
    let Lines {
        source,
        max_record_bytes,
        batch_records,
    } = *lines;
    let io = IngestError::read(shown.display());
    followed
        .file
        .seek(SeekFrom::Start(followed.offset))
        .map_err(&io)?;
    let mut reader = BufReader::with_capacity(256 * 1024, &followed.file);
    let mut line = Vec::new();
    let mut read_any = false;
    let object = key.to_owned();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(&io)?;
        if n == 0 || (!line.ends_with(b"\n") && !to_end) {
            break;
        }
        let start = followed.offset;
        followed.offset += n as u64;
        read_any = true;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = RawRecord {
            source,
            object: &object,
            offset: start,
            bytes: text,
            received_ms: now_ms(),
        };
        if text.len() > max_record_bytes {
            out.dead_letter(
                &record,
                &format!(
                    "line of {} bytes, over ingest.max_record_bytes = {max_record_bytes}",
                    text.len()
                ),
            )?;
            stats.rejected += 1;
        } else {
            out.send(&record)?;
            stats.records += 1;
        }
        out.advance(key, cursor_of(followed));
        if out.batch_len() >= batch_records {
            out.commit()?;
        }
    }
    Ok(read_any)
}

/// The files `patterns` name now (wildcards in the file name), sorted.
fn expand(patterns: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains('*') && !name.contains('?') {
            out.push(path.to_path_buf());
            continue;
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        found.sort();
        out.extend(found);
    }
    out.dedup();
    out
}

/// `*` any run of characters, `?` one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Reads, oldest first and whole, the files rotated away after `since`
/// (named `<name>.*` or `<name>-*`, not compressed) that are neither the
/// file just finished nor the current one: they were current while the
/// collector was behind (two rotations between two reads).
#[allow(clippy::too_many_arguments)]
fn catch_up(
    out: &mut Collecting,
    key: &str,
    path: &Path,
    finished: (u64, u64),
    current: &std::fs::Metadata,
    since: Option<std::time::SystemTime>,
    lines: &Lines,
    stats: &mut FileStats,
) -> Result<bool, IngestError> {
    let Some(since) = since else {
        return Ok(false);
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(false);
    };
    let mut between: Vec<(std::time::SystemTime, PathBuf, std::fs::Metadata)> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let rotated =
                file.starts_with(&format!("{name}.")) || file.starts_with(&format!("{name}-"));
            let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip"]
                .iter()
                .any(|x| file.ends_with(x));
            let m = e.metadata().ok()?;
            let identity = (m.dev(), m.ino());
            (rotated
                && !compressed
                && m.is_file()
                && identity != finished
                && identity != (current.dev(), current.ino()))
                .then_some(())?;
            let modified = m.modified().ok()?;
            (modified >= since).then(|| (modified, e.path(), m))
        })
        .collect();
    between.sort_by_key(|a| a.0);
    let mut read_any = false;
    for (_, rotated, m) in between {
        let mut followed = Followed {
            file: File::open(&rotated).map_err(IngestError::read(rotated.display()))?,
            dev: m.dev(),
            ino: m.ino(),
            offset: 0,
        };
        read_any |= read_lines(out, key, &rotated, &mut followed, lines, true, stats)?;
        stats.rotations += 1;
    }
    Ok(read_any)
}

/// A file of `path`'s directory with this identity (a rotated-away file).
fn find_inode(path: &Path, dev: u64, ino: u64) -> Option<PathBuf> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let m = e.metadata().ok()?;
        (m.is_file() && m.dev() == dev && m.ino() == ino).then(|| e.path())
    })
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards_in_file_names() {
        assert!(wildcard("*.log", "auth.log"));
        assert!(wildcard("audit?.log", "audit1.log"));
        assert!(!wildcard("*.log", "auth.log.1"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
    }
}
