//! Receiving syslog: reader threads (one per UDP socket and TCP
//! connection) hand messages over a bounded channel to the collector's
//! thread, which produces them in transactions of `batch_records` or
//! `batch_ms`. The channel is the backpressure: when Kafka is slow, readers
//! block, TCP senders see their window close, UDP datagrams queue in the
//! kernel (and, past its buffer, are dropped by it: UDP syslog has no
//! flow control).
//!
//! Each message keeps the peer and its sequence number on the connection
//! (`auditfed.object = syslog+tcp://<peer>#<connection>`, `auditfed.offset`).
//! A message received but not yet committed when the collector is killed
//! is lost: syslog over TCP has no acknowledgement to hold it back.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use auditfed_schemas::SourceType;

use super::config::SyslogConfig;
use crate::IngestError;
use crate::collect::Collecting;
use crate::raw::RawRecord;
use auditfed_platform::clock::now_ms;

/// What a run received.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyslogStats {
    /// Messages produced.
    pub received: u64,
    /// Messages dead-lettered (too long).
    pub rejected: u64,
    /// TCP connections accepted.
    pub connections: u64,
}

/// One message from a reader.
struct Message {
    object: String,
    seq: u64,
    bytes: Vec<u8>,
    /// Set when the message was over `max_message_bytes` (its length).
    too_long: Option<usize>,
}

const POLL: Duration = Duration::from_millis(200);

/// Receives until `stop`, or until nothing arrived for `idle`.
pub fn receive(
    config: &SyslogConfig,
    out: &mut Collecting,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<SyslogStats, IngestError> {
    let io = |what: &str, e: std::io::Error| IngestError::read(format!("syslog {what}"))(e);
    let udp = match &config.udp {
        Some(listen) => {
            let socket = UdpSocket::bind(listen).map_err(|e| io(listen, e))?;
            socket
                .set_read_timeout(Some(POLL))
                .map_err(|e| io(listen, e))?;
            let address = socket.local_addr().map_err(|e| io(listen, e))?;
            tracing::info!(listen = %format!("udp://{address}"), "syslog receiving");
            Some(socket)
        }
        None => None,
    };
    let listen =
        |address: &Option<String>, scheme: &str| -> Result<Option<TcpListener>, IngestError> {
            let Some(address) = address else {
                return Ok(None);
            };
            let listener = TcpListener::bind(address).map_err(|e| io(address, e))?;
            listener.set_nonblocking(true).map_err(|e| io(address, e))?;
            let local = listener.local_addr().map_err(|e| io(address, e))?;
            tracing::info!(listen = %format!("{scheme}://{local}"), "syslog receiving");
            Ok(Some(listener))
        };
    let tcp = listen(&config.tcp, "tcp")?;
    let tls = listen(&config.tls, "tls")?;
    let tls_config = match (&config.tls, &config.tls_cert, &config.tls_key) {
        (Some(_), Some(cert), Some(key)) => Some(
            crate::tls::server_config(cert, key, config.client_ca.as_deref())
                .map_err(|e| IngestError::Config(format!("syslog tls: {e}")))?,
        ),
        _ => None,
    };
    let (tx, rx) = sync_channel::<Message>(10_000);
    let connections = AtomicU64::new(0);
    let open = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        if let Some(socket) = udp {
            let tx = tx.clone();
            scope.spawn(move || read_udp(&socket, config.max_message_bytes, &tx, stop));
        }
        for (listener, tls) in [(tcp, None), (tls, tls_config)] {
            let Some(listener) = listener else {
                continue;
            };
            let tx = tx.clone();
            let (connections, open) = (&connections, &open);
            scope.spawn(move || {
                let scheme = if tls.is_some() { "tls" } else { "tcp" };
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, peer))
                            if open.load(Ordering::Relaxed) < config.max_connections =>
                        {
                            let n = connections.fetch_add(1, Ordering::Relaxed);
                            open.fetch_add(1, Ordering::Relaxed);
                            let tx = tx.clone();
                            let object = format!("syslog+{scheme}://{peer}#{n}");
                            let tls = tls.clone();
                            scope.spawn(move || {
                                let _ = stream.set_nonblocking(false);
                                let _ = stream.set_read_timeout(Some(POLL));
                                match tls.map(rustls::ServerConnection::new) {
                                    None => read_tcp(
                                        stream,
                                        &object,
                                        config.max_message_bytes,
                                        &tx,
                                        stop,
                                    ),
                                    Some(Ok(session)) => {
                                        let mut tls = rustls::StreamOwned::new(session, stream);
                                        read_tcp(
                                            &mut tls,
                                            &object,
                                            config.max_message_bytes,
                                            &tx,
                                            stop,
                                        );
                                        // A clean TLS close, so the sender knows nothing was cut.
                                        tls.conn.send_close_notify();
                                        let _ = std::io::Write::flush(&mut tls);
                                    }
                                    Some(Err(e)) => {
                                        tracing::warn!(peer = %object, error = %e, "syslog TLS handshake failed")
                                    }
                                }
                                open.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                        // Over max_connections: refuse this one.
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        Err(e) => {
                            tracing::warn!(scheme, error = %e, "syslog accept failed");
                            std::thread::sleep(POLL);
                        }
                    }
                }
            });
        }
        drop(tx);
        let result = produce(config, out, &rx, stop, idle);
        // Readers stop at the flag; a failed producer stops them too.
        stop.store(true, Ordering::Relaxed);
        result.map(|mut stats| {
            stats.connections = connections.load(Ordering::Relaxed);
            stats
        })
    })
}

