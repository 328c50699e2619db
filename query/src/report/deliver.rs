//! Delivering a bundle: e-mail over SMTP (STARTTLS or implicit TLS, with
//! authentication; summary in the body, the PDF, the manifest and its
//! signature attached) and a webhook (a JSON summary, POSTed). The bundle
//! itself is already in its directory or object store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bundle::{MANIFEST, Manifest, SIGNATURE};
use crate::QueryError;
use crate::store::ArchiveStore;

/// `[reports.<name>.email]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server, `host:port` (587 for STARTTLS, 465 for TLS).
    pub smtp: String,
    /// `starttls` (default: the connection must upgrade), `tls` (implicit
    /// TLS from the first byte) or `none` (plaintext: local relays only,
    /// and never with a password).
    #[serde(default = "starttls")]
    pub security: String,
    /// The SMTP user (AUTH PLAIN/LOGIN); use `${NAME}` for secrets.
    #[serde(default)]
    pub username: Option<String>,
    /// The SMTP password.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// Attach report.pdf, manifest.json and manifest.sig (default true);
    /// otherwise the body names where the bundle is.
    #[serde(default = "yes")]
    pub attach: bool,
    /// A PEM file of CA certificates to trust besides the system's (a
    /// private mail relay).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server (default 30).
    #[serde(default = "thirty")]
    pub timeout_secs: u64,
}

fn starttls() -> String {
    "starttls".into()
}

fn yes() -> bool {
    true
}

fn thirty() -> u64 {
    30
}

impl EmailConfig {
    /// Problems with the table at `key`.
    pub fn check(&self, key: &str) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !matches!(self.security.as_str(), "starttls" | "tls" | "none") {
            problems.push((
                format!("{key}.security"),
                format!(
                    "expected \"starttls\", \"tls\" or \"none\", found \"{}\"",
                    self.security
                ),
            ));
        }
        if self.security == "none" && self.password.is_some() {
            problems.push((
                format!("{key}.password"),
                "a password is never sent in plaintext: use security = \"starttls\" or \"tls\""
                    .into(),
            ));
        }
        if split_host_port(&self.smtp).is_none() {
            problems.push((
                format!("{key}.smtp"),
                format!("expected host:port, found \"{}\"", self.smtp),
            ));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            problems.push((
                format!("{key}.from"),
                format!("not an e-mail address: \"{}\"", self.from),
            ));
        }
        if self.to.is_empty() {
            problems.push((format!("{key}.to"), "at least one recipient".into()));
        }
        for to in &self.to {
            if to.parse::<lettre::message::Mailbox>().is_err() {
                problems.push((
                    format!("{key}.to"),
                    format!("not an e-mail address: \"{to}\""),
                ));
            }
        }
        if self.username.is_some() != self.password.is_some() {
            problems.push((
                format!("{key}.username"),
                "username and password go together".into(),
            ));
        }
        problems
    }
}

/// `[reports.<name>.webhook]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL the JSON summary is POSTed to.
    pub url: String,
    /// Extra headers (e.g. `Authorization = "Bearer ${TOKEN}"`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the answer (default 30).
    #[serde(default = "thirty")]
    pub timeout_secs: u64,
}

fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.trim_matches(['[', ']']).to_owned(), port))
}

/// The summary every delivery carries: title, period, verdicts, where the bundle is.
pub fn summary_json(name: &str, location: &str, manifest: &Manifest) -> serde_json::Value {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in &manifest.controls {
        *counts.entry(c.status.to_string()).or_default() += 1;
    }
    serde_json::json!({
        "report": name,
        "title": manifest.pack.header.title,
        "pack": manifest.pack.header.name,
        "pack_version": manifest.pack.header.version,
        "from": manifest.from,
        "to": manifest.to,
        "bundle": location,
        "controls": counts,
        "flags": manifest.flags,
        "failed": manifest.controls.iter().filter(|c| c.status == super::pack::Status::Fail)
            .map(|c| serde_json::json!({"id": c.id, "title": c.title, "reason": c.reason}))
            .collect::<Vec<_>>(),
        "verify": format!("auditfed report verify {location} --keys KEYRING --rerun"),
    })
}

