//! What a syslog message says, for the programs whose messages are audit
//! evidence: sshd, sudo, su, login/PAM, and the shadow-utils account tools.
//! Anything else stays a Base Event with the message kept.

/// The meaning of one message.
#[derive(Debug, PartialEq, Default)]
pub(crate) struct Meaning {
    pub(crate) kind: Kind,
    /// Whose account/session the message is about.
    pub(crate) user: Option<String>,
    /// Who did it (sudo/su invoker, admin running useradd).
    pub(crate) by: Option<String>,
    pub(crate) src_ip: Option<String>,
    pub(crate) src_port: Option<i32>,
    pub(crate) success: Option<bool>,
    pub(crate) method: Option<String>,
    pub(crate) group: Option<String>,
}

/// Kinds of audit meaning, each with its OCSF class and activity.
#[derive(Debug, PartialEq, Default, Clone, Copy)]
pub(crate) enum Kind {
    /// Not an audit message the rules know.
    #[default]
    Other,
    Logon,
    Logoff,
    AccountSwitch,
    UserCreated,
    UserDeleted,
    PasswordChanged,
    GroupCreated,
    GroupDeleted,
    UserAddedToGroup,
}

pub(crate) fn interpret(app: Option<&str>, message: &str) -> Meaning {
    let msg = collapse_spaces(message);
    let msg = msg.as_str();
    let app = app.unwrap_or_default();
    let app = app.rsplit('/').next().unwrap_or(app);
    // PAM session lines, from any service: "pam_unix(sshd:session): session opened for user bob(uid=…) by (uid=0)".
    if let Some(rest) = msg.strip_prefix("pam_unix(") {
        let service = rest.split(':').next().unwrap_or_default();
        let switch = matches!(service, "sudo" | "sudo-i" | "su" | "su-l");
        if let Some(after) = rest.split_once("session opened for user ").map(|x| x.1) {
            let (user, by) = user_by(after);
            let kind = if switch {
                Kind::AccountSwitch
            } else {
                Kind::Logon
            };
            return Meaning {
                kind,
                user,
                by,
                success: Some(true),
                method: Some(format!("pam:{service}")),
                ..Default::default()
            };
        }
        if let Some(after) = rest.split_once("session closed for user ").map(|x| x.1) {
            let (user, _) = user_by(after);
            return Meaning {
                kind: Kind::Logoff,
                user,
                success: Some(true),
                ..Default::default()
            };
        }
        if rest.contains("authentication failure") {
            let user = field(rest, "user=");
            let by = field(rest, "ruser=").or_else(|| field(rest, "logname="));
            let src_ip = field(rest, "rhost=");
            let kind = if switch {
                Kind::AccountSwitch
            } else {
                Kind::Logon
            };
            return Meaning {
                kind,
                user,
                by,
                src_ip,
                success: Some(false),
                method: Some(format!("pam:{service}")),
                ..Default::default()
            };
        }
        if let Some(after) = rest.split_once("password changed for ").map(|x| x.1) {
            return Meaning {
                kind: Kind::PasswordChanged,
                user: first_word(after),
                success: Some(true),
                ..Default::default()
            };
        }
    }
    match app {
        "sshd" | "sshd-session" => sshd(msg),
        "sudo" => sudo(msg),
        "su" => su(msg),
        "useradd" | "adduser" => {
            if let Some(rest) = msg.strip_prefix("new user: ") {
                return Meaning {
                    kind: Kind::UserCreated,
                    user: field(rest, "name=").map(trim_comma),
                    success: Some(true),
                    ..Default::default()
                };
            }
            if let Some(rest) = msg.strip_prefix("new group: ") {
                return Meaning {
                    kind: Kind::GroupCreated,
                    group: field(rest, "name=").map(trim_comma),
                    success: Some(true),
                    ..Default::default()
                };
            }
            if let Some(rest) = msg.strip_prefix("add '") {
                // add 'bob' to group 'sudo'
                let (user, rest) = rest.split_once('\'').unwrap_or_default();
                let group = rest.split('\'').nth(1).map(str::to_owned);
                return Meaning {
                    kind: Kind::UserAddedToGroup,
                    user: Some(user.to_owned()),
                    group,
                    success: Some(true),
                    ..Default::default()
                };
            }
            Meaning::default()
        }
        "userdel" | "deluser" => match msg.strip_prefix("delete user '") {
            Some(rest) => Meaning {
                kind: Kind::UserDeleted,
                user: rest.split('\'').next().map(str::to_owned),
                success: Some(true),
                ..Default::default()
            },
            None => Meaning::default(),
        },
        "groupadd" => match msg.strip_prefix("new group: ") {
            Some(rest) => Meaning {
                kind: Kind::GroupCreated,
                group: field(rest, "name=").map(trim_comma),
                success: Some(true),
                ..Default::default()
            },
            None => Meaning::default(),
        },
        "groupdel" => match msg.strip_prefix("group '") {
            Some(rest) if msg.ends_with("removed") => Meaning {
                kind: Kind::GroupDeleted,
                group: rest.split('\'').next().map(str::to_owned),
                success: Some(true),
                ..Default::default()
            },
            _ => Meaning::default(),
        },
        "usermod" | "gpasswd" => {
            if let Some(rest) = msg.strip_prefix("add '") {
                let (user, rest) = rest.split_once('\'').unwrap_or_default();
                let group = rest.split('\'').nth(1).map(str::to_owned);
                return Meaning {
                    kind: Kind::UserAddedToGroup,
                    user: Some(user.to_owned()),
                    group,
                    success: Some(true),
                    ..Default::default()
                };
            }
            Meaning::default()
        }
        "passwd" | "chpasswd" => match msg.split_once("password changed for ") {
            Some((_, rest)) => Meaning {
                kind: Kind::PasswordChanged,
                user: first_word(rest),
                success: Some(true),
                ..Default::default()
            },
            None => Meaning::default(),
        },
        "login" => {
            if let Some(rest) = msg.strip_prefix("FAILED LOGIN ") {
                return Meaning {
                    kind: Kind::Logon,
                    user: field(rest, "FOR ").map(trim_comma),
                    success: Some(false),
                    ..Default::default()
                };
            }
            if let Some(rest) = msg.strip_prefix("ROOT LOGIN ") {
                let _ = rest;
                return Meaning {
                    kind: Kind::Logon,
                    user: Some("root".into()),
                    success: Some(true),
                    ..Default::default()
                };
            }
            Meaning::default()
        }
        _ => {
            // "user nobody logged out." (pam, gdm, …)
            if let Some(rest) = msg.strip_prefix("user ")
                && let Some((user, tail)) = rest.split_once(' ')
                && tail.starts_with("logged out")
            {
                return Meaning {
                    kind: Kind::Logoff,
                    user: Some(user.to_owned()),
                    success: Some(true),
                    ..Default::default()
                };
            }
            Meaning::default()
        }
    }
}