/// The collector's side: messages into transactions.
fn produce(
    config: &SyslogConfig,
    out: &mut Collecting,
    rx: &Receiver<Message>,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<SyslogStats, IngestError> {
    let mut stats = SyslogStats::default();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let batch_ms = Duration::from_millis(config.batch_ms);
    loop {
        let wait = first.map_or(POLL, |f| batch_ms.saturating_sub(f.elapsed()).min(POLL));
        match rx.recv_timeout(wait) {
            Ok(m) => {
                let record = RawRecord {
                    source: SourceType::Syslog,
                    object: &m.object,
                    offset: m.seq,
                    bytes: &m.bytes,
                    received_ms: now_ms(),
                };
                match m.too_long {
                    Some(len) => {
                        let reason = format!(
                            "syslog message of {len} bytes, over max_message_bytes = {} (first bytes kept)",
                            config.max_message_bytes
                        );
                        out.dead_letter(&record, &reason)?;
                        stats.rejected += 1;
                    }
                    None => {
                        out.send(&record)?;
                        stats.received += 1;
                    }
                }
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let due = first.is_some_and(|f| f.elapsed() >= batch_ms);
        if due || out.batch_len() >= config.batch_records {
            out.commit()?;
            first = None;
        }
        if stop.load(Ordering::Relaxed) {
            // What the readers already handed over is still produced.
            while let Ok(m) = rx.try_recv() {
                let record = RawRecord {
                    source: SourceType::Syslog,
                    object: &m.object,
                    offset: m.seq,
                    bytes: &m.bytes,
                    received_ms: now_ms(),
                };
                out.send(&record)?;
                stats.received += 1;
            }
            break;
        }
        if first.is_none() && idle.is_some_and(|idle| last.elapsed() >= idle) {
            break;
        }
    }
    out.commit()?;
    Ok(stats)
}

fn read_udp(socket: &UdpSocket, max: usize, tx: &SyncSender<Message>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                let bytes = trim(&buf[..n]);
                if bytes.is_empty() {
                    continue;
                }
                let message = bounded(format!("syslog+udp://{peer}"), seq, bytes, max);
                seq += 1;
                if tx.send(message).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                tracing::warn!(error = %e, "syslog udp receive failed");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// One TCP or TLS connection (its reads time out every [`POLL`]): RFC 6587
/// octet counting (`LEN SP MSG`) or newline framing, decided per message
/// by its first byte.
fn read_tcp(
    stream: impl Read,
    object: &str,
    max: usize,
    tx: &SyncSender<Message>,
    stop: &AtomicBool,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut seq = 0u64;
    loop {
        // Wait for the next frame's first byte, checking the stop flag.
        let first = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match reader.fill_buf() {
                Ok([]) => return,
                Ok(buf) => break buf[0],
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        };
        let message = if first.is_ascii_digit() {
            let mut len = Vec::new();
            if read_until_blocking(&mut reader, b' ', &mut len, 12, stop).is_err() {
                return;
            }
            let Some(n) = std::str::from_utf8(trim(&len))
                .ok()
                .and_then(|t| t.parse::<usize>().ok())
            else {
                tracing::warn!(peer = %object, count = %String::from_utf8_lossy(&len), "syslog bad octet count: closing");
                return;
            };
            if n > max {
                let mut head = vec![0u8; max.min(4096)];
                let _ = read_exact_blocking(&mut reader, &mut head, stop);
                let mut m = bounded(object.to_owned(), seq, &head, max);
                m.too_long = Some(n);
                let _ = tx.send(m);
                tracing::warn!(peer = %object, bytes = n, "syslog frame over max_message_bytes: closing");
                return;
            }
            let mut body = vec![0u8; n];
            if read_exact_blocking(&mut reader, &mut body, stop).is_err() {
                return;
            }
            bounded(object.to_owned(), seq, trim(&body), max)
        } else {
            let mut line = Vec::new();
            match read_until_blocking(&mut reader, b'\n', &mut line, max + 2, stop) {
                Ok(()) => {}
                Err(ErrorKind::UnexpectedEof) if !line.is_empty() => {}
                Err(_) => return,
            }
            let body = trim(&line);
            if body.is_empty() {
                continue;
            }
            bounded(object.to_owned(), seq, body, max)
        };
        seq += 1;
        if tx.send(message).is_err() {
            return;
        }
    }
}

/// Reads through `delim` (dropped) or `limit` bytes, retrying timeouts
/// until `stop`.
fn read_until_blocking<R: BufRead>(
    reader: &mut R,
    delim: u8,
    out: &mut Vec<u8>,
    limit: usize,
    stop: &AtomicBool,
) -> Result<(), ErrorKind> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(ErrorKind::Interrupted);
        }
        let buf = match reader.fill_buf() {
            Ok([]) => return Err(ErrorKind::UnexpectedEof),
            Ok(buf) => buf,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e.kind()),
        };
        match buf.iter().position(|&b| b == delim) {
            Some(i) => {
                out.extend_from_slice(&buf[..i]);
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                out.extend_from_slice(buf);
                reader.consume(n);
                if out.len() >= limit {
                    return Ok(());
                }
            }
        }
    }
}

