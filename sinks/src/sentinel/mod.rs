//! Microsoft Sentinel through the Azure Monitor Logs Ingestion API.
//!
//! Each batch becomes one or more `POST {endpoint}/dataCollectionRules/
//! {dcr_immutable_id}/streams/{stream}?api-version=2023-01-01` calls: a
//! JSON array of rows, gzip, `Authorization: Bearer <token>`, an
//! `x-ms-client-request-id`, never over the API's 1 MB per call (rows are
//! cut into several calls; a row alone over 1 MB is dead-lettered). 204
//! means accepted.
//!
//! The token comes from Entra ID's client-credentials grant (a client
//! secret, or a federated token file for workload identity), cached and
//! refreshed before it expires; a 401 drops it and fetches a new one.
//!
//! Rows are ASIM (`table = "asim"`: authentication events to
//! ASimAuthenticationEventLogs, the rest to ASimAuditEventLogs, with
//! `EventSchema`, `EventSchemaVersion` and the schemas' mandatory and
//! recommended fields) or the archive's OCSF columns for a custom table
//! (`table = "ocsf"`). docs/sentinel/ holds the DCRs and the table.
//!
//! Answers, as Microsoft documents them: 204 accepted; 429 and 503 (and
//! other 5xx) retried no sooner than `Retry-After`; 413 split (a single
//! row: dead-lettered); 401 a new token, then a stop naming `auth`; 403
//! (the app lacks "Monitoring Metrics Publisher" on the DCR) and 404 (no
//! such DCR) stop the sink naming the key; other 4xx are bisected to the
//! events at fault, which go to the dead-letter topic with the response.

mod config;
pub mod rows;
mod service;
mod token;

pub use config::{AzureAuth, SentinelConfig, Table};
pub use service::{Call, MAX_REQUEST_BYTES, SentinelService};

/// A client request id (a random GUID) for `x-ms-client-request-id`.
fn request_id() -> String {
    crate::driver::guid()
}
