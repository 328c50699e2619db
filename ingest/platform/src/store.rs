//! Opening an object store from a URL: S3 and S3-compatible endpoints,
//! Google Cloud Storage, Azure Blob Storage (through `object_store`) or a
//! local directory.
//!
//! | URL | credentials and endpoint |
//! |---|---|
//! | `s3://bucket/prefix` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` (MinIO, Ceph, on-prem), `AWS_ALLOW_HTTP=true` for plain-http endpoints; else web identity or the instance's role |
//! | `gs://bucket/prefix` | `GOOGLE_SERVICE_ACCOUNT` (key file) or `GOOGLE_APPLICATION_CREDENTIALS`, else the instance metadata server; `GOOGLE_BASE_URL` for another endpoint |
//! | `az://container/prefix` | `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_KEY` or `AZURE_STORAGE_CLIENT_ID`/`_SECRET`/`_TENANT_ID`, or managed identity; `AZURE_STORAGE_USE_EMULATOR=true` for Azurite |
//!
//! `options` adds `object_store`'s own configuration keys (`aws_endpoint`,
//! `aws_region`, `google_service_account`, `azure_storage_account_name`, …)
//! on top of the environment; an unknown key is an error naming it.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};

use crate::error::PlatformError;

/// A URL split into its store and the prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// `s3`, `gs` or `az`.
    pub scheme: String,
    /// `scheme://bucket`.
    pub store: String,
    /// The prefix inside the bucket, without leading or trailing `/`.
    pub prefix: String,
}

impl StoreUrl {
    /// Parses `s3://bucket/prefix`, `gs://…`, `az://…` (also `s3a`,
    /// `abfs`, `abfss`).
    pub fn parse(url: &str) -> Result<StoreUrl, PlatformError> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(PlatformError::Config(format!(
                "{url:?}: expected a URL: s3://bucket/prefix, gs://…, az://container/prefix or file:///dir"
            )));
        };
        let scheme = match scheme {
            "s3" | "s3a" => "s3",
            "gs" => "gs",
            "az" | "abfs" | "abfss" => "az",
            other => {
                return Err(PlatformError::Config(format!(
                    "{url:?}: unsupported scheme `{other}` (expected s3://, gs:// or az://)"
                )));
            }
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(PlatformError::Config(format!(
                "{url:?}: no bucket or container"
            )));
        }
        Ok(StoreUrl {
            scheme: scheme.to_owned(),
            store: format!("{scheme}://{bucket}"),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    /// The bucket (container) name.
    pub fn bucket(&self) -> &str {
        self.store.split_once("://").map_or("", |(_, b)| b)
    }
}

/// An S3 client configured from the environment, then `options`, and its region.
pub fn amazon_s3(
    store: &str,
    options: &BTreeMap<String, String>,
) -> Result<(AmazonS3, String), PlatformError> {
    let mut builder = AmazonS3Builder::from_env().with_url(store);
    for (key, value) in options {
        let key = AmazonS3ConfigKey::from_str(key).map_err(|_| unknown(key, "aws_"))?;
        builder = builder.with_config(key, value);
    }
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".to_owned());
    let s3 = builder
        .build()
        .map_err(|e| PlatformError::Config(format!("{store}: {e}")))?;
    Ok((s3, region))
}

fn unknown(key: &str, family: &str) -> PlatformError {
    PlatformError::Config(format!(
        "{key:?}: not an object_store option of this store (keys start with {family}, e.g. {family}endpoint)"
    ))
}

/// The store behind `url` (its prefix is not applied: callers list under it).
pub fn open_store(
    url: &StoreUrl,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>, PlatformError> {
    let store = &url.store;
    let err = |e: object_store::Error| PlatformError::Config(format!("{store}: {e}"));
    Ok(match url.scheme.as_str() {
        "s3" => Arc::new(amazon_s3(store, options)?.0),
        // from_env reads every GOOGLE_* key, GOOGLE_BASE_URL included.
        "gs" => {
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(store);
            for (key, value) in options {
                let key = GoogleConfigKey::from_str(key).map_err(|_| unknown(key, "google_"))?;
                builder = builder.with_config(key, value);
            }
            Arc::new(builder.build().map_err(err)?)
        }
        "az" => {
            let mut builder = MicrosoftAzureBuilder::from_env().with_url(store);
            for (key, value) in options {
                let key = AzureConfigKey::from_str(key).map_err(|_| unknown(key, "azure_"))?;
                builder = builder.with_config(key, value);
            }
            Arc::new(builder.build().map_err(err)?)
        }
        other => {
            return Err(PlatformError::Config(format!(
                "{store}: no object store for scheme {other}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_store_and_prefix() {
        let u = StoreUrl::parse("s3://trail-bucket/AWSLogs/").unwrap();
        assert_eq!(
            (
                u.scheme.as_str(),
                u.store.as_str(),
                u.prefix.as_str(),
                u.bucket()
            ),
            ("s3", "s3://trail-bucket", "AWSLogs", "trail-bucket")
        );
        let u = StoreUrl::parse("az://insights-activity-logs").unwrap();
        assert_eq!(
            (u.store.as_str(), u.prefix.as_str()),
            ("az://insights-activity-logs", "")
        );
        for bad in ["bucket/key", "ftp://x/y", "s3:///key", "file:///var/audit"] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn unknown_options_are_named() {
        let url = StoreUrl::parse("s3://b").unwrap();
        let options = BTreeMap::from([("aws_endpoit".to_owned(), "http://x".to_owned())]);
        let err = open_store(&url, &options).err().unwrap().to_string();
        assert!(err.contains("aws_endpoit"), "{err}");
    }
}
