//! CloudTrail digest validation with a test RSA key (the real AWS keys sign
//! only AWS's digests): signatures, key selection, chaining, log file hashes,
//! and the per-event verdict.

use auditfed_normalize::upstream::{
    AwsPublicKeys, CloudTrailDigest, DigestError, UpstreamIntegrity, log_file_integrity,
};
use auditfed_normalize::{Position, map_record};
use auditfed_schemas::{SourceMeta, SourceType};
use base64::Engine;
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};

const LOG: &[u8] = br#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-05-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e1","userIdentity":{"type":"IAMUser","userName":"a"},"sourceIPAddress":"192.0.2.1"}]}"#;
const BUCKET: &str = "trail-bucket";
const LOG_OBJECT: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/log1.json.gz";

fn key() -> RsaPrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream/test-only-cloudtrail-rsa.pem"
    ))
    .unwrap();
    RsaPrivateKey::from_pkcs1_pem(&pem).unwrap()
}

fn public_keys(fingerprint: &str, from: &str, to: &str) -> AwsPublicKeys {
    let der = key().to_public_key().to_pkcs1_der().unwrap();
    let value = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
    let json = format!(
        r#"{{"PublicKeyList":[{{"Value":"{value}","ValidityStartTime":"{from}","ValidityEndTime":"{to}","Fingerprint":"{fingerprint}"}}]}}"#
    );
    AwsPublicKeys::from_list_public_keys_json(&json).unwrap()
}

/// A digest listing LOG, signed: (bytes, signature hex).
fn digest(end: &str, object: &str, previous: Option<(&str, &str)>) -> (Vec<u8>, String) {
    let log_hash = hex::encode(Sha256::digest(LOG));
    let (prev_object, prev_sig) = match previous {
        Some((o, s)) => (format!("\"{o}\""), format!("\"{s}\"")),
        None => ("null".into(), "null".into()),
    };
    let bytes = format!(
        r#"{{"awsAccountId":"111122223333","digestStartTime":"2024-05-01T11:00:00Z","digestEndTime":"{end}","digestS3Bucket":"{BUCKET}","digestS3Object":"{object}","digestPublicKeyFingerprint":"abc123","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"2024-05-01T12:00:00Z","oldestEventTime":"2024-05-01T12:00:00Z","previousDigestS3Bucket":"{BUCKET}","previousDigestS3Object":{prev_object},"previousDigestHashValue":null,"previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":{prev_sig},"logFiles":[{{"s3Bucket":"{BUCKET}","s3Object":"{LOG_OBJECT}","hashValue":"{log_hash}","hashAlgorithm":"SHA-256","newestEventTime":"2024-05-01T12:00:00Z","oldestEventTime":"2024-05-01T12:00:00Z"}}]}}"#
    )
    .into_bytes();
    let parsed = CloudTrailDigest::parse(&bytes).unwrap();
    let signature = SigningKey::<Sha256>::new(key()).sign(parsed.signing_string(&bytes).as_bytes());
    (bytes, hex::encode(signature.to_bytes()))
}

#[test]
fn a_signed_digest_verifies_and_any_change_is_refused() {
    let keys = public_keys("abc123", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    let (bytes, sig) = digest("2024-05-01T13:00:00Z", "d1.json.gz", None);
    let d = CloudTrailDigest::parse(&bytes).unwrap();
    assert!(
        d.signing_string(&bytes).ends_with("\nnull"),
        "the first digest signs the literal null"
    );
    d.verify_signature(&bytes, &sig, &keys).unwrap();
    let mut edited = bytes.clone();
    edited[20] ^= 1;
    assert_eq!(
        d.verify_signature(&edited, &sig, &keys),
        Err(DigestError::BadSignature)
    );
    let other = public_keys("other", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    assert!(matches!(
        d.verify_signature(&bytes, &sig, &other),
        Err(DigestError::UnknownKey(_))
    ));
    let expired = public_keys("abc123", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z");
    assert!(matches!(
        d.verify_signature(&bytes, &sig, &expired),
        Err(DigestError::UnknownKey(_))
    ));
}

#[test]
fn log_files_are_checked_against_the_signed_hash() {
    let (bytes, _) = digest("2024-05-01T13:00:00Z", "d1.json.gz", None);
    let d = CloudTrailDigest::parse(&bytes).unwrap();
    d.verify_log_file(BUCKET, LOG_OBJECT, LOG).unwrap();
    let tampered = String::from_utf8(LOG.to_vec())
        .unwrap()
        .replace("GetObject", "PutObject");
    assert!(matches!(
        d.verify_log_file(BUCKET, LOG_OBJECT, tampered.as_bytes()),
        Err(DigestError::LogFileHash { .. })
    ));
    assert!(matches!(
        d.verify_log_file(BUCKET, "other.json.gz", LOG),
        Err(DigestError::NotListed(_))
    ));
}

#[test]
fn digests_chain_and_a_deleted_digest_breaks_the_chain() {
    let (b1, s1) = digest("2024-05-01T13:00:00Z", "d1.json.gz", None);
    let (b2, s2) = digest(
        "2024-05-01T14:00:00Z",
        "d2.json.gz",
        Some(("d1.json.gz", &s1)),
    );
    let (b3, _) = digest(
        "2024-05-01T15:00:00Z",
        "d3.json.gz",
        Some(("d2.json.gz", &s2)),
    );
    let (d1, d2, d3) = (
        CloudTrailDigest::parse(&b1).unwrap(),
        CloudTrailDigest::parse(&b2).unwrap(),
        CloudTrailDigest::parse(&b3).unwrap(),
    );
    d2.verify_follows(&d1, &s1).unwrap();
    d3.verify_follows(&d2, &s2).unwrap();
    // d2 deleted: d3 does not follow d1.
    assert!(matches!(
        d3.verify_follows(&d1, &s1),
        Err(DigestError::Chain(_))
    ));
}

#[test]
fn the_verdict_travels_on_every_event_of_the_file() {
    let keys = public_keys("abc123", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    let (bytes, sig) = digest("2024-05-01T13:00:00Z", "d1.json.gz", None);
    let d = CloudTrailDigest::parse(&bytes).unwrap();
    let (verdict, _) = log_file_integrity(Some((&d, &bytes, &sig)), &keys, BUCKET, LOG_OBJECT, LOG);
    assert_eq!(verdict, UpstreamIntegrity::Verified);
    let (verdict, err) =
        log_file_integrity(Some((&d, &bytes, &sig)), &keys, BUCKET, LOG_OBJECT, b"{}");
    assert_eq!((verdict, err.is_some()), (UpstreamIntegrity::Failed, true));
    assert_eq!(
        log_file_integrity(None, &keys, BUCKET, LOG_OBJECT, LOG).0,
        UpstreamIntegrity::Unavailable
    );
    let meta = SourceMeta {
        upstream_integrity: Some("verified".into()),
        ..Default::default()
    };
    let record = &LOG[12..LOG.len() - 2];
    let event = map_record(
        SourceType::AwsCloudtrail,
        record,
        Position::default(),
        &meta,
    )
    .unwrap();
    assert_eq!(
        event.unmapped.unwrap()["_auditfed"]["upstream_integrity"],
        "verified"
    );
}

#[test]
fn the_real_sample_digest_parses() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_digest.json"
    ))
    .unwrap();
    let d = CloudTrailDigest::parse(&bytes).unwrap();
    assert_eq!(d.digest_signature_algorithm, "SHA256withRSA");
    assert!(!d.log_files.is_empty());
}