fn read_exact_blocking<R: Read>(
    reader: &mut R,
    out: &mut [u8],
    stop: &AtomicBool,
) -> Result<(), ErrorKind> {
    let mut done = 0;
    while done < out.len() {
        if stop.load(Ordering::Relaxed) {
            return Err(ErrorKind::Interrupted);
        }
        match reader.read(&mut out[done..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof),
            Ok(n) => done += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.kind()),
        }
    }
    Ok(())
}

fn bounded(object: String, seq: u64, bytes: &[u8], max: usize) -> Message {
    if bytes.len() > max {
        Message {
            object,
            seq,
            bytes: bytes[..max.min(4096)].to_vec(),
            too_long: Some(bytes.len()),
        }
    } else {
        Message {
            object,
            seq,
            bytes: bytes.to_vec(),
            too_long: None,
        }
    }
}

/// Without trailing newlines, carriage returns and NULs (some senders end
/// frames with them).
fn trim(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn octet_counting_and_newline_frames_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut s = TcpStream::connect(address).unwrap();
            let a = "<34>1 2026-11-27T10:00:00Z host app - - - first";
            write!(s, "{} {a}", a.len()).unwrap();
            s.write_all(b"<13>Nov 27 10:00:01 host app: second\r\n")
                .unwrap();
            let c = "<34>1 2026-11-27T10:00:02Z host app - - - third\nwith a newline inside";
            write!(s, "{} {c}", c.len()).unwrap();
            s.write_all(b"<13>Nov 27 10:00:03 host app: last, no newline")
                .unwrap();
        });
        let (stream, _) = listener.accept().unwrap();
        writer.join().unwrap();
        let (tx, rx) = sync_channel(16);
        let stop = AtomicBool::new(false);
        read_tcp(stream, "t", 1024, &tx, &stop);
        drop(tx);
        let got: Vec<String> = rx
            .iter()
            .map(|m| String::from_utf8(m.bytes).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "<34>1 2026-11-27T10:00:00Z host app - - - first",
                "<13>Nov 27 10:00:01 host app: second",
                "<34>1 2026-11-27T10:00:02Z host app - - - third\nwith a newline inside",
                "<13>Nov 27 10:00:03 host app: last, no newline",
            ]
        );
    }

    #[test]
    fn an_oversized_frame_is_flagged_and_ends_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut s = TcpStream::connect(address).unwrap();
            let body = "x".repeat(5000);
            write!(s, "5000 {body}12 <13>after it").unwrap();
        });
        let (stream, _) = listener.accept().unwrap();
        let (tx, rx) = sync_channel(16);
        let stop = AtomicBool::new(false);
        read_tcp(stream, "t", 100, &tx, &stop);
        drop(tx);
        let got: Vec<Message> = rx.iter().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].too_long, Some(5000));
        assert_eq!(got[0].bytes.len(), 100);
    }
}
