//! OCSF 1.8.0 objects used by auditfed's event classes.
//!
//! Every attribute is optional in Rust; which ones an event class requires is
//! checked against the vendored OCSF schema by the tests of this crate and of
//! `auditfed-normalize`. Attribute names and types follow the OCSF dictionary
//! exactly, so `serde_json` output *is* OCSF JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Declares an OCSF object: every field optional, omitted when absent,
/// unknown attributes rejected when reading events back.
macro_rules! ocsf_object {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

ocsf_object! {
    /// `metadata`: where the event came from and how it was produced.
    Metadata {
        /// Correlation id shared by related events (e.g. a session).
        correlation_uid: String,
        /// The source's event code or type (e.g. `eventName`).
        event_code: String,
        /// Free-form labels.
        labels: Vec<String>,
        /// Format of the source log (`JSON`, `syslog`, ...).
        log_format: String,
        /// Name of the log (e.g. the CloudTrail trail, GCP log name).
        log_name: String,
        /// The logging provider or service (the auditfed source type).
        log_provider: String,
        /// The source object the record was read from (file, bucket/key, topic/partition/offset).
        log_source: String,
        /// Version of the source log format.
        log_version: String,
        /// When the source logged the event, epoch milliseconds.
        logged_time: i64,
        /// The event's time exactly as the source wrote it.
        original_time: String,
        /// The product that produced the source event.
        product: Product,
        /// OCSF profiles the event declares (e.g. `cloud`, `datetime`).
        profiles: Vec<String>,
        /// Tenant (organization, directory) the event belongs to.
        tenant_uid: String,
        /// How the event was transformed into OCSF (auditfed's mapper and its version).
        transformation_info_list: Vec<TransformationInfo>,
        /// The source's own unique id of the event.
        uid: String,
        /// The OCSF schema version (`1.8.0`).
        version: String,
    }
}

ocsf_object! {
    /// `product`: the product that reported the event.
    Product {
        /// Feature within the product.
        feature: Feature,
        /// Product name (e.g. `CloudTrail`).
        name: String,
        /// Vendor name (e.g. `AWS`).
        vendor_name: String,
        /// Product version.
        version: String,
    }
}

ocsf_object! {
    /// `feature`: a feature of a product.
    Feature {
        /// Feature name.
        name: String,
    }
}

ocsf_object! {
    /// `transformation_info`: one transformation applied to the source record.
    TransformationInfo {
        /// Language of the transformation.
        lang: String,
        /// The transformation's name (the auditfed mapper).
        name: String,
        /// The product that transformed the record.
        product: Product,
        /// Its unique id (mapper name and version).
        uid: String,
    }
}

ocsf_object! {
    /// `actor`: who or what performed the action.
    Actor {
        /// Application or service that initiated the action.
        app_name: String,
        /// Id of that application or service.
        app_uid: String,
        /// Authorization decisions for the action.
        authorizations: Vec<Authorization>,
        /// The identity provider that authenticated the actor.
        idp: Idp,
        /// The session the action was taken in.
        session: Session,
        /// The user or principal.
        user: User,
    }
}

ocsf_object! {
    /// `authorization`: an authorization decision.
    Authorization {
        /// Decision (e.g. `granted`, `denied`).
        decision: String,
        /// The policy that decided.
        policy: Policy,
    }
}

ocsf_object! {
    /// `idp`: an identity provider.
    Idp {
        /// Name.
        name: String,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `user`: a user or principal.
    User {
        /// The account the user belongs to.
        account: Account,
        /// Credential id (e.g. an access key id).
        credential_uid: String,
        /// Display name.
        display_name: String,
        /// Domain.
        domain: String,
        /// Email address.
        email_addr: String,
        /// Full name.
        full_name: String,
        /// Groups the user is in.
        groups: Vec<Group>,
        /// Whether the user has MFA.
        has_mfa: bool,
        /// User name.
        name: String,
        /// Organization.
        org: Organization,
        /// User type caption.
        r#type: String,
        /// User type: 0 Unknown, 1 User, 2 Admin, 3 System, 4 Service, 99 Other.
        type_id: i32,
        /// Unique id.
        uid: String,
        /// Alternate id (e.g. the principal id).
        uid_alt: String,
    }
}

ocsf_object! {
    /// `account`: an account (cloud account, subscription, project).
    Account {
        /// Name.
        name: String,
        /// Account type caption.
        r#type: String,
        /// Account type id (e.g. 10 AWS Account, 6 Azure AD Account, 5 GCP Account).
        type_id: i32,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `organization`: an organization or tenant.
    Organization {
        /// Name.
        name: String,
        /// Organizational unit name.
        ou_name: String,
        /// Organizational unit id.
        ou_uid: String,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `session`: an authenticated session.
    Session {
        /// Creation time, epoch milliseconds.
        created_time: i64,
        /// Credential id of the session.
        credential_uid: String,
        /// Whether MFA was used to create the session.
        is_mfa: bool,
        /// Who issued the session (e.g. the role ARN).
        issuer: String,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `network_endpoint`: a source or destination on the network.
    NetworkEndpoint {
        /// Domain.
        domain: String,
        /// Host name.
        hostname: String,
        /// IP address.
        ip: String,
        /// Geolocation.
        location: Location,
        /// Name (e.g. an AWS service calling on a user's behalf).
        name: String,
        /// Operating system.
        os: Os,
        /// Port.
        port: i32,
        /// Service name.
        svc_name: String,
        /// Endpoint type caption.
        r#type: String,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `location`: a geographic location.
    Location {
        /// City.
        city: String,
        /// ISO 3166-1 alpha-2 country code.
        country: String,
        /// Latitude.
        lat: f64,
        /// Longitude.
        long: f64,
        /// Region or state.
        region: String,
    }
}

ocsf_object! {
    /// `os`: an operating system.
    Os {
        /// Name.
        name: String,
        /// Type caption.
        r#type: String,
        /// Type id: 0 Unknown, 99 Other, ...
        type_id: i32,
    }
}

ocsf_object! {
    /// `cloud`: the cloud environment of the event.
    Cloud {
        /// The cloud account (AWS account, Azure subscription, GCP project).
        account: Account,
        /// Cloud organization.
        org: Organization,
        /// Cloud project id.
        project_uid: String,
        /// Provider (`AWS`, `Azure`, `GCP`, ...).
        provider: String,
        /// Region.
        region: String,
        /// Availability zone.
        zone: String,
    }
}

ocsf_object! {
    /// `api`: the API call.
    Api {
        /// Operation (e.g. `CreateUser`).
        operation: String,
        /// Request.
        request: ApiRequest,
        /// Response.
        response: ApiResponse,
        /// Service.
        service: Service,
        /// API version.
        version: String,
    }
}

ocsf_object! {
    /// `request`: an API request.
    ApiRequest {
        /// Request data.
        data: Value,
        /// Request id.
        uid: String,
    }
}

ocsf_object! {
    /// `response`: an API response.
    ApiResponse {
        /// Response code.
        code: i32,
        /// Response data.
        data: Value,
        /// Error code.
        error: String,
        /// Error message.
        error_message: String,
        /// Message.
        message: String,
    }
}

ocsf_object! {
    /// `service`: a service.
    Service {
        /// Name.
        name: String,
        /// Unique id.
        uid: String,
        /// Version.
        version: String,
    }
}

ocsf_object! {
    /// `resource_details`: a resource the action touched.
    ResourceDetails {
        /// Cloud partition (e.g. `aws`).
        cloud_partition: String,
        /// Resource data.
        data: Value,
        /// Labels.
        labels: Vec<String>,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
        /// Owner.
        owner: User,
        /// Region.
        region: String,
        /// Type.
        r#type: String,
        /// Unique id (ARN, resource id, ...).
        uid: String,
    }
}

ocsf_object! {
    /// `http_request`: the HTTP request behind the event.
    HttpRequest {
        /// HTTP method.
        http_method: String,
        /// URL.
        url: Url,
        /// User agent.
        user_agent: String,
        /// HTTP version.
        version: String,
    }
}

ocsf_object! {
    /// `url`: a URL.
    Url {
        /// Host name.
        hostname: String,
        /// Path.
        path: String,
        /// Query string.
        query_string: String,
        /// The whole URL.
        url_string: String,
    }
}

ocsf_object! {
    /// `fingerprint`: a hash of some data.
    Fingerprint {
        /// Algorithm caption.
        algorithm: String,
        /// Algorithm id: 3 = SHA-256.
        algorithm_id: i32,
        /// Hex digest.
        value: String,
    }
}

ocsf_object! {
    /// `group`: a group.
    Group {
        /// Domain.
        domain: String,
        /// Name.
        name: String,
        /// Privileges.
        privileges: Vec<String>,
        /// Type.
        r#type: String,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `policy`: a policy.
    Policy {
        /// Policy document.
        data: Value,
        /// Description.
        desc: String,
        /// Name.
        name: String,
        /// Type.
        r#type: String,
        /// Unique id.
        uid: String,
    }
}

ocsf_object! {
    /// `managed_entity`: the entity an Entity Management event acts on.
    ManagedEntity {
        /// Entity data.
        data: Value,
        /// Group, when the entity is a group.
        group: Group,
        /// Name.
        name: String,
        /// Policy, when the entity is a policy.
        policy: Policy,
        /// Type (e.g. `Role`, `ConfigMap`).
        r#type: String,
        /// Unique id.
        uid: String,
        /// User, when the entity is a user.
        user: User,
        /// Version.
        version: String,
    }
}

ocsf_object! {
    /// `auth_factor`: an authentication factor used.
    AuthFactor {
        /// Factor type caption.
        factor_type: String,
        /// Factor type id.
        factor_type_id: i32,
    }
}

/// `unmapped`: source attributes without an OCSF home, kept verbatim.
pub type Unmapped = Map<String, Value>;
