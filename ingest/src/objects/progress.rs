//! The backfill's progress line on stderr: a bar redrawn in place on a
//! terminal, a plain line every 10 s otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Objects and bytes done out of a known total.
pub struct Progress {
    label: String,
    total_objects: u64,
    total_bytes: u64,
    objects: u64,
    bytes: u64,
    records: u64,
    started: Instant,
    drawn: Option<Instant>,
    tty: bool,
}

impl Progress {
    /// A progress line for `label`, out of these totals.
    pub fn new(label: &str, total_objects: u64, total_bytes: u64) -> Progress {
        Progress {
            label: label.to_owned(),
            total_objects,
            total_bytes,
            objects: 0,
            bytes: 0,
            records: 0,
            started: Instant::now(),
            drawn: None,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// One more object of `bytes` (as stored) with `records` records.
    pub fn object_done(&mut self, bytes: u64, records: u64) {
        self.objects += 1;
        self.bytes += bytes;
        self.records += records;
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        if self.drawn.is_none_or(|t| t.elapsed() >= every) {
            self.draw(false);
        }
    }

    /// The final bar and a summary line naming `what` (both for the person
    /// watching); returns (records, seconds).
    pub fn finish(&mut self, what: &str) -> (u64, f64) {
        self.draw(true);
        let (records, secs) = (self.records, self.started.elapsed().as_secs_f64());
        let rate = records as f64 / secs.max(1e-3);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "auditfed: backfill of {what}: {records} records in {secs:.1} s ({rate:.0} records/s)"
        );
        tracing::info!(
            url = what,
            records,
            secs,
            records_per_sec = rate,
            "backfill done"
        );
        (records, secs)
    }

    fn draw(&mut self, last: bool) {
        self.drawn = Some(Instant::now());
        let line = self.line();
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}{}", if last { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let fraction = if self.total_bytes > 0 {
            self.bytes as f64 / self.total_bytes as f64
        } else if self.total_objects > 0 {
            self.objects as f64 / self.total_objects as f64
        } else {
            1.0
        }
        .min(1.0);
        let width = 24;
        let filled = (fraction * width as f64).round() as usize;
        let eta = if fraction > 0.0 && fraction < 1.0 {
            let left = secs * (1.0 - fraction) / fraction;
            format!(" · ETA {}", clock(left))
        } else {
            String::new()
        };
        format!(
            "{} [{}{}] {:>3.0}% {}/{} objects · {}/{} · {:.0} records/s · {}{eta}",
            self.label,
            "#".repeat(filled),
            "-".repeat(width - filled),
            fraction * 100.0,
            self.objects,
            self.total_objects,
            size(self.bytes),
            size(self.total_bytes),
            self.records as f64 / secs,
            clock(secs),
        )
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_how_far_and_how_fast() {
        let mut p = Progress::new("cloudtrail", 4, 4_000_000);
        p.tty = false;
        p.objects = 1;
        p.bytes = 1_000_000;
        p.records = 500;
        let line = p.line();
        assert!(
            line.starts_with(
                "cloudtrail [######------------------]  25% 1/4 objects · 1.0 MB/4.0 MB"
            ),
            "{line}"
        );
        assert!(line.contains("records/s") && line.contains("ETA"), "{line}");
        assert_eq!(clock(3725.0), "1h02m");
        assert_eq!(clock(72.0), "1m12s");
    }
}
