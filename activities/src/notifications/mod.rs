//! Notifications: the log of every SMS and email a status change owes the customer (and the shop),
//! and their sending, each exactly once per (order, status, audience, channel).
//!
//! A status change renders and logs its messages (keyed rows: a retry adds nothing) in the same
//! transaction as the read model's update ([`record_in`]); the rows are an outbox that the worker's
//! [`outbox::Dispatcher`] drains, retrying each row with backoff until it is sent, refused for good,
//! or given up. (Orders placed before the outbox logged them with `record_notifications` and sent
//! them from a notification workflow's `send_sms` / `send_email`; those still run.) A send first
//! reads the row: a message already sent, refused for good or skipped is not sent again.
//! Before calling the provider the row is marked `sending`; a retry that finds it so asks Twilio
//! whether the message went out before sending again (for email, the derived `Message-ID` makes a
//! resend recognisable as the same mail).

pub mod email;
pub mod outbox;
pub mod templates;
pub mod twilio;

use std::sync::Arc;

use courier_workflows::contracts::{
    DeliveryOutcome, NOTIFICATION_REJECTED, NotificationBatch, NotificationKey, NotificationPolicy,
    NotificationRequest, PendingNotifications, RecordNotifications, SendEmail, SendSms,
};
use courier_workflows::order::OrderStatus;
use sqlx::{PgConnection, PgPool};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::failure::{non_retryable, retryable};
use email::{Email, EmailError, EmailSender};
use templates::{Audience, Facts, render, shop_is_told};
use twilio::{SmsError, TwilioClient};

/// What the notification activities need besides the database.
#[derive(Clone, Default)]
pub struct NotificationChannels {
    /// `None` when no Twilio credentials are configured: SMS are logged as skipped.
    pub sms: Option<TwilioClient>,
    /// `None` when no SMTP server is configured: emails are logged as skipped.
    pub email: Option<EmailSender>,
    /// Where customers follow their orders: links are `{public_url}/orders/{id}`.
    pub public_url: String,
    /// The language of customers who chose none, and of shops.
    pub default_language: String,
}

pub struct NotificationActivities {
    pub db: PgPool,
    pub channels: NotificationChannels,
}

pub const NO_TWILIO: &str =
    "SMS not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM to send it";
pub const NO_SMTP: &str = "email not configured: set SMTP_HOST (and SMTP_FROM) to send it";

struct Row {
    recipient: String,
    subject: Option<String>,
    body: String,
    html: Option<String>,
    state: String,
    provider_id: Option<String>,
}

impl NotificationActivities {
    async fn row(&self, key: &NotificationKey) -> Result<Row, sqlx::Error> {
        let (recipient, subject, body, html, state, provider_id) = sqlx::query_as(
            "SELECT recipient, subject, body, html, state, provider_id FROM notifications.messages \
             WHERE order_id = $1 AND status = $2 AND audience = $3 AND channel = $4",
        )
        .bind(key.order_id.uuid())
        .bind(key.status.as_str())
        .bind(&key.audience)
        .bind(&key.channel)
        .fetch_one(&self.db)
        .await?;
        Ok(Row {
            recipient,
            subject,
            body,
            html,
            state,
            provider_id,
        })
    }

    /// Moves the row to `state`, recording the provider's id or the error; `attempt` counts one
    /// more try at the provider.
    async fn mark(
        &self,
        key: &NotificationKey,
        state: &str,
        attempt: bool,
        provider_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications.messages SET state = $5, \
               attempts = attempts + CASE WHEN $6 THEN 1 ELSE 0 END, \
               provider_id = COALESCE($7, provider_id), last_error = $8, \
               sent_at = CASE WHEN $5 = 'sent' THEN now() ELSE sent_at END \
             WHERE order_id = $1 AND status = $2 AND audience = $3 AND channel = $4",
        )
        .bind(key.order_id.uuid())
        .bind(key.status.as_str())
        .bind(&key.audience)
        .bind(&key.channel)
        .bind(state)
        .bind(attempt)
        .bind(provider_id)
        .bind(error)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// The row to send, or the outcome it already has: sent, failed for good, or skipped (now,
    /// with `why_skipped`, when its channel is not configured).
    async fn settled(
        &self,
        key: &NotificationKey,
        configured: bool,
        why_skipped: &str,
    ) -> Result<Result<Row, DeliveryOutcome>, sqlx::Error> {
        let row = self.row(key).await?;
        if matches!(row.state.as_str(), "sent" | "failed" | "skipped") {
            return Ok(Err(Self::outcome(&row.state, row.provider_id)));
        }
        if !configured {
            self.mark(key, "skipped", false, None, Some(why_skipped))
                .await?;
            return Ok(Err(Self::outcome("skipped", None)));
        }
        Ok(Ok(row))
    }

