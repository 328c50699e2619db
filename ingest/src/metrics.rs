//! Prometheus counters per collector, served as text at `/metrics`
//! (`[ingest] metrics_listen`):
//!
//! ```text
//! auditfed_collector_records_total{collector="app_logs"} 1200
//! auditfed_collector_bytes_total{collector="app_logs"} 301122
//! auditfed_collector_errors_total{collector="app_logs"} 0
//! auditfed_collector_lag{collector="app_logs"} 0
//! ```
//!
//! `lag` is what the source still holds and the collector has not read, in
//! the source's unit (bytes for files, messages for queues).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One collector's counters.
#[derive(Debug)]
pub struct Counters {
    name: String,
    records: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    lag: AtomicU64,
}

impl Counters {
    /// Zeroed counters of collector `name`.
    pub fn new(name: &str) -> Counters {
        Counters {
            name: name.to_owned(),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            lag: AtomicU64::new(0),
        }
    }
    /// One record of `bytes` bytes read.
    pub fn record(&self, bytes: usize) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    /// One error (a dead letter, a failed read or commit).
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
    /// What the source holds beyond the collector's position.
    pub fn set_lag(&self, lag: u64) {
        self.lag.store(lag, Ordering::Relaxed);
    }
    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
    /// Errors so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Name, type, help text and reader of one metric.
type Metric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Counters) -> u64,
);

/// The counters of every running collector.
#[derive(Debug, Default, Clone)]
pub struct Registry(Arc<Mutex<Vec<Arc<Counters>>>>);

impl Registry {
    /// Adds a collector's counters.
    pub fn add(&self, counters: Arc<Counters>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(counters);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let metrics: [Metric; 4] = [
            (
                "records_total",
                "counter",
                "Raw records produced to Kafka.",
                |c| c.records.load(Ordering::Relaxed),
            ),
            (
                "bytes_total",
                "counter",
                "Bytes of raw records produced.",
                |c| c.bytes.load(Ordering::Relaxed),
            ),
            (
                "errors_total",
                "counter",
                "Dead letters and failed reads or commits.",
                |c| c.errors.load(Ordering::Relaxed),
            ),
            (
                "lag",
                "gauge",
                "What the source holds beyond the collector's position.",
                |c| c.lag.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in metrics {
            out += &format!(
                "# HELP auditfed_collector_{name} {help}\n# TYPE auditfed_collector_{name} {kind}\n"
            );
            for c in all.iter() {
                out += &format!(
                    "auditfed_collector_{name}{{collector=\"{}\"}} {}\n",
                    c.name.replace('\\', "\\\\").replace('"', "\\\""),
                    value(c)
                );
            }
        }
        out
    }

    /// Serves `/metrics` on `listen` from a thread of its own.
    pub fn serve(&self, listen: &str) -> Result<std::net::SocketAddr, String> {
        let listener = TcpListener::bind(listen)
            .map_err(|e| format!("ingest.metrics_listen = {listen:?}: cannot listen: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let registry = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                // Drain the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let (status, body) = if request.starts_with("GET /metrics") {
                    ("200 OK", registry.render())
                } else {
                    ("404 Not Found", "see /metrics\n".to_owned())
                };
                let _ = write!(
                    &stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_per_collector() {
        let registry = Registry::default();
        let a = Arc::new(Counters::new("app"));
        a.record(10);
        a.record(5);
        a.error();
        a.set_lag(7);
        registry.add(a);
        let text = registry.render();
        assert!(
            text.contains("auditfed_collector_records_total{collector=\"app\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("auditfed_collector_bytes_total{collector=\"app\"} 15\n"));
        assert!(text.contains("auditfed_collector_errors_total{collector=\"app\"} 1\n"));
        assert!(text.contains("auditfed_collector_lag{collector=\"app\"} 7\n"));
        assert!(text.contains("# TYPE auditfed_collector_lag gauge\n"));
    }
}
