//! The object-store emulators of `scripts/test.sh`: moto server (S3),
//! fake-gcs-server (GCS) and Azurite (Azure Blob), as the environment
//! variables object_store reads, plus bucket creation and listing through
//! each vendor's own API (`tests/object_stores.py`), independent of ours.
//!
//! `scripts/test.sh` sets AUDITFED_S3_ENDPOINT, AUDITFED_GCS_ENDPOINT,
//! AUDITFED_AZURE_ENDPOINT and AUDITFED_REQUIRE_OBJECT_STORES=1; a plain
//! `cargo test` without them skips the stores it cannot reach.

use std::path::Path;

/// One emulated object store.
pub struct Store {
    /// `s3`, `gcs` or `azure`: the kind `tests/object_stores.py` knows.
    pub kind: &'static str,
    /// The URL scheme auditfed takes: `s3`, `gs`, `az`.
    pub scheme: &'static str,
    pub endpoint: String,
    /// The variables that point object_store at the emulator.
    pub env: Vec<(String, String)>,
}

impl Store {
    /// Creates a bucket (container) with the vendor API.
    pub fn create_bucket(&self, name: &str) {
        let (code, out) = super::run_python_args(
            "object_stores.py",
            &["create", self.kind, &self.endpoint, name],
        )
        .expect("tests/object_stores.py needs its packages (scripts/test.sh installs them)");
        assert_eq!(code, 0, "cannot create {} bucket {name}: {out}", self.kind);
    }

    /// The object names under `prefix/`, relative to it, listed by the vendor API.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (code, out) = super::run_python_args(
            "object_stores.py",
            &["list", self.kind, &self.endpoint, bucket, prefix],
        )
        .expect("tests/object_stores.py needs its packages");
        assert_eq!(code, 0, "cannot list {} bucket {bucket}: {out}", self.kind);
        let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// `scheme://bucket/prefix`.
    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        format!("{}://{bucket}/{prefix}", self.scheme)
    }
}

/// Every configured emulator (all three when AUDITFED_REQUIRE_OBJECT_STORES=1).
/// `scratch` holds the GCS emulator's credentials file.
pub fn stores(scratch: &Path) -> Vec<Store> {
    let required = std::env::var("AUDITFED_REQUIRE_OBJECT_STORES").as_deref() == Ok("1");
    let endpoint = |var: &str| match std::env::var(var) {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            assert!(
                !required,
                "AUDITFED_REQUIRE_OBJECT_STORES=1 but {var} is not set"
            );
            eprintln!(
                "skipping the store of {var}: not set (scripts/test.sh starts the emulators)"
            );
            None
        }
    };
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let mut out = Vec::new();
    if let Some(endpoint) = endpoint("AUDITFED_S3_ENDPOINT") {
        let env = owned(&[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ]);
        out.push(Store {
            kind: "s3",
            scheme: "s3",
            endpoint,
            env,
        });
    }
    if let Some(endpoint) = endpoint("AUDITFED_GCS_ENDPOINT") {
        // object_store's documented emulator credentials: no OAuth, another base URL.
        let credentials = scratch.join("gcs-emulator.json");
        std::fs::write(
            &credentials,
            serde_json::json!({
                "gcs_base_url": endpoint,
                "disable_oauth": true,
                "client_email": "",
                "private_key": "",
                "private_key_id": "",
            })
            .to_string(),
        )
        .unwrap();
        let env = owned(&[("GOOGLE_SERVICE_ACCOUNT", credentials.to_str().unwrap())]);
        out.push(Store {
            kind: "gcs",
            scheme: "gs",
            endpoint,
            env,
        });
    }
    if let Some(endpoint) = endpoint("AUDITFED_AZURE_ENDPOINT") {
        let blob_url = endpoint.trim_end_matches("/devstoreaccount1").to_owned();
        let env = owned(&[
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
            ("AZURITE_BLOB_STORAGE_URL", &blob_url),
        ]);
        out.push(Store {
            kind: "azure",
            scheme: "az",
            endpoint,
            env,
        });
    }
    out
}
