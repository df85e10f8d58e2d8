//! The provider's books and its idempotency-key store. Each request runs in one transaction that
//! first claims its idempotency key: a concurrent duplicate waits on the key's row and then
//! replays the stored answer, so an effect is booked once however often it is asked for.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};

pub const DECLINED_CARD: &str = "4000000000000002";
/// Answers 500 to its first attempts (per idempotency key), then succeeds.
pub const FLAKY_CARD: &str = "4000000000000119";
/// Succeeds, slowly.
pub const SLOW_CARD: &str = "4000000000006975";

/// Counts an attempt of a flaky-card request and says whether it should still fail.
pub async fn flaky_attempt_fails(
    db: &PgPool,
    key: &str,
    failures: i32,
) -> Result<bool, sqlx::Error> {
    let attempts: i32 = sqlx::query_scalar(
        "INSERT INTO flaky_attempts (key, attempts) VALUES ($1, 1) \
         ON CONFLICT (key) DO UPDATE SET attempts = flaky_attempts.attempts + 1 RETURNING attempts",
    )
    .bind(key)
    .fetch_one(db)
    .await?;
    Ok(attempts <= failures)
}

/// An answer of the provider: HTTP status and JSON body, stored per idempotency key.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

impl Answer {
    pub fn new(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            replayed: false,
        }
    }
}

pub fn error_body(kind: &str, code: &str, message: &str) -> Value {
    json!({ "error": { "type": kind, "code": code, "message": message } })
}

fn request_hash(path: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update(body.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// What claiming an idempotency key gave: the stored answer of an earlier request, or a
/// transaction in which to perform the effect and then [`finish`].
pub enum Claim {
    Replay(Answer),
    Fresh(Transaction<'static, Postgres>),
}

/// Claims `key` for this request. A replay with the same request gets the stored answer, one with
/// another request a 422; a concurrent holder of the key makes this wait until it commits.
pub async fn claim(
    db: &PgPool,
    key: &str,
    path: &str,
    request: &Value,
) -> Result<Claim, sqlx::Error> {
    let hash = request_hash(path, request);
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, response_status, response_body) \
         VALUES ($1, $2, 0, 'null') ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(&hash)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        return Ok(Claim::Fresh(tx));
    }
    let (stored_hash, status, body): (String, i32, Value) = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE key = $1",
    )
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    if stored_hash != hash {
        return Ok(Claim::Replay(Answer::new(
            422,
            error_body(
                "idempotency_error",
                "idempotency_key_reused",
                "this idempotency key was used with a different request",
            ),
        )));
    }
    Ok(Claim::Replay(Answer {
        status: status as u16,
        body,
        replayed: true,
    }))
}

/// Stores the answer under the key and commits it together with the effect.
pub async fn finish(
    mut tx: Transaction<'static, Postgres>,
    key: &str,
    answer: Answer,
) -> Result<Answer, sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $2, response_body = $3 WHERE key = $1",
    )
    .bind(key)
    .bind(i32::from(answer.status))
    .bind(&answer.body)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(answer)
}

