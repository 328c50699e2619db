//! Field redactions on an OCSF event: drop, keyed-hash pseudonymize,
//! truncate. Paths are dotted (`actor.user.email_addr`); a missing field is
//! left alone.

use std::collections::BTreeMap;

use crate::hmac::hmac_sha256;

/// The redactions a decision asks for, gathered from every matching rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactions {
    /// Fields removed.
    pub drop: Vec<String>,
    /// Fields replaced by hex HMAC-SHA256 of their text under the key.
    pub hash: Vec<(String, String)>,
    /// Text fields cut to at most this many characters.
    pub truncate: BTreeMap<String, usize>,
}

impl Redactions {
    /// Whether nothing is to change.
    pub fn is_empty(&self) -> bool {
        self.drop.is_empty() && self.hash.is_empty() && self.truncate.is_empty()
    }

    /// Applies every redaction to `event`, in order: drop, hash, truncate.
    pub fn apply(&self, event: &mut serde_json::Value) {
        for path in &self.drop {
            remove(event, path);
        }
        for (path, key) in &self.hash {
            if let Some(v) = lookup_mut(event, path).filter(|v| !v.is_null()) {
                let text = match &*v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *v = serde_json::Value::String(hex::encode(hmac_sha256(
                    key.as_bytes(),
                    text.as_bytes(),
                )));
            }
        }
        for (path, max) in &self.truncate {
            if let Some(serde_json::Value::String(s)) = lookup_mut(event, path)
                && let Some((cut, _)) = s.char_indices().nth(*max)
            {
                s.truncate(cut);
            }
        }
    }
}

fn lookup_mut<'a>(v: &'a mut serde_json::Value, path: &str) -> Option<&'a mut serde_json::Value> {
    path.split('.').try_fold(v, |v, part| v.get_mut(part))
}

fn remove(v: &mut serde_json::Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (lookup_mut(v, parent), last),
        None => (Some(v), path),
    };
    if let Some(serde_json::Value::Object(map)) = parent {
        map.remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_hash_and_truncate() {
        let mut event = serde_json::json!({
            "raw_data": "secret", "actor": {"user": {"name": "alice", "email_addr": "a@x"}},
            "api": {"request": {"data": "ééééé"}}, "missing_parent": null
        });
        Redactions {
            drop: vec![
                "raw_data".into(),
                "actor.user.email_addr".into(),
                "no.such".into(),
            ],
            hash: vec![("actor.user.name".into(), "k".into())],
            truncate: BTreeMap::from([("api.request.data".into(), 2)]),
        }
        .apply(&mut event);
        assert!(event.get("raw_data").is_none());
        assert!(event["actor"]["user"].get("email_addr").is_none());
        assert_eq!(
            event["actor"]["user"]["name"],
            hex::encode(hmac_sha256(b"k", b"alice"))
        );
        assert_eq!(event["api"]["request"]["data"], "éé");
    }
}