fn sshd(msg: &str) -> Meaning {
    // Accepted|Failed <method> for [invalid user ]<user> from <ip> port <port> [ssh2[: …]]
    for (prefix, ok) in [("Accepted ", true), ("Failed ", false)] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((method, rest)) = rest.split_once(" for ")
        {
            let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
            let (user, rest) = rest.rsplit_once(" from ").unwrap_or((rest, ""));
            let (ip, port) = ip_port(rest);
            return Meaning {
                kind: Kind::Logon,
                user: Some(user.to_owned()),
                src_ip: ip,
                src_port: port,
                success: Some(ok),
                method: Some(method.to_owned()),
                ..Default::default()
            };
        }
    }
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        let (user, rest) = rest.rsplit_once(" from ").unwrap_or((rest, ""));
        let (ip, port) = ip_port(rest);
        return Meaning {
            kind: Kind::Logon,
            user: Some(user.to_owned()),
            src_ip: ip,
            src_port: port,
            success: Some(false),
            ..Default::default()
        };
    }
    if let Some(rest) = msg.strip_prefix("Disconnected from user ") {
        let (user, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let (ip, port) = ip_port(rest);
        return Meaning {
            kind: Kind::Logoff,
            user: Some(user.to_owned()),
            src_ip: ip,
            src_port: port,
            success: Some(true),
            ..Default::default()
        };
    }
    Meaning::default()
}

fn sudo(msg: &str) -> Meaning {
    // "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls"
    // "alice : 3 incorrect password attempts ; TTY=… ; USER=root ; COMMAND=…"
    let Some((by, rest)) = msg.split_once(" : ") else {
        return Meaning::default();
    };
    if by.contains(' ') {
        return Meaning::default();
    }
    let target = rest
        .split(" ; ")
        .find_map(|p| p.strip_prefix("USER="))
        .map(str::to_owned);
    let failed = rest.contains("incorrect password")
        || rest.contains("NOT in sudoers")
        || rest.contains("command not allowed");
    Meaning {
        kind: Kind::AccountSwitch,
        user: target.or(Some("root".to_owned())),
        by: Some(by.to_owned()),
        success: Some(!failed),
        method: Some("sudo".into()),
        ..Default::default()
    }
}

