//! AWS Signature Version 4 for the few SQS calls the S3 collector makes
//! (object_store signs its own S3 requests). Reference: AWS General
//! Reference, "Create a signed AWS API request".

use auditfed_schemas::hmac::hmac_sha256 as hmac;
use sha2::{Digest, Sha256};

/// Credentials to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Access key id.
    pub key_id: String,
    /// Secret access key.
    pub secret: String,
    /// Session token of temporary credentials.
    pub token: Option<String>,
}

/// The signing key of a day (`YYYYMMDD`), region and service.
pub fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// A request to sign: `headers` are `(lowercase name, value)` and must
/// include `host`; `query` is already canonical (sorted, encoded).
pub struct Request<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The URL path (`/` for SQS's JSON protocol).
    pub path: &'a str,
    /// The canonical query string.
    pub query: &'a str,
    /// Headers to sign.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: &'a [u8],
}

/// The `Authorization` header value for `request` at `amz_date`
/// (`YYYYMMDDTHHMMSSZ`, also sent as `x-amz-date`).
pub fn authorization(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let mut headers = request.headers.clone();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        request.method,
        request.path,
        request.query,
        hex::encode(Sha256::digest(request.body))
    );
    let day = &amz_date[..8];
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&credentials.secret, day, region, service);
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        credentials.key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of AWS's SigV4 documentation (IAM ListUsers).
    #[test]
    fn signature_matches_the_documented_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            hex::encode(signing_key(secret, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let request = Request {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: vec![
                ("host".into(), "iam.amazonaws.com".into()),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                ),
                ("x-amz-date".into(), "20150830T123600Z".into()),
            ],
            body: b"",
        };
        let credentials = Credentials {
            key_id: "AKIDEXAMPLE".into(),
            secret: secret.into(),
            token: None,
        };
        assert_eq!(
            authorization(
                &request,
                &credentials,
                "us-east-1",
                "iam",
                "20150830T123600Z"
            ),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }
}
