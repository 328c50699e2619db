//! The three SQS calls of the S3 collector, over SQS's JSON protocol
//! (`X-Amz-Target: AmazonSQS.<Action>`, `application/x-amz-json-1.0`),
//! signed with SigV4 and the same credentials object_store uses for S3.

use std::sync::Arc;

use object_store::aws::AwsCredentialProvider;

use crate::IngestError;
use serde::Deserialize;
use serde_json::json;

use super::sigv4::{Credentials, Request, authorization};

/// A queue of S3 event notifications.
pub struct Queue {
    url: String,
    endpoint: String,
    host: String,
    region: String,
    credentials: AwsCredentialProvider,
    http: reqwest::Client,
}

/// A received message.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    /// The message id.
    pub message_id: String,
    /// What deletes it.
    pub receipt_handle: String,
    /// The notification.
    pub body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Received {
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Deleted {
    #[serde(default)]
    failed: Vec<serde_json::Value>,
}

impl Queue {
    /// The queue at `url` (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`
    /// or an emulator's); `region` when the host does not name one.
    pub fn new(
        url: &str,
        region: &str,
        credentials: AwsCredentialProvider,
    ) -> Result<Queue, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?}: not a queue URL"))?;
        let host = rest.split('/').next().unwrap_or_default().to_owned();
        let region = host
            .strip_prefix("sqs.")
            .and_then(|h| h.split('.').next())
            .filter(|r| r.contains('-'))
            .unwrap_or(region)
            .to_owned();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(40))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Queue {
            url: url.to_owned(),
            endpoint: format!("{scheme}://{host}/"),
            host,
            region,
            credentials,
            http,
        })
    }

    async fn call(&self, action: &str, body: serde_json::Value) -> Result<Vec<u8>, IngestError> {
        let credential = self
            .credentials
            .get_credential()
            .await
            .map_err(|e| IngestError::Io(format!("AWS credentials: {e}")))?;
        let credentials = Credentials {
            key_id: credential.key_id.clone(),
            secret: credential.secret_key.clone(),
            token: credential.token.clone(),
        };
        let body = body.to_string().into_bytes();
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let target = format!("AmazonSQS.{action}");
        let mut headers = vec![
            ("host".to_owned(), self.host.clone()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
            ("x-amz-date".to_owned(), amz_date.clone()),
            ("x-amz-target".to_owned(), target),
        ];
        if let Some(token) = &credentials.token {
            headers.push(("x-amz-security-token".to_owned(), token.clone()));
        }
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: headers.clone(),
            body: &body,
        };
        let auth = authorization(&request, &credentials, &self.region, "sqs", &amz_date);
        let mut builder = self.http.post(&self.endpoint).header("authorization", auth);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            builder = builder.header(k, v);
        }
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| IngestError::Io(format!("SQS {action} {}: {e}", self.url)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| IngestError::Io(format!("SQS {action} {}: {e}", self.url)))?;
        if !status.is_success() {
            let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let kind = error["__type"]
                .as_str()
                .unwrap_or("")
                .rsplit('#')
                .next()
                .unwrap_or("");
            let message = error["message"]
                .as_str()
                .or(error["Message"].as_str())
                .unwrap_or("");
            // A queue that does not exist will not heal by itself: fatal.
            let (hint, fatal) = match kind {
                "QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue" => {
                    (": check sqs_queue_url", true)
                }
                "AccessDenied" | "AccessDeniedException" => (
                    ": the credentials need sqs:ReceiveMessage and sqs:DeleteMessage on the queue",
                    false,
                ),
                _ => ("", false),
            };
            let message = format!(
                "SQS {action} {}: HTTP {status} {kind} {message}{hint}",
                self.url
            );
            return Err(if fatal {
                IngestError::Config(message)
            } else {
                IngestError::Io(message)
            });
        }
        Ok(bytes.to_vec())
    }

    /// Up to 10 messages, waiting up to `wait_secs` for the first.
    pub async fn receive(&self, wait_secs: u32) -> Result<Vec<Message>, IngestError> {
        let bytes = self
            .call(
                "ReceiveMessage",
                json!({ "QueueUrl": self.url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": wait_secs }),
            )
            .await?;
        let received: Received = serde_json::from_slice(&bytes).map_err(|e| {
            IngestError::Io(format!(
                "SQS ReceiveMessage {}: unexpected answer: {e}",
                self.url
            ))
        })?;
        Ok(received.messages)
    }

    /// Deletes these messages (10 per call).
    pub async fn delete(&self, handles: &[String]) -> Result<(), IngestError> {
        for chunk in handles.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| json!({ "Id": i.to_string(), "ReceiptHandle": h }))
                .collect();
            let bytes = self
                .call(
                    "DeleteMessageBatch",
                    json!({ "QueueUrl": self.url, "Entries": entries }),
                )
                .await?;
            let deleted: Deleted =
                serde_json::from_slice(&bytes).unwrap_or(Deleted { failed: vec![] });
            if !deleted.failed.is_empty() {
                // Redelivered later and recognised as read: no duplicate, only noise.
                tracing::warn!(
                    queue = %self.url,
                    messages = deleted.failed.len(),
                    failed = %serde_json::Value::Array(deleted.failed),
                    "SQS messages not deleted"
                );
            }
        }
        Ok(())
    }
}

