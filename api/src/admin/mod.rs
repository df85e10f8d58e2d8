//! Operator endpoints under `/admin`, behind a bearer token (`COURIER_OPERATOR_TOKEN`): find stuck
//! orders, retry, restart, cancel, terminate or compensate them, rebuild the read model, reconcile
//! the provider's books with the orders, read the audit trail.
//! Every action is audited (who, what, when, why, outcome) before and after it runs.

mod actions;
mod audit;
mod rebuild;
mod reconciliation;
mod stuck;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use courier_workflows::codes::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{required, text};

/// The admin routes; [`require_operator`] guards them all.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stuck::list))
        .routes(routes!(actions::retry))
        .routes(routes!(actions::restart))
        .routes(routes!(actions::cancel))
        .routes(routes!(actions::terminate))
        .routes(routes!(actions::compensate))
        .routes(routes!(reconciliation::latest))
        .routes(routes!(reconciliation::run))
        .routes(routes!(rebuild::rebuild))
        .routes(routes!(audit::list))
}

/// Refuses every admin request without the operator token, before anything else is read.
pub async fn require_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message);
    let Some(token) = state.settings.operator_token.as_deref() else {
        return Err(unauthorized(
            "operator endpoints are disabled: no COURIER_OPERATOR_TOKEN is configured",
        ));
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
            Ok(next.run(request).await)
        }
        _ => Err(unauthorized("a valid operator bearer token is required")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who acts and why: required on every admin action, for the audit trail.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct AdminActionRequest {
    /// Who is acting: 1 to 64 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 64, example = "jiwoo")]
    pub operator: Option<String>,
    /// Why: 1 to 500 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 500,
        example = "payout provider outage fixed")]
    pub reason: Option<String>,
}

/// An admin action's operator and reason, checked.
pub struct Intent {
    pub operator: String,
    pub reason: String,
}

impl TryFrom<AdminActionRequest> for Intent {
    type Error = ApiError;

    fn try_from(body: AdminActionRequest) -> ApiResult<Self> {
        let operator = required(text(body.operator, "operator", 64)?, "operator")?;
        let reason = required(text(body.reason, "reason", 500)?, "reason")?;
        Ok(Intent { operator, reason })
    }
}

/// `202`: the action was sent to the order's workflow and is audited as `audit_id`.
#[derive(Serialize, ToSchema)]
pub struct AdminActionAccepted {
    pub order_id: uuid::Uuid,
    /// `retry`, `restart` or `cancel`.
    pub action: String,
    pub audit_id: i64,
    /// The new run, for `restart`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}
