//! Email: one interface, three transports chosen by configuration: SendGrid's HTTP API
//! when `SENDGRID_API_KEY` is set, SMTP when `SMTP_URL` is set, otherwise a development
//! outbox that writes each message as an `.eml` file. Only the worker sends.

pub mod templates;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::config::Settings;

/// A message to one recipient, with plain-text and HTML parts.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The template's name, for logs (which never carry the address).
    pub template: &'static str,
    /// A one-click unsubscribe address: sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    pub unsubscribe: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Try again later: a timeout, a 5xx, a 429.
    #[error("{0}")]
    Transient(String),
    /// Will not succeed: a 4xx, an invalid address.
    #[error("{0}")]
    Permanent(String),
}

pub enum Mailer {
    SendGrid {
        client: reqwest::Client,
        base_url: String,
        api_key: SecretString,
        from: Mailbox,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .with_context(|| format!("mail.from is not an address: {}", settings.mail.from))?;
        if let Some(key) = settings.sendgrid_api_key.clone() {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()?;
            return Ok(Self::SendGrid {
                client,
                base_url: settings
                    .mail
                    .sendgrid_base_url
                    .trim_end_matches('/')
                    .to_owned(),
                api_key: key,
                from,
            });
        }
        if let Some(url) = &settings.smtp_url {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|_| anyhow::anyhow!("SMTP_URL is not a valid SMTP URL"))?
                .timeout(Some(Duration::from_secs(15)))
                .build();
            return Ok(Self::Smtp { transport, from });
        }
        Ok(Self::Outbox {
            dir: settings.mail.outbox_dir.clone(),
            from,
        })
    }

    pub fn transport_name(&self) -> &'static str {
        match self {
            Self::SendGrid { .. } => "sendgrid",
            Self::Smtp { .. } => "smtp",
            Self::Outbox { .. } => "outbox",
        }
    }

    fn message(from: &Mailbox, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| MailError::Permanent("the recipient address is not valid".to_owned()))?;
        let mut builder = Message::builder().from(from.clone()).to(to);
        if let Some(url) = &email.unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
    }

    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        match self {
            Self::SendGrid {
                client,
                base_url,
                api_key,
                from,
            } => {
                let mut body = json!({
                    "personalizations": [{ "to": [{ "email": email.to }] }],
                    "from": { "email": from.email.to_string(), "name": from.name.clone().unwrap_or_default() },
                    "subject": email.subject,
                    "content": [
                        { "type": "text/plain", "value": email.text },
                        { "type": "text/html", "value": email.html },
                    ],
                });
                if let Some(url) = &email.unsubscribe {
                    body["headers"] = json!({
                        "List-Unsubscribe": format!("<{url}>"),
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    });
                }
                let response = client
                    .post(format!("{base_url}/v3/mail/send"))
                    .bearer_auth(api_key.expose_secret())
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| {
                        MailError::Transient(format!("SendGrid unreachable: {}", without_url(&e)))
                    })?;
                let status = response.status();
                if status.is_success() {
                    tracing::info!(template = email.template, "email sent through SendGrid");
                    return Ok(());
                }
                let detail: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                let message = format!("SendGrid answered {status}: {detail}");
                if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    Err(MailError::Transient(message))
                } else {
                    Err(MailError::Permanent(message))
                }
            }
            Self::Smtp { transport, from } => {
                let message = Self::message(from, email)?;
                match transport.send(message).await {
                    Ok(_) => {
                        tracing::info!(template = email.template, "email sent over SMTP");
                        Ok(())
                    }
                    Err(e) if e.is_permanent() => {
                        Err(MailError::Permanent(format!("SMTP refused: {e}")))
                    }
                    Err(e) => Err(MailError::Transient(format!("SMTP failed: {e}"))),
                }
            }
            Self::Outbox { dir, from } => {
                let message = Self::message(from, email)?;
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Transient(format!("cannot create the outbox: {e}")))?;
                let path = dir.join(format!(
                    "{}-{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
                    email.template,
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| {
                        MailError::Transient(format!("cannot write to the outbox: {e}"))
                    })?;
                tracing::info!(template = email.template, path = %path.display(), "email written to the outbox");
                Ok(())
            }
        }
    }
}

/// reqwest's errors name the URL; ours carries no secret, but keep messages short.
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}