/// Stores a card and answers its payment method (`pm_...`).
pub async fn tokenize(db: &PgPool, card_number: &str) -> Result<Value, sqlx::Error> {
    let id = new_id("pm");
    let last4 = &card_number[card_number.len().saturating_sub(4)..];
    sqlx::query("INSERT INTO payment_methods (id, card_number, card_last4) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(card_number)
        .bind(last4)
        .execute(db)
        .await?;
    Ok(json!({ "id": id, "object": "payment_method", "card_last4": last4 }))
}

/// The card behind a payment method, if the provider issued it.
pub async fn card_of(db: &PgPool, payment_method: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT card_number FROM payment_methods WHERE id = $1")
        .bind(payment_method)
        .fetch_optional(db)
        .await
}

pub struct ChargeInput {
    pub amount: i64,
    pub currency: String,
    pub card_number: String,
    pub description: String,
    pub reference: Option<String>,
}

pub async fn charge(
    tx: &mut Transaction<'static, Postgres>,
    input: &ChargeInput,
) -> Result<Answer, sqlx::Error> {
    let id = new_id("ch");
    let last4 = &input.card_number[input.card_number.len().saturating_sub(4)..];
    let declined = input.card_number == DECLINED_CARD;
    let (status, failure_code, failure_message) = if declined {
        (
            "failed",
            Some("card_declined"),
            Some("Your card was declined."),
        )
    } else {
        ("succeeded", None, None)
    };
    sqlx::query(
        "INSERT INTO ledger (id, kind, status, amount, currency, reference, card_last4, \
           failure_code, failure_message) VALUES ($1, 'charge', $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(status)
    .bind(input.amount)
    .bind(&input.currency)
    .bind(&input.reference)
    .bind(last4)
    .bind(failure_code)
    .bind(failure_message)
    .execute(&mut **tx)
    .await?;
    let charge = json!({
        "id": id, "object": "charge", "status": status, "amount": input.amount,
        "currency": input.currency, "description": input.description,
        "reference": input.reference, "card_last4": last4,
    });
    if declined {
        let mut body = error_body("card_error", "card_declined", "Your card was declined.");
        body["error"]["charge"] = charge;
        Ok(Answer::new(402, body))
    } else {
        Ok(Answer::new(201, charge))
    }
}

pub struct RefundInput {
    pub charge: String,
    pub amount: Option<i64>,
}

pub async fn refund(
    tx: &mut Transaction<'static, Postgres>,
    input: &RefundInput,
) -> Result<Answer, sqlx::Error> {
    let charge: Option<(String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT status, amount, currency, reference FROM ledger \
         WHERE id = $1 AND kind = 'charge' FOR UPDATE",
    )
    .bind(&input.charge)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((status, charged, currency, reference)) = charge else {
        return Ok(Answer::new(
            404,
            error_body(
                "invalid_request_error",
                "resource_missing",
                "no such charge",
            ),
        ));
    };
    if status != "succeeded" {
        return Ok(Answer::new(
            400,
            error_body(
                "invalid_request_error",
                "charge_not_refundable",
                "the charge did not succeed",
            ),
        ));
    }
    let refunded: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(amount), 0)::BIGINT FROM ledger WHERE charge_id = $1 AND kind = 'refund'",
    )
    .bind(&input.charge)
    .fetch_one(&mut **tx)
    .await?;
    let amount = input.amount.unwrap_or(charged - refunded);
    if amount <= 0 || refunded + amount > charged {
        return Ok(Answer::new(
            400,
            error_body(
                "invalid_request_error",
                "charge_already_refunded",
                "the refund exceeds what is left of the charge",
            ),
        ));
    }
    let id = new_id("re");
    sqlx::query(
        "INSERT INTO ledger (id, kind, status, amount, currency, reference, charge_id) \
         VALUES ($1, 'refund', 'succeeded', $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(amount)
    .bind(&currency)
    .bind(&reference)
    .bind(&input.charge)
    .execute(&mut **tx)
    .await?;
    Ok(Answer::new(
        201,
        json!({ "id": id, "object": "refund", "status": "succeeded", "amount": amount,
                "currency": currency, "charge": input.charge, "reference": reference }),
    ))
}

pub struct PayoutInput {
    pub amount: i64,
    pub currency: String,
    pub destination: String,
    pub reference: Option<String>,
}

pub async fn payout(
    tx: &mut Transaction<'static, Postgres>,
    input: &PayoutInput,
) -> Result<Answer, sqlx::Error> {
    let id = new_id("po");
    sqlx::query(
        "INSERT INTO ledger (id, kind, status, amount, currency, reference, destination) \
         VALUES ($1, 'payout', 'succeeded', $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(input.amount)
    .bind(&input.currency)
    .bind(&input.reference)
    .bind(&input.destination)
    .execute(&mut **tx)
    .await?;
    Ok(Answer::new(
        201,
        json!({ "id": id, "object": "payout", "status": "succeeded", "amount": input.amount,
                "currency": input.currency, "destination": input.destination,
                "reference": input.reference }),
    ))
}

/// One booked effect, as `GET /v1/ledger` lists it.
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub destination: Option<String>,
    pub charge: Option<String>,
    pub reference: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The charges booked under a merchant reference, with what was refunded of each.
pub async fn charges(db: &PgPool, reference: &str) -> Result<Value, sqlx::Error> {
    let rows: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
        "SELECT c.id, c.status, c.amount, c.currency, \
           COALESCE((SELECT sum(r.amount) FROM ledger r WHERE r.charge_id = c.id AND r.kind = 'refund'), 0)::BIGINT \
         FROM ledger c WHERE c.reference = $1 AND c.kind = 'charge' ORDER BY c.created_at, c.id",
    )
    .bind(reference)
    .fetch_all(db)
    .await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(id, status, amount, currency, refunded)| {
            json!({ "id": id, "object": "charge", "status": status, "amount": amount,
                    "currency": currency, "amount_refunded": refunded, "reference": reference })
        })
        .collect();
    Ok(json!({ "object": "list", "data": data }))
}

/// Every entry booked under a merchant reference, oldest first.
pub async fn entries(db: &PgPool, reference: &str) -> Result<Value, sqlx::Error> {
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT id, kind, status, amount, currency, destination, charge_id AS charge, reference, \
           created_at FROM ledger WHERE reference = $1 ORDER BY created_at, id",
    )
    .bind(reference)
    .fetch_all(db)
    .await?;
    Ok(json!({ "reference": reference, "entries": entries }))
}

/// A page of every entry booked after `after` (a `(created_at, id)` position, exclusive), oldest
/// first: how a merchant reconciles its books with the provider's.
pub async fn page(
    db: &PgPool,
    after: Option<(chrono::DateTime<chrono::Utc>, String)>,
    limit: i64,
) -> Result<Value, sqlx::Error> {
    let (at, id) = after.unzip();
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT id, kind, status, amount, currency, destination, charge_id AS charge, reference, \
           created_at FROM ledger \
         WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2) \
         ORDER BY created_at, id LIMIT $3",
    )
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let has_more = entries.len() as i64 == limit;
    Ok(json!({ "entries": entries, "has_more": has_more }))
}
