//! A small typed client of Twilio's Messages API (`POST /2010-04-01/Accounts/{AccountSid}/
//! Messages.json`, form-encoded, basic auth). The `twilio` crate hard-codes Twilio's host; this one
//! takes a base URL, so tests and staging can point it at a local server.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone)]
pub struct TwilioConfig {
    pub base_url: String,
    pub account_sid: String,
    /// A secret: never logged.
    pub auth_token: String,
    /// The sender: a phone number (`From`) or, when it starts with `MG`, a messaging service SID.
    pub sender: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .field("sender", &self.sender)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// Twilio refused the message for good (invalid number, bad request): do not retry.
    #[error("Twilio refused the message ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// Twilio answered 429 or 5xx: nothing was sent; retry later.
    #[error("Twilio unavailable: {0}")]
    Unavailable(String),
    /// No answer (connection failed, timed out): the message may or may not have gone out.
    #[error("no answer from Twilio: {0}")]
    Unanswered(String),
}

#[derive(Deserialize)]
struct Message {
    sid: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct MessageList {
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct TwilioError {
    message: String,
}

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    config: TwilioConfig,
}

impl TwilioClient {
    pub fn new(config: TwilioConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(Self { http, config })
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_sid
        )
    }

    /// Sends `body` to `to` and returns the message SID.
    pub async fn send(&self, to: &str, body: &str) -> Result<String, SmsError> {
        let sender_field = if self.config.sender.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let form = [
            ("To", to),
            (sender_field, self.config.sender.as_str()),
            ("Body", body),
        ];
        let response = self
            .http
            .post(self.messages_url())
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| SmsError::Unanswered(e.to_string()))?;
        let message: Message = read(response).await?;
        Ok(message.sid)
    }

    /// The SID of a message with exactly this body already sent to `to`, if Twilio lists one: how
    /// a retry after an unanswered attempt avoids sending twice.
    pub async fn find_sent(&self, to: &str, body: &str) -> Result<Option<String>, SmsError> {
        let response = self
            .http
            .get(self.messages_url())
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .query(&[("To", to), ("PageSize", "50")])
            .send()
            .await
            .map_err(|e| SmsError::Unavailable(e.to_string()))?;
        let list: MessageList = read(response).await?;
        Ok(list
            .messages
            .into_iter()
            .find(|m| m.body.as_deref() == Some(body))
            .map(|m| m.sid))
    }
}

async fn read<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, SmsError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SmsError::Unanswered(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_str(&text)
            .map_err(|e| SmsError::Unavailable(format!("unreadable answer from Twilio: {e}")));
    }
    let message = serde_json::from_str::<TwilioError>(&text)
        .map(|e| e.message)
        .unwrap_or_else(|_| text.chars().take(300).collect());
    if status.as_u16() == 429 || status.is_server_error() {
        Err(SmsError::Unavailable(format!("{status}: {message}")))
    } else {
        Err(SmsError::Rejected {
            status: status.as_u16(),
            message,
        })
    }
}
