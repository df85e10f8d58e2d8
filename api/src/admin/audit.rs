//! The audit trail of operator actions.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::Intent;
use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Records that `intent.operator` starts `action`; returns the entry's id for [`finish`].
pub async fn start(
    db: &PgPool,
    intent: &Intent,
    action: &str,
    order_id: Option<Uuid>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO operations.audit (operator, action, order_id, reason) VALUES ($1, $2, $3, $4) \
         RETURNING audit_id",
    )
    .bind(&intent.operator)
    .bind(action)
    .bind(order_id)
    .bind(&intent.reason)
    .fetch_one(db)
    .await
}

/// Records how the action went.
pub async fn finish(
    db: &PgPool,
    audit_id: i64,
    outcome: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE operations.audit SET outcome = $2, detail = $3 WHERE audit_id = $1")
        .bind(audit_id)
        .bind(outcome)
        .bind(detail)
        .execute(db)
        .await?;
    Ok(())
}

/// Runs an audited action: the entry is written before it runs and completed with its outcome.
pub async fn audited<T, F>(
    state: &AppState,
    intent: &Intent,
    action: &str,
    order_id: Option<Uuid>,
    run: F,
) -> ApiResult<(i64, T)>
where
    F: std::future::Future<Output = ApiResult<(T, Value)>>,
{
    audited_with_outcome(state, intent, action, order_id, async {
        run.await.map(|(value, detail)| (value, detail, "ok"))
    })
    .await
}

/// [`audited`] for an action that can succeed in part: it names its own outcome (`ok`, `partial`).
pub async fn audited_with_outcome<T, F>(
    state: &AppState,
    intent: &Intent,
    action: &str,
    order_id: Option<Uuid>,
    run: F,
) -> ApiResult<(i64, T)>
where
    F: std::future::Future<Output = ApiResult<(T, Value, &'static str)>>,
{
    let audit_id = start(&state.db, intent, action, order_id).await?;
    tracing::warn!(audit_id, operator = %intent.operator, action, order_id = ?order_id, reason = %intent.reason, "operator action");
    match run.await {
        Ok((value, detail, outcome)) => {
            finish(&state.db, audit_id, outcome, detail).await?;
            Ok((audit_id, value))
        }
        Err(err) => {
            let detail = json!({ "code": err.code, "message": err.message });
            finish(&state.db, audit_id, "refused", detail).await?;
            Err(err)
        }
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    order_id: Option<String>,
}

#[derive(Serialize, sqlx::FromRow)]
struct Entry {
    audit_id: i64,
    operator: String,
    action: String,
    order_id: Option<Uuid>,
    reason: String,
    outcome: String,
    detail: Option<Value>,
    at: DateTime<Utc>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let order_id = match query.order_id.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            Uuid::parse_str(raw)
                .map_err(|_| ApiError::invalid("order_id", "order_id must be a UUID"))?,
        ),
    };
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT audit_id, operator, action, order_id, reason, outcome, detail, at FROM operations.audit \
         WHERE $1::uuid IS NULL OR order_id = $1 ORDER BY audit_id DESC LIMIT 500",
    )
    .bind(order_id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(json!({ "entries": entries })))
}
