//! The receiver: connection threads read and check requests, the
//! collector's thread turns bodies into records and commits them, and
//! only then is each request answered 200: a client that got its answer
//! has its records in Kafka. Requests that cannot be queued are answered
//! 429 with `Retry-After` (backpressure), bodies over `max_body_bytes`
//! 413 before they are read.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use auditfed_schemas::SourceType;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::json;

use super::config::HttpConfig;
use super::request::{
    ReadError, answer, body_length, continue_100, read_body, read_head, same_token,
};
use crate::IngestError;
use crate::collect::Collecting;
use crate::file::ingest_reader;
use auditfed_platform::clock::now_ms;

/// What the receiver did.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Requests whose records were committed.
    pub requests: u64,
    /// Records sent to the raw topic.
    pub records: u64,
    /// Pieces sent to the dead-letter topic.
    pub rejected: u64,
    /// Requests answered 429 (queue full).
    pub throttled: u64,
    /// Requests refused 401.
    pub unauthorized: u64,
}

/// Records and dead letters of a request once committed, or why not.
type Answer = Result<(u64, u64), String>;

/// An accepted request's body, waiting for Kafka.
struct Job {
    peer: String,
    body: Vec<u8>,
    reply: SyncSender<Answer>,
}

/// A connection, plain or TLS.
trait Conn: Read + Write + Send {
    fn set_timeout(&self, timeout: Duration);
}

impl Conn for TcpStream {
    fn set_timeout(&self, timeout: Duration) {
        let _ = self.set_read_timeout(Some(timeout));
    }
}

impl Conn for StreamOwned<ServerConnection, TcpStream> {
    fn set_timeout(&self, timeout: Duration) {
        let _ = self.sock.set_read_timeout(Some(timeout));
    }
}

/// What connection threads share.
struct Shared<'a> {
    config: &'a HttpConfig,
    token: Option<String>,
    jobs: SyncSender<Job>,
    stop: &'a AtomicBool,
    throttled: AtomicU64,
    unauthorized: AtomicU64,
    /// Requests accepted and not yet answered.
    unanswered: AtomicUsize,
}

const TICK: Duration = Duration::from_millis(500);
/// An idle keep-alive connection is closed after this long.
const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// A request must arrive whole within this long once started.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Receives until `stop`, or until no request came for `idle`.
pub fn receive(
    config: &HttpConfig,
    out: &mut Collecting,
    max_record: usize,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<HttpStats, IngestError> {
    let io = |e: String| IngestError::Io(format!("http {}: {e}", config.listen));
    let tls: Option<Arc<ServerConfig>> = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::tls::server_config(cert, key, config.client_ca.as_deref()).map_err(io)?)
        }
        _ => None,
    };
    let source: SourceType = config
        .source
        .parse()
        .map_err(|_| io(format!("unknown source {:?}", config.source)))?;
    let listener = TcpListener::bind(&config.listen).map_err(|e| io(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| io(e.to_string()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let local = listener.local_addr().map_err(|e| io(e.to_string()))?;
    tracing::info!(listen = %format!("{scheme}://{local}{}", config.path), "http receiving");
    let (jobs, queue) = sync_channel::<Job>(config.queue_requests);
    let shared = Shared {
        config,
        token: config.token().map_err(io)?,
        jobs,
        stop,
        throttled: AtomicU64::new(0),
        unauthorized: AtomicU64::new(0),
        unanswered: AtomicUsize::new(0),
    };
    let open = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (shared, open, tls) = (&shared, &open, &tls);
        scope.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        if open.load(Ordering::Relaxed) >= config.max_connections {
                            continue; // dropped: the client retries
                        }
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_nodelay(true);
                        open.fetch_add(1, Ordering::Relaxed);
                        let tls = tls.clone();
                        scope.spawn(move || {
                            let conn: Option<Box<dyn Conn>> = match tls {
                                None => Some(Box::new(stream)),
                                Some(tls) => ServerConnection::new(tls).ok().map(|c| {
                                    Box::new(StreamOwned::new(c, stream)) as Box<dyn Conn>
                                }),
                            };
                            if let Some(conn) = conn {
                                serve(conn, &peer.ip().to_string(), shared);
                            }
                            open.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "http accept failed");
                        std::thread::sleep(TICK);
                    }
                }
            }
        });
        let result = commit_loop(config, source, out, max_record, &queue, stop, idle);
        // Connection threads stop at the flag; a failed commit loop stops them too.
        stop.store(true, Ordering::Relaxed);
        result.map(|mut stats| {
            stats.throttled = shared.throttled.load(Ordering::Relaxed);
            stats.unauthorized = shared.unauthorized.load(Ordering::Relaxed);
            stats
        })
    })
}

