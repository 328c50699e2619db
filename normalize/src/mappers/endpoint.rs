//! Network endpoints from the free-form "caller address" fields sources use.

use std::net::IpAddr;

use auditfed_schemas::ocsf::NetworkEndpoint;

/// An endpoint from a caller-address field that may hold an IP address (with
/// or without a port), a DNS name (`ec2.amazonaws.com`) or a label
/// (`AWS Internal`).
///
/// Returns the endpoint and, when the value is not a valid IP address nor a
/// DNS name, `false`: the caller then keeps the original field in
/// `unmapped` so an auditor sees exactly what the source said.
pub(crate) fn from_address(value: &str) -> (NetworkEndpoint, bool) {
    let value = value.trim();
    if let Some(ip) = parse_ip(value) {
        return (
            NetworkEndpoint {
                ip: Some(ip.to_string()),
                ..Default::default()
            },
            true,
        );
    }
    if let Some((ip, port)) = parse_ip_port(value) {
        return (
            NetworkEndpoint {
                ip: Some(ip.to_string()),
                port: Some(port),
                ..Default::default()
            },
            true,
        );
    }
    if is_dns_name(value) {
        return (
            NetworkEndpoint {
                domain: Some(value.to_owned()),
                ..Default::default()
            },
            true,
        );
    }
    (
        NetworkEndpoint {
            name: Some(value.to_owned()),
            ..Default::default()
        },
        false,
    )
}

/// An IP address, or `None`. IPv6 zone ids and brackets are accepted.
pub(crate) fn parse_ip(value: &str) -> Option<IpAddr> {
    let v = value.trim_start_matches('[').trim_end_matches(']');
    let v = v.split('%').next().unwrap_or(v);
    v.parse().ok()
}

fn parse_ip_port(value: &str) -> Option<(IpAddr, i32)> {
    let (host, port) = value.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ip = parse_ip(host)?;
    // A bare IPv6 address also contains ':'; only bracketed or IPv4 forms have ports.
    (host.starts_with('[') || ip.is_ipv4()).then_some((ip, i32::from(port)))
}

fn is_dns_name(value: &str) -> bool {
    value.contains('.')
        && value.len() <= 253
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_land_in_the_right_attribute() {
        assert_eq!(
            from_address("203.0.113.9").0.ip.as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            from_address("2001:db8::1").0.ip.as_deref(),
            Some("2001:db8::1")
        );
        let (ep, ok) = from_address("10.1.2.3:4433");
        assert_eq!(
            (ep.ip.as_deref(), ep.port, ok),
            (Some("10.1.2.3"), Some(4433), true)
        );
        assert_eq!(
            from_address("ec2.amazonaws.com").0.domain.as_deref(),
            Some("ec2.amazonaws.com")
        );
        let (ep, ok) = from_address("AWS Internal");
        assert_eq!((ep.name.as_deref(), ok), (Some("AWS Internal"), false));
        // Anonymised addresses with leading zeros are not valid IPs.
        let (ep, ok) = from_address("06.237.252.245");
        assert_eq!((ep.ip, ok), (None, false));
    }
}
