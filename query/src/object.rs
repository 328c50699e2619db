//! Archives on object storage: S3 and S3-compatible endpoints, Google
//! Cloud Storage, Azure Blob Storage, through the `object_store` crate.
//!
//! | URL | credentials and endpoint, from the environment |
//! |---|---|
//! | `s3://bucket/prefix` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (MinIO, Ceph, on-prem), `AWS_ALLOW_HTTP=true` for plain-http endpoints |
//! | `gs://bucket/prefix` | `GOOGLE_SERVICE_ACCOUNT` (key file) or `GOOGLE_APPLICATION_CREDENTIALS`, else the instance metadata server; `GOOGLE_BASE_URL` for another endpoint; for an emulator, a key file `{"gcs_base_url": "http://127.0.0.1:4443", "disable_oauth": true, "client_email": "", "private_key": ""}` |
//! | `az://container/prefix` | `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_KEY` or `AZURE_STORAGE_CLIENT_ID`/`_SECRET`/`_TENANT_ID`, or managed identity; `AZURE_STORAGE_USE_EMULATOR=true` (Azurite, at `AZURITE_BLOB_STORAGE_URL`, default `http://127.0.0.1:10000`) |
//!
//! A path or `file://` URL is a local directory ([`crate::store::LocalDir`]).

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::QueryError;
use crate::store::{ArchiveStore, LocalDir};

/// Where an archive is, parsed from a path or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Local(std::path::PathBuf),
    /// An object-store URL (`s3://`, `gs://`, `az://`) split into its
    /// store (`scheme://bucket`) and the prefix inside it.
    Object {
        /// `scheme://bucket`.
        store_url: String,
        /// The archive's prefix in the bucket (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Parses `DIR`, `file:///DIR`, `s3://bucket/prefix`, `gs://…`, `az://…`.
    pub fn parse(spec: &str) -> Result<Location, QueryError> {
        if let Some(path) = spec.strip_prefix("file://") {
            return Ok(Location::Local(path.into()));
        }
        let Some((scheme, rest)) = spec.split_once("://") else {
            return Ok(Location::Local(spec.into()));
        };
        if !matches!(scheme, "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss") {
            return Err(QueryError::Store(format!(
                "{spec}: unsupported archive URL scheme `{scheme}` (expected a directory, file://, s3://, gs:// or az://)"
            )));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(QueryError::Store(format!("{spec}: no bucket or container")));
        }
        Ok(Location::Object {
            store_url: format!("{scheme}://{bucket}"),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    /// The object store behind an object URL, configured from the environment.
    pub fn object_store(&self) -> Result<Option<Arc<dyn ObjectStore>>, QueryError> {
        let Location::Object { store_url, .. } = self else {
            return Ok(None);
        };
        let url = auditfed_platform::store::StoreUrl::parse(store_url)
            .map_err(|e| QueryError::Store(e.to_string()))?;
        let store = auditfed_platform::store::open_store(&url, &Default::default())
            .map_err(|e| QueryError::Store(e.to_string()))?;
        Ok(Some(store))
    }

    /// Opens an existing archive to read (verify, prove): `spec` as for
    /// [`Location::parse`]; a local directory must exist.
    pub fn open_existing(spec: &str) -> Result<Arc<dyn ArchiveStore>, QueryError> {
        let location = Location::parse(spec)?;
        if let Location::Local(root) = &location
            && !root.is_dir()
        {
            return Err(QueryError::NotFound("not a directory".into()));
        }
        location.open()
    }

    /// Opens the archive for the writer and the verifier.
    pub fn open(&self) -> Result<Arc<dyn ArchiveStore>, QueryError> {
        match self {
            Location::Local(dir) => Ok(Arc::new(LocalDir::new(dir))),
            Location::Object { store_url, prefix } => Ok(Arc::new(ObjectArchive {
                store: self.object_store()?.expect("object location"),
                prefix: prefix.clone(),
                describe: if prefix.is_empty() {
                    store_url.clone()
                } else {
                    format!("{store_url}/{prefix}")
                },
                runtime: tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| QueryError::Store(e.to_string()))?,
            })),
        }
    }
}

/// An archive under a prefix of an object store (sync facade).
pub struct ObjectArchive {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    describe: String,
    runtime: tokio::runtime::Runtime,
}

impl ObjectArchive {
    fn full(&self, path: &str) -> Result<ObjectPath, QueryError> {
        if path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(QueryError::Store(format!("invalid archive path `{path}`")));
        }
        // The layout's names are already percent-encoded (chain ids): kept as
        // they are, so object keys equal the local layout's file names.
        let full = if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        };
        ObjectPath::parse(&full)
            .map_err(|e| QueryError::Store(format!("invalid archive path `{path}`: {e}")))
    }

    fn err(&self, what: &str, e: object_store::Error) -> QueryError {
        QueryError::Store(format!("{}: cannot {what}: {e}", self.describe))
    }
}

impl ArchiveStore for ObjectArchive {
    fn list(&self) -> Result<Vec<String>, QueryError> {
        let prefix = if self.prefix.is_empty() {
            None
        } else {
            Some(
                ObjectPath::parse(&self.prefix)
                    .map_err(|e| QueryError::Store(format!("{}: {e}", self.describe)))?,
            )
        };
        let metas: Vec<_> = self
            .runtime
            .block_on(self.store.list(prefix.as_ref()).try_collect::<Vec<_>>())
            .map_err(|e| self.err("list", e))?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut out: Vec<String> = metas
            .into_iter()
            .filter_map(|m| m.location.as_ref().strip_prefix(&strip).map(str::to_owned))
            .collect();
        out.sort();
        Ok(out)
    }

    fn read(&self, path: &str) -> Result<Bytes, QueryError> {
        let full = self.full(path)?;
        self.runtime
            .block_on(async { self.store.get(&full).await?.bytes().await })
            .map_err(|e| self.err(&format!("read {path}"), e))
    }

    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), QueryError> {
        // A PUT is atomic on every object store: readers see the old object or the new one.
        let full = self.full(path)?;
        self.runtime
            .block_on(self.store.put(&full, PutPayload::from(bytes.to_vec())))
            .map(drop)
            .map_err(|e| self.err(&format!("write {path}"), e))
    }

    fn delete(&self, path: &str) -> Result<(), QueryError> {
        let full = self.full(path)?;
        self.runtime
            .block_on(self.store.delete(&full))
            .map_err(|e| self.err(&format!("delete {path}"), e))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
