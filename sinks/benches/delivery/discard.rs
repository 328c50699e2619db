//! A discard endpoint for the delivery benchmark: answers HEC and the Logs
//! Ingestion API (and its token endpoint) with success at once, without
//! reading the events, so the sink's own ceiling can be measured apart from
//! the test servers'. HTTP/1.1 with keep-alive, Content-Length bodies only
//! (what reqwest sends).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Starts the endpoint on a runtime of its own; returns its port and the
/// count of request bodies' bytes it discarded.
pub fn start(runtime: &tokio::runtime::Runtime) -> (u16, Arc<AtomicU64>) {
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let bytes = Arc::new(AtomicU64::new(0));
    let counter = bytes.clone();
    runtime.spawn(async move {
        let ack = Arc::new(AtomicU64::new(0));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (counter, ack) = (counter.clone(), ack.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if read.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        let lower = header.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if read.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    counter.fetch_add(length as u64, Ordering::Relaxed);
                    let (status, answer) = if path.contains("/oauth2/v2.0/token") {
                        ("200 OK", r#"{"token_type":"Bearer","expires_in":3599,"access_token":"x"}"#.to_owned())
                    } else if path.contains("/dataCollectionRules/") {
                        ("204 No Content", String::new())
                    } else if path.starts_with("/services/collector/ack") {
                        // Every ackId asked about is indexed.
                        let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                        let acks: serde_json::Map<String, serde_json::Value> = asked["acks"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|id| (id.to_string(), true.into()))
                            .collect();
                        ("200 OK", serde_json::json!({ "acks": acks }).to_string())
                    } else if path.starts_with("/services/collector/event") {
                        let id = ack.fetch_add(1, Ordering::Relaxed);
                        ("200 OK", format!(r#"{{"text":"Success","code":0,"ackId":{id}}}"#))
                    } else {
                        ("200 OK", r#"{"text":"HEC is healthy","code":17}"#.to_owned())
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    if write.write_all(head.as_bytes()).await.is_err()
                        || write.write_all(answer.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, bytes)
}