fn su(msg: &str) -> Meaning {
    // "Successful su for root by alice", "FAILED su for root by alice", "(to root) alice on pts/0"
    for (prefix, ok) in [("Successful su for ", true), ("FAILED su for ", false)] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (user, by) = rest.split_once(" by ").unwrap_or((rest, ""));
            return Meaning {
                kind: Kind::AccountSwitch,
                user: Some(user.to_owned()),
                by: (!by.is_empty()).then(|| by.to_owned()),
                success: Some(ok),
                method: Some("su".into()),
                ..Default::default()
            };
        }
    }
    if let Some(rest) = msg.strip_prefix("(to ")
        && let Some((user, rest)) = rest.split_once(") ")
    {
        return Meaning {
            kind: Kind::AccountSwitch,
            user: Some(user.to_owned()),
            by: first_word(rest),
            success: Some(true),
            method: Some("su".into()),
            ..Default::default()
        };
    }
    Meaning::default()
}

fn user_by(text: &str) -> (Option<String>, Option<String>) {
    // "root by alice(uid=1000)" | "bob(uid=1001) by (uid=0)" | "root"
    let (user, by) = text.split_once(" by ").unwrap_or((text, ""));
    let strip = |s: &str| s.split('(').next().unwrap_or(s).trim().to_owned();
    let user = strip(user);
    let by = strip(by);
    (
        (!user.is_empty()).then_some(user),
        (!by.is_empty()).then_some(by),
    )
}

fn ip_port(text: &str) -> (Option<String>, Option<i32>) {
    let mut words = text.split(' ');
    let ip = words.next().filter(|w| !w.is_empty()).map(str::to_owned);
    let port = match (words.next(), words.next()) {
        (Some("port"), Some(p)) => p.parse().ok(),
        _ => None,
    };
    (ip, port)
}

fn field(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let value = text[start..].split([' ', ';']).next().unwrap_or_default();
    (!value.is_empty()).then(|| value.to_owned())
}

fn first_word(text: &str) -> Option<String> {
    text.split_whitespace()
        .next()
        .map(|w| w.trim_end_matches(['.', ',']).to_owned())
}

fn trim_comma(s: String) -> String {
    s.trim_end_matches(',').to_owned()
}

fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for c in text.trim().chars() {
        if c == ' ' {
            if !last_space {
                out.push(c);
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshd_logons_and_failures() {
        let m = interpret(
            Some("sshd"),
            " Accepted publickey for fred from 192.0.2.60 port 60594 ssh2: RSA e8:31",
        );
        assert_eq!(
            (
                m.kind,
                m.user.as_deref(),
                m.src_ip.as_deref(),
                m.src_port,
                m.success
            ),
            (
                Kind::Logon,
                Some("fred"),
                Some("192.0.2.60"),
                Some(60594),
                Some(true)
            )
        );
        assert_eq!(m.method.as_deref(), Some("publickey"));
        let m = interpret(
            Some("sshd"),
            "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2",
        );
        assert_eq!((m.user.as_deref(), m.success), (Some("admin"), Some(false)));
        assert_eq!(
            interpret(Some("sshd"), "Server listening on 0.0.0.0 port 22.").kind,
            Kind::Other
        );
    }

    #[test]
    fn sudo_su_pam_and_account_tools() {
        let m = interpret(
            Some("sudo"),
            "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
        );
        assert_eq!(
            (m.kind, m.user.as_deref(), m.by.as_deref()),
            (Kind::AccountSwitch, Some("root"), Some("alice"))
        );
        let m = interpret(
            Some("sudo"),
            "pam_unix(sudo-i:session): session opened for user root by userauth3(uid=0)",
        );
        assert_eq!(
            (m.kind, m.user.as_deref(), m.by.as_deref()),
            (Kind::AccountSwitch, Some("root"), Some("userauth3"))
        );
        let m = interpret(Some("su"), "FAILED su for root by mallory");
        assert_eq!((m.kind, m.success), (Kind::AccountSwitch, Some(false)));
        let m = interpret(
            Some("useradd"),
            "new user: name=bob, UID=1001, GID=1001, home=/home/bob",
        );
        assert_eq!(
            (m.kind, m.user.as_deref()),
            (Kind::UserCreated, Some("bob"))
        );
        let m = interpret(Some("usermod"), "add 'bob' to group 'sudo'");
        assert_eq!(
            (m.kind, m.group.as_deref()),
            (Kind::UserAddedToGroup, Some("sudo"))
        );
        let m = interpret(Some("pam"), "user nobody logged out.");
        assert_eq!((m.kind, m.user.as_deref()), (Kind::Logoff, Some("nobody")));
    }
}
