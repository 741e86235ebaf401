//! Email about finished jobs, over SMTP with lettre.

use lettre::address::AddressError;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailContent {
    pub subject: String,
    pub body: String,
}

/// Why the mailer could not be set up or a message not sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("smtp.url: {0}")]
    Url(#[source] lettre::transport::smtp::Error),
    #[error("smtp.from '{from}': {source}")]
    From {
        from: String,
        #[source]
        source: AddressError,
    },
    #[error("address '{to}': {source}")]
    Address {
        to: String,
        #[source]
        source: AddressError,
    },
    #[error("{0}")]
    Message(#[source] lettre::error::Error),
    /// The SMTP server refused or could not be reached.
    #[error("{0}")]
    Smtp(#[source] lettre::transport::smtp::Error),
}

impl EmailError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Url(_) | Self::From { .. } => "SMTP_SETTINGS_INVALID",
            Self::Address { .. } => "EMAIL_ADDRESS_INVALID",
            Self::Message(_) => "EMAIL_MESSAGE_INVALID",
            Self::Smtp(_) => "SMTP_SEND_FAILED",
        }
    }
}

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `url` as lettre reads it: `smtp://host:port`, `smtps://user:pass@host`, ...
    pub fn new(url: &str, from: &str) -> Result<Self, EmailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(EmailError::Url)?
            .build();
        let from = from.parse().map_err(|source| EmailError::From {
            from: from.to_owned(),
            source,
        })?;
        Ok(Self { transport, from })
    }

    pub async fn send(&self, to: &str, content: &EmailContent) -> Result<(), EmailError> {
        let to: Mailbox = to.parse().map_err(|source| EmailError::Address {
            to: to.to_owned(),
            source,
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&content.subject)
            .body(content.body.clone())
            .map_err(EmailError::Message)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(EmailError::Smtp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_and_addresses_are_checked_before_sending() {
        let refused = Mailer::new("smtp://127.0.0.1:2525", "not an address")
            .err()
            .unwrap();
        assert_eq!(refused.code(), "SMTP_SETTINGS_INVALID");
        assert!(
            refused
                .to_string()
                .starts_with("smtp.from 'not an address': "),
            "{refused}"
        );
        let mailer = Mailer::new("smtp://127.0.0.1:2525", "t@example.com").unwrap();
        let content = EmailContent {
            subject: "s".into(),
            body: "b".into(),
        };
        // The address is refused before any connection is tried.
        let refused = mailer.send("nobody", &content).await.unwrap_err();
        assert_eq!(refused.code(), "EMAIL_ADDRESS_INVALID");
        assert!(refused.to_string().starts_with("address 'nobody': "));
    }
}
