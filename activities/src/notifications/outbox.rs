//! The notification outbox: the worker sends every logged message that is due, once.
//!
//! A status change logs its messages in the same transaction as the read model's update and wakes
//! the dispatchers (`NOTIFY courier_outbox`). A dispatcher claims due rows with `FOR UPDATE SKIP
//! LOCKED` and a lease, so two workers never send the same row at once; it sends each through the
//! same code as the notification workflow's activities (which reads the row first and never sends
//! a message already sent, refused for good or skipped), then settles the row or schedules its next
//! try with capped exponential backoff, until the row's give-up time, when it is marked `failed`. A
//! worker that dies mid-send leaves its rows leased; once the lease passes another worker takes
//! them, and a row left `sending` asks Twilio whether the SMS went out before sending it again.

use std::sync::Arc;
use std::time::Duration;

use courier_workflows::contracts::NotificationKey;
use courier_workflows::domain::OrderId;
use courier_workflows::order::OrderStatus;
use futures::future::join_all;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::{NotificationActivities, SendFailure};

/// The channel status changes notify when they log messages.
pub const CHANNEL: &str = "courier_outbox";

/// How the dispatcher paces itself.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Rows claimed at a time (and sent concurrently).
    pub batch: i64,
    /// How long a claimed row is this dispatcher's; longer than any send can take.
    pub lease: Duration,
    /// How often it looks for due rows when nothing wakes it (retries, expired leases).
    pub idle_poll: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            batch: 32,
            lease: Duration::from_secs(120),
            idle_poll: Duration::from_millis(500),
        }
    }
}

pub struct Dispatcher {
    pub sender: Arc<NotificationActivities>,
    pub settings: OutboxSettings,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    order_id: uuid::Uuid,
    status: String,
    audience: String,
    channel: String,
}

impl Dispatcher {
    fn db(&self) -> &PgPool {
        &self.sender.db
    }

    /// Sends due messages until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = match PgListener::connect_with(self.db()).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => Some(l),
                        Err(err) => {
                            tracing::warn!(error = %err, "outbox: cannot listen; polling");
                            None
                        }
                    },
                    Err(err) => {
                        tracing::warn!(error = %err, "outbox: cannot listen; polling");
                        None
                    }
                };
            }
            // Drain what is due; a full batch means there may be more.
            loop {
                match self.dispatch_once().await {
                    Ok(n) if n as i64 >= self.settings.batch => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "outbox: claiming due messages failed");
                        break;
                    }
                }
            }
            let woken = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                r = woken => if let Err(err) = r {
                    tracing::warn!(error = %err, "outbox: listener lost; reconnecting");
                    listener = None;
                },
                () = tokio::time::sleep(self.settings.idle_poll) => {}
            }
        }
    }

    /// Claims one batch of due rows, sends them concurrently and settles each; answers how many
    /// were claimed.
    pub async fn dispatch_once(&self) -> Result<usize, sqlx::Error> {
        let claimed: Vec<Claimed> = sqlx::query_as(
            "WITH due AS ( \
               SELECT order_id, status, audience, channel FROM notifications.messages \
               WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()) \
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             UPDATE notifications.messages m \
             SET lease_until = now() + make_interval(secs => $2) FROM due \
             WHERE (m.order_id, m.status, m.audience, m.channel) = \
                   (due.order_id, due.status, due.audience, due.channel) \
             RETURNING m.order_id, m.status, m.audience, m.channel",
        )
        .bind(self.settings.batch)
        .bind(self.settings.lease.as_secs_f64())
        .fetch_all(self.db())
        .await?;
        let n = claimed.len();
        join_all(claimed.into_iter().map(|row| self.deliver(row))).await;
        Ok(n)
    }

    async fn deliver(&self, row: Claimed) {
        let Some(status) = OrderStatus::parse(&row.status) else {
            tracing::error!(status = %row.status, "outbox: a row with an unknown status");
            return;
        };
        let key = NotificationKey {
            order_id: OrderId::new(row.order_id),
            status,
            audience: row.audience,
            channel: row.channel,
        };
        let retry = match self.sender.send(&key).await {
            Ok(_) | Err(SendFailure::Final(_)) => false,
            Err(SendFailure::Retry { message, .. }) => {
                tracing::warn!(order_id = %key.order_id, status = %key.status, channel = %key.channel, error = %message, "notification not sent yet; will retry");
                true
            }
        };
        if let Err(err) = self.settle(&key, retry).await {
            // The lease runs out and another pass takes the row again: nothing is lost.
            tracing::warn!(order_id = %key.order_id, error = %err, "outbox: settling a row failed");
        }
    }

    /// Ends the row's time in the outbox, or schedules its next try: backoff doubles from the
    /// row's initial interval up to its maximum, and a try that would fall after the give-up time
    /// marks the row `failed` instead.
    async fn settle(&self, key: &NotificationKey, retry: bool) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications.messages SET lease_until = NULL, \
               next_attempt_at = CASE WHEN NOT $5 OR state NOT IN ('pending', 'sending') THEN NULL \
                 WHEN now() + backoff > give_up_at THEN NULL ELSE now() + backoff END, \
               state = CASE WHEN $5 AND state IN ('pending', 'sending') AND now() + backoff > give_up_at \
                 THEN 'failed' ELSE state END, \
               last_error = CASE WHEN $5 AND state IN ('pending', 'sending') AND now() + backoff > give_up_at \
                 THEN 'given up: ' || COALESCE(last_error, 'not sent') ELSE last_error END \
             FROM (SELECT make_interval(secs => LEAST(retry_max_ms::float8, \
                     retry_initial_ms::float8 * power(2, LEAST(GREATEST(attempts, 1) - 1, 30))) / 1000) AS backoff \
                   FROM notifications.messages \
                   WHERE order_id = $1 AND status = $2 AND audience = $3 AND channel = $4) b \
             WHERE order_id = $1 AND status = $2 AND audience = $3 AND channel = $4",
        )
        .bind(key.order_id.uuid())
        .bind(key.status.as_str())
        .bind(&key.audience)
        .bind(&key.channel)
        .bind(retry)
        .execute(self.db())
        .await?;
        Ok(())
    }
}
