//! Live updates, as server-sent events: the web front end's tracking page, shop board and rider
//! list move without a reload.
//!
//! The read model announces every change of an order on the Postgres channel `courier_orders`
//! (a trigger; `migrations/*_live_updates.sql`): the order, its customer, shop and rider, never
//! the data. Each API process listens once ([`listen`]) and fans the announcements out to its
//! streams ([`Feed`]); a stream that cares about a change reads its snapshot again from the read
//! model, with the same authorization as the matching `GET`, and sends it when it differs from the
//! last one sent. An announcement lost (the listener reconnecting, a stream falling behind) makes
//! every stream read again, so a stream may repeat itself but never misses the latest state.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// The channel the read model's trigger announces on.
pub const CHANNEL: &str = "courier_orders";

/// Announcements kept for streams that are slow to take them; one that falls further behind
/// reads its snapshot again.
const BACKLOG: usize = 1024;

/// How often an idle stream sends a comment, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Whom a change of the read model concerns.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub order_id: Uuid,
    /// Absent when a message of the order's notification log changed (the order's own stream
    /// is the only one that shows it).
    pub customer_id: Option<String>,
    pub shop_id: Option<String>,
    pub rider_id: Option<String>,
}

/// What a stream hears.
#[derive(Debug, Clone)]
pub enum Heard {
    Changed(Arc<Change>),
    /// Announcements may have been lost: every stream reads again.
    Resync,
}

/// The announcements of one API process, to every stream it serves, and whether the process is
/// shutting down (its streams end, so that a graceful shutdown does not wait on them forever).
#[derive(Clone)]
pub struct Feed {
    heard: broadcast::Sender<Heard>,
    closing: watch::Sender<bool>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            heard: broadcast::channel(BACKLOG).0,
            closing: watch::Sender::new(false),
        }
    }
}

impl Feed {
    fn announce(&self, heard: Heard) {
        // No stream open: nobody to tell.
        let _ = self.heard.send(heard);
    }

    /// Starts hearing changes, before the stream's first snapshot is read: a change made while it
    /// is read is then heard, not lost.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            heard: self.heard.subscribe(),
            closing: self.closing.subscribe(),
        }
    }

    /// Ends every stream, now and from now on.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// Listens on [`CHANNEL`] for as long as the process serves, reconnecting when Postgres goes
/// away (and then telling every stream to read again: announcements are not kept while nobody
/// listens).
pub async fn listen(db: PgPool, feed: Feed) {
    loop {
        match listen_once(&db, &feed).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = %err, "listening for read-model changes failed; reconnecting");
                feed.announce(Heard::Resync);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn listen_once(db: &PgPool, feed: &Feed) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen(CHANNEL).await?;
    // Changes made before the listener was up.
    feed.announce(Heard::Resync);
    loop {
        match listener.try_recv().await? {
            Some(notification) => match serde_json::from_str::<Change>(notification.payload()) {
                Ok(change) => feed.announce(Heard::Changed(Arc::new(change))),
                Err(err) => tracing::warn!(error = %err, "an announcement that is not a change"),
            },
            // The connection was lost; the next call reconnects.
            None => feed.announce(Heard::Resync),
        }
    }
}

/// A stream's ear on the [`Feed`], taken before its first read.
pub struct Subscription {
    heard: broadcast::Receiver<Heard>,
    closing: watch::Receiver<bool>,
}

/// What a stream sends: its event's name and data, and whether it is the last one (the order
/// has ended).
pub struct Snapshot {
    pub data: serde_json::Value,
    pub last: bool,
}

impl Snapshot {
    /// `value` as the stream's data; `last` ends the stream after it.
    pub fn of(value: &impl serde::Serialize, last: bool) -> Result<Self, crate::error::ApiError> {
        let data = serde_json::to_value(value)
            .map_err(|e| crate::error::ApiError::internal("a stream's snapshot", e))?;
        Ok(Self { data, last })
    }
}

/// A stream of `event` snapshots: `first` (or one read now), then one each time a change
/// `concerns` it and the snapshot differs from the last sent. After the last snapshot an `end` event closes it; when
/// reading one fails (the order is gone, the caller may no longer read it), an `error` event
/// (`{"status", "code"}`) does. A client opens it again after any other disconnection.
pub fn stream<C, R, F>(
    subscription: Subscription,
    event: &'static str,
    first: Option<Snapshot>,
    concerns: C,
    read: R,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<C, R, F>>
where
    C: Fn(&Change) -> bool + Send + 'static,
    R: Fn() -> F + Send + 'static,
    F: Future<Output = Result<Snapshot, crate::error::ApiError>> + Send,
{
    struct Watch<C, R> {
        heard: broadcast::Receiver<Heard>,
        closing: watch::Receiver<bool>,
        concerns: C,
        read: R,
        /// A snapshot already read, sent before waiting for changes.
        pending: Option<Snapshot>,
        sent: Option<serde_json::Value>,
        phase: Phase,
    }
    #[derive(PartialEq)]
    enum Phase {
        Open,
        /// The last snapshot went out: `end` follows.
        Last,
        Done,
    }
    let watch = Watch {
        heard: subscription.heard,
        closing: subscription.closing,
        concerns,
        read,
        pending: first,
        sent: None,
        phase: Phase::Open,
    };
    let events = futures::stream::unfold(watch, move |mut watch| async move {
        match watch.phase {
            Phase::Done => return None,
            Phase::Last => {
                watch.phase = Phase::Done;
                return Some((Ok(Event::default().event("end").data("{}")), watch));
            }
            Phase::Open => {}
        }
        loop {
            if *watch.closing.borrow() {
                return None;
            }
            if watch.sent.is_some() && watch.pending.is_none() {
                let heard = tokio::select! {
                    heard = watch.heard.recv() => heard,
                    _ = watch.closing.wait_for(|closing| *closing) => return None,
                };
                match heard {
                    Ok(Heard::Changed(change)) if !(watch.concerns)(&change) => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
            let read = match watch.pending.take() {
                Some(snapshot) => Ok(snapshot),
                None => (watch.read)().await,
            };
            let snapshot = match read {
                Ok(snapshot) => snapshot,
                Err(err) => {
                    watch.phase = Phase::Done;
                    let data =
                        serde_json::json!({ "status": err.status.as_u16(), "code": err.code })
                            .to_string();
                    return Some((Ok(Event::default().event("error").data(data)), watch));
                }
            };
            if snapshot.last {
                watch.phase = Phase::Last;
            } else if watch.sent.as_ref() == Some(&snapshot.data) {
                continue;
            }
            let sse = Event::default()
                .event(event)
                .data(snapshot.data.to_string());
            watch.sent = Some(snapshot.data);
            return Some((Ok(sse), watch));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
