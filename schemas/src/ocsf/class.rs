//! OCSF 1.8.0 event classes, their activities and the shared enums
//! (severity, status) that every event carries.

use serde::{Deserialize, Serialize};

/// The OCSF event classes auditfed emits.
///
/// `Base Event` (class 0) is the last resort for records that carry an audit
/// trail but no recognisable action; mappers prefer a specific class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Base Event, class 0, category 0 (Uncategorized).
    BaseEvent,
    /// Account Change, class 3001 (Identity & Access Management).
    AccountChange,
    /// Authentication, class 3002 (Identity & Access Management).
    Authentication,
    /// Entity Management, class 3004 (Identity & Access Management).
    EntityManagement,
    /// User Access Management, class 3005 (Identity & Access Management).
    UserAccessManagement,
    /// Group Management, class 3006 (Identity & Access Management).
    GroupManagement,
    /// API Activity, class 6003 (Application Activity).
    ApiActivity,
}

impl Class {
    /// Every class, in `class_uid` order.
    pub const ALL: [Class; 7] = [
        Class::BaseEvent,
        Class::AccountChange,
        Class::Authentication,
        Class::EntityManagement,
        Class::UserAccessManagement,
        Class::GroupManagement,
        Class::ApiActivity,
    ];

    /// OCSF `class_uid`.
    pub const fn uid(self) -> i32 {
        match self {
            Class::BaseEvent => 0,
            Class::AccountChange => 3001,
            Class::Authentication => 3002,
            Class::EntityManagement => 3004,
            Class::UserAccessManagement => 3005,
            Class::GroupManagement => 3006,
            Class::ApiActivity => 6003,
        }
    }

    /// OCSF `class_name` (the caption).
    pub const fn name(self) -> &'static str {
        match self {
            Class::BaseEvent => "Base Event",
            Class::AccountChange => "Account Change",
            Class::Authentication => "Authentication",
            Class::EntityManagement => "Entity Management",
            Class::UserAccessManagement => "User Access Management",
            Class::GroupManagement => "Group Management",
            Class::ApiActivity => "API Activity",
        }
    }

    /// OCSF `category_uid`.
    pub const fn category_uid(self) -> i32 {
        match self {
            Class::BaseEvent => 0,
            Class::ApiActivity => 6,
            _ => 3,
        }
    }

    /// OCSF `category_name`.
    pub const fn category_name(self) -> &'static str {
        match self {
            Class::BaseEvent => "Uncategorized",
            Class::ApiActivity => "Application Activity",
            _ => "Identity & Access Management",
        }
    }

    /// Whether the class defines `resources` (API Activity, User Access
    /// Management); mappers keep resource ids unmapped on the others.
    pub const fn has_resources(self) -> bool {
        matches!(self, Class::ApiActivity | Class::UserAccessManagement)
    }

    /// The class for a `class_uid`, if auditfed emits it.
    pub fn from_uid(uid: i32) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.uid() == uid)
    }

    /// The caption of `activity_id` in this class: the class's own
    /// activities plus `0 Unknown` and `99 Other`, shared by every class.
    pub fn activity_name(self, activity_id: i32) -> Option<&'static str> {
        match activity_id {
            0 => return Some("Unknown"),
            99 => return Some("Other"),
            _ => {}
        }
        let names: &[&str] = match self {
            Class::BaseEvent => &[],
            Class::AccountChange => &[
                "Create",
                "Enable",
                "Password Change",
                "Password Reset",
                "Disable",
                "Delete",
                "Attach Policy",
                "Detach Policy",
                "Lock",
                "MFA Factor Enable",
                "MFA Factor Disable",
                "Unlock",
            ],
            Class::Authentication => &[
                "Logon",
                "Logoff",
                "Authentication Ticket",
                "Service Ticket Request",
                "Service Ticket Renew",
                "Preauth",
                "Account Switch",
            ],
            Class::EntityManagement => &[
                "Create",
                "Read",
                "Update",
                "Delete",
                "Move",
                "Enroll",
                "Unenroll",
                "Enable",
                "Disable",
                "Activate",
                "Deactivate",
                "Suspend",
                "Resume",
            ],
            Class::UserAccessManagement => &["Assign Privileges", "Revoke Privileges"],
            Class::GroupManagement => &[
                "Assign Privileges",
                "Revoke Privileges",
                "Add User",
                "Remove User",
                "Delete",
                "Create",
                "Add Subgroup",
                "Remove Subgroup",
            ],
            Class::ApiActivity => &["Create", "Read", "Update", "Delete"],
        };
        usize::try_from(activity_id - 1)
            .ok()
            .and_then(|i| names.get(i).copied())
    }
}

/// OCSF `severity_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Severity {
    /// 0: the source did not say.
    Unknown = 0,
    /// 1: informational.
    Informational = 1,
    /// 2: low.
    Low = 2,
    /// 3: medium.
    Medium = 3,
    /// 4: high.
    High = 4,
    /// 5: critical.
    Critical = 5,
    /// 6: fatal.
    Fatal = 6,
    /// 99: a source-specific level, named in `severity`.
    Other = 99,
}

impl Severity {
    /// OCSF `severity` caption.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "Unknown",
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
            Severity::Fatal => "Fatal",
            Severity::Other => "Other",
        }
    }
}

/// OCSF `status_id`: the outcome of the audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// 0: the outcome is not known.
    Unknown = 0,
    /// 1: the action succeeded.
    Success = 1,
    /// 2: the action failed.
    Failure = 2,
    /// 99: another outcome, named in `status`.
    Other = 99,
}

impl Status {
    /// OCSF `status` caption.
    pub const fn name(self) -> &'static str {
        match self {
            Status::Unknown => "Unknown",
            Status::Success => "Success",
            Status::Failure => "Failure",
            Status::Other => "Other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_names_follow_the_schema_numbering() {
        assert_eq!(Class::ApiActivity.activity_name(4), Some("Delete"));
        assert_eq!(Class::AccountChange.activity_name(12), Some("Unlock"));
        assert_eq!(Class::Authentication.activity_name(99), Some("Other"));
        assert_eq!(Class::UserAccessManagement.activity_name(3), None);
        assert_eq!(Class::BaseEvent.activity_name(1), None);
        assert_eq!(Class::from_uid(3006), Some(Class::GroupManagement));
        assert_eq!(Class::from_uid(4001), None);
    }
}