/// An object a notification announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    /// The bucket.
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    /// The ETag, when the notification carries one.
    pub etag: Option<String>,
}

/// The objects a notification body announces: S3 event notifications
/// (keys URL-encoded, `+` for spaces), the same wrapped in an SNS
/// envelope, CloudTrail's own SNS notification (`s3Bucket`,
/// `s3ObjectKey`), and EventBridge's `Object Created`. Test events and
/// other event types announce nothing. `Err` for a body that is none of these.
pub fn announced(body: &str) -> Result<Vec<Announced>, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    announced_in(&value, 0)
}

fn announced_in(value: &serde_json::Value, depth: u8) -> Result<Vec<Announced>, String> {
    if value["Type"] == "Notification"
        && let Some(message) = value["Message"].as_str()
        && depth == 0
    {
        let inner: serde_json::Value =
            serde_json::from_str(message).map_err(|e| format!("SNS Message is not JSON: {e}"))?;
        return announced_in(&inner, 1);
    }
    if value["Event"] == "s3:TestEvent" {
        return Ok(Vec::new());
    }
    if let Some(records) = value["Records"].as_array() {
        let mut out = Vec::new();
        for record in records {
            let event = record["eventName"].as_str().unwrap_or("");
            if !event.starts_with("ObjectCreated:") {
                continue;
            }
            let (Some(bucket), Some(key)) = (
                record["s3"]["bucket"]["name"].as_str(),
                record["s3"]["object"]["key"].as_str(),
            ) else {
                return Err("S3 event record without s3.bucket.name or s3.object.key".into());
            };
            out.push(Announced {
                bucket: bucket.to_owned(),
                key: url_decode(key)?,
                etag: record["s3"]["object"]["eTag"].as_str().map(str::to_owned),
            });
        }
        return Ok(out);
    }
    if let (Some(bucket), Some(keys)) =
        (value["s3Bucket"].as_str(), value["s3ObjectKey"].as_array())
    {
        return Ok(keys
            .iter()
            .filter_map(|k| k.as_str())
            .map(|key| Announced {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                etag: None,
            })
            .collect());
    }
    if value["source"] == "aws.s3" {
        if value["detail-type"] != "Object Created" {
            return Ok(Vec::new());
        }
        let detail = &value["detail"];
        if let (Some(bucket), Some(key)) = (
            detail["bucket"]["name"].as_str(),
            detail["object"]["key"].as_str(),
        ) {
            return Ok(vec![Announced {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                etag: detail["object"]["etag"].as_str().map(str::to_owned),
            }]);
        }
    }
    Err("not an S3 event notification (no Records, s3ObjectKey or EventBridge detail)".into())
}

/// Decodes an S3 notification key: form encoding (`+` is a space).
pub fn url_decode(key: &str) -> Result<String, String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = key
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{key:?}: bad percent-encoding at byte {i}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{key:?}: not UTF-8 once decoded"))
}

/// The credentials of an S3 client, shared with the queue.
pub fn credentials_of(s3: &object_store::aws::AmazonS3) -> AwsCredentialProvider {
    Arc::clone(s3.credentials())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(url_decode("a+b%2Bc%3D%C3%A9.json").unwrap(), "a b+c=é.json");
        assert!(url_decode("a%2").is_err());
        assert!(url_decode("%ff").is_err());
    }

    #[test]
    fn every_notification_shape_is_understood() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/x+y.json.gz","eTag":"e1"}}},
                     {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"gone"}}}]}"#;
        assert_eq!(
            announced(s3).unwrap(),
            vec![Announced {
                bucket: "b".into(),
                key: "AWSLogs/x y.json.gz".into(),
                etag: Some("e1".into())
            }]
        );
        let sns = serde_json::json!({"Type": "Notification", "Message": s3}).to_string();
        assert_eq!(announced(&sns).unwrap().len(), 1);
        let trail =
            r#"{"s3Bucket":"b","s3ObjectKey":["AWSLogs/1/CloudTrail/r/2026/11/27/f.json.gz"]}"#;
        assert_eq!(
            announced(trail).unwrap()[0].key,
            "AWSLogs/1/CloudTrail/r/2026/11/27/f.json.gz"
        );
        let bridge = r#"{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"k 1","etag":"e"}}}"#;
        assert_eq!(announced(bridge).unwrap()[0].key, "k 1");
        assert!(
            announced(r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#)
                .unwrap()
                .is_empty()
        );
        assert!(announced(r#"{"hello":1}"#).is_err());
        assert!(announced("not json").is_err());
    }

    #[test]
    fn the_region_comes_from_the_queue_host() {
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("b")
            .with_region("us-east-1")
            .with_access_key_id("k")
            .with_secret_access_key("s")
            .build()
            .unwrap();
        let q = Queue::new(
            "https://sqs.eu-west-3.amazonaws.com/1/q",
            "us-east-1",
            credentials_of(&s3),
        )
        .unwrap();
        assert_eq!(
            (q.region.as_str(), q.endpoint.as_str()),
            ("eu-west-3", "https://sqs.eu-west-3.amazonaws.com/")
        );
        let q = Queue::new(
            "http://127.0.0.1:5055/123456789012/q",
            "us-east-2",
            credentials_of(&s3),
        )
        .unwrap();
        assert_eq!(
            (q.region.as_str(), q.host.as_str()),
            ("us-east-2", "127.0.0.1:5055")
        );
    }
}
