//! The audit trail of operator actions.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::Intent;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use utoipa::{IntoParams, ToSchema};

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

/// `?order_id=&before=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only the entries about this order.
    #[param(value_type = Option<Uuid>)]
    order_id: Option<String>,
    /// Only the entries older than this one: the previous page's `next_before`.
    #[param(value_type = Option<i64>, minimum = 1)]
    before: Option<String>,
}

/// How many entries a page of the audit trail holds.
const AUDIT_PAGE: i64 = 500;

/// One operator action: who, what, on which order, why, and how it went.
#[derive(Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditEntry {
    audit_id: i64,
    operator: String,
    action: String,
    order_id: Option<Uuid>,
    reason: String,
    /// `started` while it runs, then `ok`, `partial` or `refused`.
    outcome: String,
    /// What the action did, or the error that refused it.
    #[schema(value_type = Option<Object>)]
    detail: Option<Value>,
    at: DateTime<Utc>,
}

/// `GET /admin/audit`.
#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    /// Newest first, at most 500.
    entries: Vec<AuditEntry>,
    /// When older entries exist: pass it as `?before=` for the next page.
    next_before: Option<i64>,
}

/// The audit trail of operator actions, newest first, 500 a page (`?before=` pages back).
#[utoipa::path(
    get, path = "/admin/audit", tag = "admin", operation_id = "listAuditEntries",
    security(("bearerToken" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries.", body = AuditLog),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an operator's token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a malformed order id or `before`.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditLog>> {
    let order_id = match query.order_id.as_deref() {
        None => None,
        Some(raw) => Some(
            Uuid::parse_str(raw)
                .map_err(|_| ApiError::invalid("order_id", "order_id must be a UUID"))?,
        ),
    };
    let before = match query.before.as_deref() {
        None => i64::MAX,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|b| *b >= 1)
            .ok_or_else(|| ApiError::invalid("before", "before must be a positive audit id"))?,
    };
    let mut entries: Vec<AuditEntry> = sqlx::query_as(
        "SELECT audit_id, operator, action, order_id, reason, outcome, detail, at FROM operations.audit \
         WHERE ($1::uuid IS NULL OR order_id = $1) AND audit_id < $2 \
         ORDER BY audit_id DESC LIMIT $3",
    )
    .bind(order_id)
    .bind(before)
    .bind(AUDIT_PAGE + 1)
    .fetch_all(&state.db)
    .await?;
    let more = entries.len() as i64 > AUDIT_PAGE;
    entries.truncate(AUDIT_PAGE as usize);
    let next_before = more.then(|| entries.last().map(|e| e.audit_id)).flatten();
    Ok(Json(AuditLog {
        entries,
        next_before,
    }))
}
