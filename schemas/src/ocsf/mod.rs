//! The common event model: OCSF 1.8.0 events as Rust values.
//!
//! One [`Event`] struct carries every attribute of the classes auditfed
//! emits; [`Event::new`] fills the classification attributes consistently
//! (`type_uid = class_uid * 100 + activity_id`, names from the schema), and
//! mappers fill the rest. Serialized with `serde_json`, an `Event` is an OCSF
//! JSON object: absent attributes are omitted, never `null`.
//!
//! ```
//! use auditfed_schemas::ocsf::{Class, Event, Metadata, Product, Severity};
//!
//! let metadata = Metadata {
//!     product: Some(Product { name: Some("CloudTrail".into()), vendor_name: Some("AWS".into()), ..Default::default() }),
//!     ..Default::default()
//! };
//! let event = Event::new(Class::ApiActivity, 1, 1_700_000_000_000, Severity::Informational, metadata);
//! assert_eq!(event.type_uid, 600301);
//! assert_eq!(event.activity_name.as_deref(), Some("Create"));
//! assert_eq!(event.metadata.version.as_deref(), Some("1.8.0"));
//! ```

mod class;
mod objects;

pub use class::{Class, Severity, Status};
pub use objects::*;

use serde::{Deserialize, Serialize};

/// The OCSF schema version auditfed emits.
pub const OCSF_VERSION: &str = "1.8.0";

/// An OCSF event of one of the classes in [`Class`].
///
/// Fields (here and in every object) are declared in alphabetical order of
/// their JSON names: serde then writes them in RFC 8785 order, which is what
/// lets [`crate::seal::canonical_event`] skip building a JSON tree. A test
/// keeps the order.
///
/// Attributes that only some classes define (`api`, `user`, `entity`,
/// `group`, `privileges`, ...) are `None` on the others; the schema tests
/// reject an event that carries an attribute its class does not define.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Activity id within the class.
    pub activity_id: i32,
    /// Activity caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_name: Option<String>,
    /// Who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// The API call (API Activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    /// Factors used (Authentication, Account Change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_factors: Option<Vec<AuthFactor>>,
    /// Authentication protocol caption (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_protocol: Option<String>,
    /// Authentication protocol id (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_protocol_id: Option<i32>,
    /// Category caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_name: Option<String>,
    /// Category id.
    pub category_uid: i32,
    /// Class caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Class id.
    pub class_uid: i32,
    /// Cloud context (`cloud` profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Cloud>,
    /// Where the action went (Authentication, API Activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<NetworkEndpoint>,
    /// The managed entity (Entity Management).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<ManagedEntity>,
    /// The group (Group Management).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// The HTTP request behind the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest>,
    /// Whether MFA was used (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_mfa: Option<bool>,
    /// Whether the logon was remote (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_remote: Option<bool>,
    /// Logon type caption (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_type: Option<String>,
    /// Logon type id (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_type_id: Option<i32>,
    /// A short description of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Metadata and lineage.
    pub metadata: Metadata,
    /// The policy attached or detached (Account Change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// Privileges granted or revoked (User Access, Group Management).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileges: Option<Vec<String>>,
    /// The raw source record, exactly as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    /// SHA-256 of the raw record's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data_hash: Option<Fingerprint>,
    /// Size of the raw record in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data_size: Option<i64>,
    /// Resources the action touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceDetails>>,
    /// The service authenticated to (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// The session (Authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// Severity caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Severity id.
    pub severity_id: i32,
    /// Where the action came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<NetworkEndpoint>,
    /// Outcome caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The source's status or error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// The source's status or failure reason, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// Outcome id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_id: Option<i32>,
    /// Event time, epoch milliseconds.
    pub time: i64,
    /// Event time as RFC 3339 (`datetime` profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_dt: Option<String>,
    /// `"<class name>: <activity name>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: i64,
    /// Source attributes without an OCSF home, plus auditfed lineage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmapped: Option<Unmapped>,
    /// The user the event is about (Authentication, Account Change, User Access, Group Management).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

