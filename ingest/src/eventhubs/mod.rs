//! `type = "eventhubs"`: Azure Event Hubs through its Kafka endpoint
//! (SASL_SSL, mechanism PLAIN, user `$ConnectionString`, the connection
//! string as password). Each message's `{"records": [...]}` is unwrapped
//! into one raw record per element.
//!
//! The hub's offsets live on Azure's cluster, not ours, so they cannot
//! join our transactions as consumer offsets: they are cursors instead
//! (`partition/<n>` in `<prefix>.cursors`), committed in the same
//! transaction as the records they cover. Partitions are assigned, not
//! balanced: a restart resumes each at its cursor, with no loss and no
//! duplicates.

pub mod collector;
pub mod config;
