//! The `syslog` collector: RFC 5424 and RFC 3164 over UDP and TCP
//! (octet counting and newline framing), into `<prefix>.raw.syslog`.

pub mod collector;
pub mod config;