impl Event {
    /// A new event of `class` with consistent classification attributes.
    ///
    /// An `activity_id` the class does not define is kept as given but gets
    /// no caption; mappers use 99 (Other) for source verbs without a match.
    pub fn new(
        class: Class,
        activity_id: i32,
        time: i64,
        severity: Severity,
        mut metadata: Metadata,
    ) -> Event {
        metadata.version = Some(OCSF_VERSION.to_owned());
        let activity_name = class.activity_name(activity_id);
        Event {
            activity_id,
            activity_name: activity_name.map(str::to_owned),
            category_uid: class.category_uid(),
            category_name: Some(class.category_name().to_owned()),
            class_uid: class.uid(),
            class_name: Some(class.name().to_owned()),
            type_uid: i64::from(class.uid()) * 100 + i64::from(activity_id),
            type_name: Some(format!(
                "{}: {}",
                class.name(),
                activity_name.unwrap_or("Other")
            )),
            severity_id: severity as i32,
            severity: Some(severity.name().to_owned()),
            status_id: None,
            status: None,
            status_code: None,
            status_detail: None,
            time,
            time_dt: None,
            message: None,
            metadata,
            actor: None,
            api: None,
            user: None,
            entity: None,
            group: None,
            privileges: None,
            policy: None,
            src_endpoint: None,
            dst_endpoint: None,
            http_request: None,
            service: None,
            auth_protocol: None,
            auth_protocol_id: None,
            auth_factors: None,
            is_mfa: None,
            is_remote: None,
            logon_type: None,
            logon_type_id: None,
            session: None,
            resources: None,
            cloud: None,
            unmapped: None,
            raw_data: None,
            raw_data_hash: None,
            raw_data_size: None,
        }
    }

    /// The event's class, if `class_uid` is one auditfed emits.
    pub fn class(&self) -> Option<Class> {
        Class::from_uid(self.class_uid)
    }

    /// Sets `status_id` and its caption.
    pub fn set_status(&mut self, status: Status) {
        self.status_id = Some(status as i32);
        self.status = Some(status.name().to_owned());
    }

    /// Declares an OCSF profile in `metadata.profiles` (once).
    pub fn add_profile(&mut self, profile: &str) {
        let profiles = self.metadata.profiles.get_or_insert_with(Vec::new);
        if !profiles.iter().any(|p| p == profile) {
            profiles.push(profile.to_owned());
        }
    }
}

#[cfg(test)]
mod field_order_tests {
    /// Every struct of the model declares its fields in JSON-name order
    /// (the fast canonical encoder depends on it).
    #[test]
    fn fields_are_declared_in_canonical_order() {
        for (file, source) in [
            ("mod.rs", include_str!("mod.rs")),
            ("objects.rs", include_str!("objects.rs")),
        ] {
            let mut names: Vec<String> = Vec::new();
            let mut struct_name = String::new();
            for line in source.lines() {
                let t = line.trim();
                // `pub struct Event {` here; `    Metadata {` inside ocsf_object! there.
                let macro_struct = line.starts_with("    ")
                    && !line.starts_with("     ")
                    && t.ends_with(" {")
                    && t.split_whitespace().count() == 2
                    && t.chars().next().is_some_and(char::is_uppercase);
                let opens = (t.starts_with("pub struct ") && t.ends_with('{')) || macro_struct;
                if opens {
                    names.clear();
                    struct_name = t.to_owned();
                    continue;
                }
                if t == "}" && !struct_name.is_empty() {
                    let mut sorted = names.clone();
                    sorted.sort();
                    assert_eq!(
                        names, sorted,
                        "{file}: fields of `{struct_name}` are not in JSON-name order"
                    );
                    names.clear();
                    struct_name.clear();
                    continue;
                }
                let field = t.strip_prefix("pub ").unwrap_or(t);
                if let Some((name, _)) = field.split_once(": ")
                    && !name.contains(' ')
                    && !t.starts_with("//")
                    && !t.starts_with('#')
                    && !struct_name.is_empty()
                {
                    names.push(name.trim_start_matches("r#").to_owned());
                }
            }
        }
    }
}
