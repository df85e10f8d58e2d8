//! What makes `POST /orders` safe to retry and never wrong about whether an order exists.
//!
//! - **Idempotency keys** (`Idempotency-Key`): the first use of a key chooses the order id; every
//!   later use with the same body is the same order, and once the first answer settled (paid,
//!   declined, out of stock, ...), replays are answered from the stored answer without touching
//!   Temporal. Keys expire after `COURIER_IDEMPOTENCY_KEY_TTL_SECS`, which must stay well inside
//!   the Temporal namespace's retention: a key never outlives the workflow-id protection behind it.
//!   Concurrent first uses of one key serialise on its row.
//! - **Placements**: the API writes `placing` before it starts the order's workflow; the workflow's
//!   first status change claims it (`started`). When the API cannot tell whether its start went
//!   through (Temporal did not answer in time), it gives the placement up (`abandoned`) only if
//!   nothing claimed it, and answers `503`: the workflow, if it ever runs, ends at once having done
//!   nothing. Otherwise the order exists and the API answers `202` with its `Location`.

use axum::http::{HeaderMap, StatusCode};
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::OrderId;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// What a request's `Idempotency-Key` (or its absence) means for this placement.
pub enum Claimed {
    /// Place this order; `key` (if any) stores the answer once it is settled.
    New {
        order_id: OrderId,
        key: Option<String>,
    },
    /// The key already has a settled answer: give it again.
    Replay { status: StatusCode, body: Value },
}

/// Reads the `Idempotency-Key` and claims it for this request (`body` is fingerprinted only when
/// there is a key).
pub async fn claim_key(
    state: &AppState,
    headers: &HeaderMap,
    body: &impl Serialize,
) -> ApiResult<Claimed> {
    let Some(key) = headers.get("idempotency-key") else {
        return Ok(Claimed::New {
            order_id: OrderId::new(uuid::Uuid::new_v4()),
            key: None,
        });
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "the Idempotency-Key header must be 1 to 255 visible characters",
            )
        })?
        .to_owned();
    // Through a `Value`, whose object keys serde_json orders: the same request hashes the same
    // however it was written.
    let body = serde_json::to_value(body).map_err(|e| ApiError::internal("fingerprint", e))?;
    let hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
    let ttl = state.settings.idempotency_key_ttl.as_secs_f64();
    // An expired key is as good as new.
    sqlx::query(
        "DELETE FROM orders.idempotency_keys \
         WHERE key = $1 AND created_at < now() - make_interval(secs => $2)",
    )
    .bind(&key)
    .bind(ttl)
    .execute(&state.db)
    .await?;
    // Inserting first waits for a concurrent first use of the key to commit; the row is then read
    // in a statement of its own, which sees it. (A row that expired and was removed in between
    // sends us round again.)
    for _ in 0..3 {
        let fresh = uuid::Uuid::new_v4();
        let inserted: Option<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO orders.idempotency_keys (key, request_hash, order_id) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING RETURNING order_id",
        )
        .bind(&key)
        .bind(&hash)
        .bind(fresh)
        .fetch_optional(&state.db)
        .await?;
        if let Some(order_id) = inserted {
            return Ok(Claimed::New {
                order_id: OrderId::new(order_id),
                key: Some(key),
            });
        }
        let existing: Option<(String, uuid::Uuid, Option<i32>, Option<Value>)> = sqlx::query_as(
            "SELECT request_hash, order_id, response_status, response_body \
             FROM orders.idempotency_keys WHERE key = $1",
        )
        .bind(&key)
        .fetch_optional(&state.db)
        .await?;
        let Some((stored_hash, order_id, status, answer)) = existing else {
            continue;
        };
        if stored_hash != hash {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with a different request",
            )
            .with("field", "Idempotency-Key"));
        }
        return Ok(
            match (
                status.and_then(|s| StatusCode::from_u16(s as u16).ok()),
                answer,
            ) {
                (Some(status), Some(body)) => Claimed::Replay { status, body },
                _ => Claimed::New {
                    order_id: OrderId::new(order_id),
                    key: Some(key),
                },
            },
        );
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::IdempotencyKeyBusy,
        "this Idempotency-Key is being used by another request; retry",
    ))
}

/// Stores the settled answer of a keyed placement, for its replays.
pub async fn store_answer(
    state: &AppState,
    key: &str,
    status: StatusCode,
    body: &Value,
) -> ApiResult<()> {
    sqlx::query(
        "UPDATE orders.idempotency_keys SET response_status = $2, response_body = $3 WHERE key = $1",
    )
    .bind(key)
    .bind(i32::from(status.as_u16()))
    .bind(body)
    .execute(&state.db)
    .await?;
    Ok(())
}

/// Forgets a key whose order was given up, so that its next use places a new order.
pub async fn forget_key(state: &AppState, key: &str, order_id: OrderId) -> ApiResult<()> {
    sqlx::query("DELETE FROM orders.idempotency_keys WHERE key = $1 AND order_id = $2")
        .bind(key)
        .bind(order_id.uuid())
        .execute(&state.db)
        .await?;
    Ok(())
}

/// Notes that the order is about to be started (a keyed retry finds its placement there already).
pub async fn begin(state: &AppState, order_id: OrderId) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO orders.placements (order_id, state) VALUES ($1, 'placing') \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id.uuid())
    .execute(&state.db)
    .await?;
    Ok(())
}

/// Whether the order runs, decided for good when the API could not learn it from Temporal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its workflow claimed the placement: the order exists.
    Started,
    /// Nothing claimed it and now nothing will: the order does not exist.
    Abandoned,
}

/// Gives the placement up unless its workflow already claimed it.
pub async fn give_up(state: &AppState, order_id: OrderId) -> ApiResult<Verdict> {
    let state_now: Option<String> = sqlx::query_scalar(
        "UPDATE orders.placements \
         SET state = CASE WHEN state = 'placing' THEN 'abandoned' ELSE state END \
         WHERE order_id = $1 RETURNING state",
    )
    .bind(order_id.uuid())
    .fetch_optional(&state.db)
    .await?;
    Ok(match state_now.as_deref() {
        Some("started") => Verdict::Started,
        _ => Verdict::Abandoned,
    })
}

/// Removes keys past their time; the API runs it every few minutes.
pub async fn expire_keys(state: &AppState) -> Result<u64, sqlx::Error> {
    let ttl = state.settings.idempotency_key_ttl.as_secs_f64();
    let done = sqlx::query(
        "DELETE FROM orders.idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(ttl)
    .execute(&state.db)
    .await?;
    Ok(done.rows_affected())
}