fn summary_text(name: &str, location: &str, manifest: &Manifest) -> String {
    let mut text = format!(
        "{}\nReport {name}: {} {}, period {} to {} (end excluded)\n\n",
        manifest.pack.header.title,
        manifest.pack.header.name,
        manifest.pack.header.version,
        manifest.from,
        manifest.to
    );
    if manifest.flags.is_empty() {
        text.push_str("Evidence: verified, every source reported.\n\n");
    } else {
        text.push_str("ATTENTION: the evidence for this period is not whole:\n");
        for f in &manifest.flags {
            text.push_str(&format!("  - {f}\n"));
        }
        text.push('\n');
    }
    for c in &manifest.controls {
        text.push_str(&format!(
            "  {:<8} {} {}\n           {}\n",
            c.status.as_str().to_uppercase(),
            c.id,
            c.title,
            c.reason
        ));
    }
    text.push_str(&format!(
        "\nThe bundle: {location}\nVerify it: auditfed report verify {location} --keys KEYRING [--rerun]\n"
    ));
    text
}

/// Sends the e-mail of a produced bundle.
pub fn send_email(
    config: &EmailConfig,
    name: &str,
    location: &str,
    bundle: &dyn ArchiveStore,
    manifest: &Manifest,
) -> Result<(), QueryError> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, MultiPart, SinglePart};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport};

    let fail = |what: &str, e: &dyn std::fmt::Display| {
        QueryError::Report(format!("e-mail to {}: {what}: {e}", config.smtp))
    };
    let (host, port) = split_host_port(&config.smtp).ok_or_else(|| {
        QueryError::Report(format!("e-mail: smtp \"{}\" is not host:port", config.smtp))
    })?;
    let mut builder = Message::builder()
        .from(config.from.parse().map_err(|e| fail("from", &e))?)
        .subject(format!(
            "[auditfed] {} {} to {}{}",
            manifest.pack.header.title,
            &manifest.from[..10],
            &manifest.to[..10],
            if manifest.flags.is_empty() {
                ""
            } else {
                " — ATTENTION"
            }
        ));
    for to in &config.to {
        builder = builder.to(to.parse().map_err(|e| fail("to", &e))?);
    }
    let mut body =
        MultiPart::mixed().singlepart(SinglePart::plain(summary_text(name, location, manifest)));
    if config.attach {
        for (file, kind) in [
            ("report.pdf", "application/pdf"),
            (MANIFEST, "application/json"),
            (SIGNATURE, "text/plain; charset=utf-8"),
            ("findings.json", "application/json"),
        ] {
            let bytes = bundle.read(file)?;
            body = body.singlepart(Attachment::new(file.to_owned()).body(
                bytes.to_vec(),
                ContentType::parse(kind).map_err(|e| fail("content type", &e))?,
            ));
        }
    }
    let message = builder.multipart(body).map_err(|e| fail("message", &e))?;
    let tls = || -> Result<TlsParameters, QueryError> {
        let mut params = TlsParameters::builder(host.clone());
        if let Some(ca) = &config.ca_file {
            let pem =
                std::fs::read(ca).map_err(|e| fail(&format!("ca_file {}", ca.display()), &e))?;
            params = params.add_root_certificate(
                Certificate::from_pem(&pem).map_err(|e| fail("ca_file", &e))?,
            );
        }
        params.build_rustls().map_err(|e| fail("TLS", &e))
    };
    let mut transport = SmtpTransport::builder_dangerous(host.as_str())
        .port(port)
        .timeout(Some(Duration::from_secs(config.timeout_secs)))
        .tls(match config.security.as_str() {
            "tls" => Tls::Wrapper(tls()?),
            "none" => Tls::None,
            _ => Tls::Required(tls()?),
        });
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    transport
        .build()
        .send(&message)
        .map_err(|e| fail("send", &e))?;
    Ok(())
}

/// POSTs the JSON summary of a produced bundle; any status but 2xx fails.
pub fn post_webhook(
    config: &WebhookConfig,
    name: &str,
    location: &str,
    manifest: &Manifest,
) -> Result<(), QueryError> {
    let body = summary_json(name, location, manifest);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| QueryError::Report(e.to_string()))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .map_err(|e| QueryError::Report(format!("webhook {}: {e}", config.url)))?;
        let mut request = client
            .post(&config.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in &config.headers {
            request = request.header(k, v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| QueryError::Report(format!("webhook {}: {e}", config.url)))?;
        if !response.status().is_success() {
            return Err(QueryError::Report(format!(
                "webhook {}: answered {}",
                config.url,
                response.status()
            )));
        }
        Ok(())
    })
}