/// The collector's thread: bodies into records, committed per batch, then answered.
fn commit_loop(
    config: &HttpConfig,
    source: SourceType,
    out: &mut Collecting,
    max_record: usize,
    queue: &Receiver<Job>,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<HttpStats, IngestError> {
    let mut stats = HttpStats::default();
    let mut waiting: Vec<(SyncSender<Answer>, (u64, u64))> = Vec::new();
    let mut first: Option<Instant> = None;
    let mut last_request = Instant::now();
    let batch_time = Duration::from_millis(config.batch_ms);
    loop {
        let wait = first.map_or(TICK, |f| batch_time.saturating_sub(f.elapsed()));
        match queue.recv_timeout(wait) {
            Ok(job) => {
                last_request = Instant::now();
                first.get_or_insert_with(Instant::now);
                let object = format!("http://{}", job.peer);
                let read = ingest_reader(
                    &object,
                    std::io::Cursor::new(job.body),
                    source,
                    out,
                    max_record,
                    now_ms(),
                );
                match read {
                    Ok(read) => waiting.push((job.reply, (read.records, read.rejected))),
                    // Kafka refused mid-batch: every request of the batch is retried by its client.
                    Err(e) => {
                        let _ = job.reply.send(Err(e.to_string()));
                        for (reply, _) in waiting.drain(..) {
                            let _ = reply.send(Err(e.to_string()));
                        }
                        return Err(e);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let due = first.is_some_and(|f| f.elapsed() >= batch_time)
            || out.batch_len() >= config.batch_records;
        if due && !waiting.is_empty() {
            let committed = out.commit();
            for (reply, (records, rejected)) in waiting.drain(..) {
                let answer = match &committed {
                    Ok(()) => {
                        stats.requests += 1;
                        stats.records += records;
                        stats.rejected += rejected;
                        Ok((records, rejected))
                    }
                    Err(e) => Err(e.to_string()),
                };
                let _ = reply.send(answer);
            }
            first = None;
            committed?;
        }
        if waiting.is_empty()
            && (stop.load(Ordering::Relaxed) || idle.is_some_and(|i| last_request.elapsed() >= i))
        {
            break;
        }
    }
    out.commit()?;
    Ok(stats)
}

/// Answers a request refused before its body was read, then reads and
/// drops what the client still sends (for up to 2 s) before closing:
/// closing on unread bytes would reset the connection, and the client
/// would lose the answer.
fn refuse(
    reader: &mut BufReader<Box<dyn Conn>>,
    status: u16,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) {
    if answer(reader.get_mut(), status, headers, &body, true).is_err() {
        return;
    }
    reader.get_ref().set_timeout(Duration::from_millis(200));
    let until = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 16 * 1024];
    while Instant::now() < until {
        match reader.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// One connection's requests, one after the other (keep-alive).
fn serve(conn: Box<dyn Conn>, peer: &str, shared: &Shared<'_>) {
    let config = shared.config;
    let mut reader = BufReader::with_capacity(64 * 1024, conn);
    loop {
        // Between requests: wait for a first byte, watching the stop flag.
        reader.get_ref().set_timeout(TICK);
        let since = Instant::now();
        loop {
            if shared.stop.load(Ordering::Relaxed) || since.elapsed() >= KEEP_ALIVE {
                return;
            }
            match reader.fill_buf() {
                Ok([]) => return,
                Ok(_) => break,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => {
                    if e.kind() == ErrorKind::InvalidData {
                        tracing::warn!(peer = %peer, error = %e, "http TLS handshake failed");
                    }
                    return;
                }
            }
        }
        reader.get_ref().set_timeout(REQUEST_TIMEOUT);
        let head = match read_head(&mut reader) {
            Ok(head) => head,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, reason)) => {
                return refuse(&mut reader, status, &[], json!({ "error": reason }));
            }
        };
        let close = !head.keep_alive();
        let conn =
            |r: &mut BufReader<Box<dyn Conn>>, status, headers: &[(&str, &str)], body, close| {
                answer(r.get_mut(), status, headers, &body, close).is_ok() && !close
            };
        if head.method == "GET" && head.path == "/healthz" {
            if !conn(&mut reader, 200, &[], json!({ "status": "ok" }), close) {
                return;
            }
            continue;
        }
        if head.path != config.path {
            let body = json!({ "error": format!("POST to {}", config.path) });
            return refuse(&mut reader, 404, &[], body);
        }
        if head.method != "POST" {
            let body = json!({ "error": "POST only" });
            return refuse(&mut reader, 405, &[("allow", "POST")], body);
        }
        if let Some(token) = &shared.token {
            let sent = head
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or("");
            if !same_token(sent.trim().as_bytes(), token.as_bytes()) {
                shared.unauthorized.fetch_add(1, Ordering::Relaxed);
                let body = json!({ "error": "missing or wrong bearer token" });
                return refuse(&mut reader, 401, &[("www-authenticate", "Bearer")], body);
            }
        }
        let length = match body_length(&head, config.max_body_bytes) {
            Ok(length) => length,
            Err(ReadError::Bad(status, reason)) => {
                return refuse(&mut reader, status, &[], json!({ "error": reason }));
            }
            Err(ReadError::Closed) => return,
        };
        if head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && continue_100(reader.get_mut()).is_err()
        {
            return;
        }
        let body = match read_body(&mut reader, length, config.max_body_bytes) {
            Ok(body) => body,
            Err(ReadError::Bad(status, reason)) => {
                return refuse(&mut reader, status, &[], json!({ "error": reason }));
            }
            Err(ReadError::Closed) => return,
        };
        let (reply, answered) = sync_channel(1);
        let job = Job {
            peer: peer.to_owned(),
            body,
            reply,
        };
        // Requests waiting for their commit, queued or in the open
        // transaction, are bounded: beyond, clients are told to come back.
        let busy = shared.unanswered.fetch_add(1, Ordering::AcqRel) >= config.queue_requests;
        let sent = if busy {
            Err(TrySendError::Full(job))
        } else {
            shared.jobs.try_send(job)
        };
        if sent.is_err() {
            shared.unanswered.fetch_sub(1, Ordering::AcqRel);
        }
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                shared.throttled.fetch_add(1, Ordering::Relaxed);
                let body = json!({ "error": "busy: Kafka is behind; retry" });
                if !conn(&mut reader, 429, &[("retry-after", "1")], body, close) {
                    return;
                }
                continue;
            }
            Err(TrySendError::Disconnected(_)) => {
                let _ = conn(
                    &mut reader,
                    503,
                    &[("retry-after", "5")],
                    json!({ "error": "stopping" }),
                    true,
                );
                return;
            }
        }
        let answered = answered.recv_timeout(Duration::from_secs(120));
        shared.unanswered.fetch_sub(1, Ordering::AcqRel);
        let keep = match answered {
            Ok(Ok((records, rejected))) if records == 0 && rejected > 0 => conn(
                &mut reader,
                400,
                &[],
                json!({ "error": "no JSON record in the body; it was kept in the dead-letter topic", "rejected": rejected }),
                close,
            ),
            Ok(Ok((records, rejected))) => conn(
                &mut reader,
                200,
                &[],
                json!({ "records": records, "rejected": rejected }),
                close,
            ),
            Ok(Err(e)) => conn(
                &mut reader,
                503,
                &[("retry-after", "5")],
                json!({ "error": format!("not committed to Kafka: {e}") }),
                close,
            ),
            Err(_) => conn(
                &mut reader,
                503,
                &[("retry-after", "5")],
                json!({ "error": "not committed to Kafka in time" }),
                true,
            ),
        };
        if !keep {
            return;
        }
    }
}