    fn outcome(state: &str, provider_id: Option<String>) -> DeliveryOutcome {
        DeliveryOutcome {
            state: state.to_owned(),
            provider_id,
        }
    }
}

/// Logs the SMS and email a status change owes the customer (and, for new and withdrawn orders,
/// the shop), on `conn` (the caller's transaction). With `delivery`, the rows join the outbox: due
/// at once, retried as it says. A row already logged is left as it is.
pub async fn record_in(
    conn: &mut PgConnection,
    channels: &NotificationChannels,
    n: &NotificationRequest,
    delivery: Option<&NotificationPolicy>,
) -> Result<(), sqlx::Error> {
    // Undoing an order that cannot go ahead is announced by its outcome (declined, out of stock,
    // rejected), one message rather than two.
    if n.status == OrderStatus::Compensating {
        return Ok(());
    }
    let language = n
        .language
        .clone()
        .unwrap_or_else(|| channels.default_language.clone());
    let customer = (n.phone.as_str(), n.email.as_str());
    insert(
        conn,
        channels,
        n,
        delivery,
        Audience::Customer,
        &language,
        customer,
    )
    .await?;
    if let Some(shop_id) = &n.shop_id
        && shop_is_told(n.status, n.reason.as_deref())
    {
        let shop: Option<(String, String)> =
            sqlx::query_as("SELECT phone, email FROM catalog.shops WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((phone, email)) = shop {
            let language = channels.default_language.clone();
            insert(
                conn,
                channels,
                n,
                delivery,
                Audience::Shop,
                &language,
                (&phone, &email),
            )
            .await?;
        }
    }
    if delivery.is_some() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(outbox::CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert(
    conn: &mut PgConnection,
    channels: &NotificationChannels,
    n: &NotificationRequest,
    delivery: Option<&NotificationPolicy>,
    audience: Audience,
    language: &str,
    recipients: (&str, &str),
) -> Result<(), sqlx::Error> {
    let order_id = n.order_id.to_string();
    let link = format!(
        "{}/orders/{order_id}",
        channels.public_url.trim_end_matches('/')
    );
    let facts = Facts {
        status: n.status,
        order_id: &order_id,
        shop_name: &n.shop_name,
        reason: n.reason.as_deref(),
        total_minor: n.total_minor,
        link: &link,
    };
    let message = render(&facts, language, audience);
    let (phone, email) = recipients;
    let retry_initial_ms = delivery.map(|d| clamp_ms(d.initial_retry_interval_ms));
    let retry_max_ms = delivery.map(|d| clamp_ms(d.max_retry_interval_secs.saturating_mul(1000)));
    let give_up_secs = delivery.map(|d| d.give_up_after_secs.min(i64::MAX as u64) as i64);
    for (channel, recipient, subject, body, html) in [
        ("sms", phone, None, &message.sms, None),
        (
            "email",
            email,
            Some(&message.subject),
            &message.text,
            Some(&message.html),
        ),
    ] {
        sqlx::query(
            "INSERT INTO notifications.messages \
               (order_id, status, audience, channel, recipient, language, subject, body, html, \
                next_attempt_at, retry_initial_ms, retry_max_ms, give_up_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                CASE WHEN $10 THEN now() END, $11, $12, now() + make_interval(secs => $13)) \
             ON CONFLICT (order_id, status, audience, channel) DO NOTHING",
        )
        .bind(n.order_id.uuid())
        .bind(n.status.as_str())
        .bind(audience.as_str())
        .bind(channel)
        .bind(recipient)
        .bind(language)
        .bind(subject)
        .bind(body)
        .bind(html)
        .bind(delivery.is_some())
        .bind(retry_initial_ms)
        .bind(retry_max_ms)
        .bind(give_up_secs.map(|s| s as f64))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn clamp_ms(ms: u64) -> i64 {
    ms.min(i64::MAX as u64) as i64
}

/// Why a send did not end the row: worth another try later, or final (the row says why).
#[derive(Debug)]
pub enum SendFailure {
    Retry { kind: &'static str, message: String },
    Final(String),
}

impl From<sqlx::Error> for SendFailure {
    fn from(err: sqlx::Error) -> Self {
        Self::Retry {
            kind: "NotificationLogUnavailable",
            message: err.to_string(),
        }
    }
}

impl From<SendFailure> for ActivityError {
    fn from(failure: SendFailure) -> Self {
        match failure {
            SendFailure::Retry { kind, message } => retryable(kind, message),
            SendFailure::Final(message) => non_retryable(NOTIFICATION_REJECTED, message),
        }
    }
}

impl NotificationActivities {
    /// Sends one logged message by its channel, once: the one place both the outbox and the
    /// notification workflow's activities send through.
    pub async fn send(&self, key: &NotificationKey) -> Result<DeliveryOutcome, SendFailure> {
        if key.channel == "sms" {
            self.send_sms_row(key).await
        } else {
            self.send_email_row(key).await
        }
    }

    async fn send_sms_row(&self, key: &NotificationKey) -> Result<DeliveryOutcome, SendFailure> {
        let row = match self
            .settled(key, self.channels.sms.is_some(), NO_TWILIO)
            .await?
        {
            Ok(row) => row,
            Err(outcome) => return Ok(outcome),
        };
        let twilio = self.channels.sms.as_ref().expect("checked by settled");
        if row.state == "sending"
            && let Ok(Some(sid)) = twilio.find_sent(&row.recipient, &row.body).await
        {
            self.mark(key, "sent", false, Some(&sid), None).await?;
            return Ok(Self::outcome("sent", Some(sid)));
        }
        self.mark(key, "sending", true, None, None).await?;
        match twilio.send(&row.recipient, &row.body).await {
            Ok(sid) => {
                self.mark(key, "sent", false, Some(&sid), None).await?;
                tracing::info!(order_id = %key.order_id, status = %key.status, sid, "SMS sent");
                Ok(Self::outcome("sent", Some(sid)))
            }
            Err(err @ SmsError::Rejected { .. }) => {
                self.mark(key, "failed", false, None, Some(&err.to_string()))
                    .await?;
                Err(SendFailure::Final(err.to_string()))
            }
            Err(err) => {
                // Twilio answered 429/5xx: nothing was sent. No answer at all: the row stays
                // `sending`, so the next attempt asks Twilio before sending again.
                let state = match err {
                    SmsError::Unanswered(_) => "sending",
                    _ => "pending",
                };
                self.mark(key, state, false, None, Some(&err.to_string()))
                    .await?;
                Err(SendFailure::Retry {
                    kind: "SmsUnavailable",
                    message: err.to_string(),
                })
            }
        }
    }

    async fn send_email_row(&self, key: &NotificationKey) -> Result<DeliveryOutcome, SendFailure> {
        let row = match self
            .settled(key, self.channels.email.is_some(), NO_SMTP)
            .await?
        {
            Ok(row) => row,
            Err(outcome) => return Ok(outcome),
        };
        let sender = self.channels.email.as_ref().expect("checked by settled");
        let message_id = format!(
            "order-{}.{}.{}@{}",
            key.order_id,
            key.status.as_str().to_lowercase(),
            key.audience,
            sender.domain()
        );
        self.mark(key, "sending", true, None, None).await?;
        let email = Email {
            to: &row.recipient,
            subject: row.subject.as_deref().unwrap_or("[Courier]"),
            text: &row.body,
            html: row.html.as_deref().unwrap_or(""),
            message_id: message_id.clone(),
        };
        match sender.send(email).await {
            Ok(()) => {
                self.mark(key, "sent", false, Some(&message_id), None)
                    .await?;
                Ok(Self::outcome("sent", Some(message_id)))
            }
            Err(err @ EmailError::Rejected(_)) => {
                self.mark(key, "failed", false, None, Some(&err.to_string()))
                    .await?;
                Err(SendFailure::Final(err.to_string()))
            }
            Err(err @ EmailError::Unavailable(_)) => {
                self.mark(key, "pending", false, None, Some(&err.to_string()))
                    .await?;
                Err(SendFailure::Retry {
                    kind: "SmtpUnavailable",
                    message: err.to_string(),
                })
            }
        }
    }
}

#[activities]
impl NotificationActivities {
    #[activity(definition = RecordNotifications)]
    pub async fn record_notifications(
        self: Arc<Self>,
        _ctx: ActivityContext,
        n: NotificationRequest,
    ) -> Result<(), ActivityError> {
        let mut conn = self.db.acquire().await?;
        record_in(&mut conn, &self.channels, &n, None).await?;
        Ok(())
    }

    #[activity(definition = PendingNotifications)]
    pub async fn pending_notifications(
        self: Arc<Self>,
        _ctx: ActivityContext,
        batch: NotificationBatch,
    ) -> Result<Vec<NotificationKey>, ActivityError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT audience, channel FROM notifications.messages \
             WHERE order_id = $1 AND status = $2 AND state IN ('pending', 'sending') \
             ORDER BY audience, channel",
        )
        .bind(batch.order_id.uuid())
        .bind(batch.status.as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(audience, channel)| NotificationKey {
                order_id: batch.order_id,
                status: batch.status,
                audience,
                channel,
            })
            .collect())
    }

    #[activity(definition = SendSms)]
    pub async fn send_sms(
        self: Arc<Self>,
        _ctx: ActivityContext,
        key: NotificationKey,
    ) -> Result<DeliveryOutcome, ActivityError> {
        Ok(self.send_sms_row(&key).await?)
    }

    #[activity(definition = SendEmail)]
    pub async fn send_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        key: NotificationKey,
    ) -> Result<DeliveryOutcome, ActivityError> {
        Ok(self.send_email_row(&key).await?)
    }
}
