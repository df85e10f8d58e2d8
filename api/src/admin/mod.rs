//! Operator endpoints under `/admin`, behind a bearer token (`COURIER_OPERATOR_TOKEN`): find stuck
//! orders, retry, restart, cancel, terminate or compensate them, rebuild the read model, reconcile
//! the provider's books with the orders, read the audit trail.
//! Every action is audited (who, what, when, why, outcome) before and after it runs.

mod actions;
mod audit;
mod rebuild;
mod reconciliation;
mod stuck;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use crate::AppState;
use crate::body::{object, required_str};
use crate::error::{ApiError, ApiResult};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/orders/stuck", get(stuck::list))
        .route("/admin/orders/{order_id}/retry", post(actions::retry))
        .route("/admin/orders/{order_id}/restart", post(actions::restart))
        .route("/admin/orders/{order_id}/cancel", post(actions::cancel))
        .route(
            "/admin/orders/{order_id}/terminate",
            post(actions::terminate),
        )
        .route(
            "/admin/orders/{order_id}/compensate",
            post(actions::compensate),
        )
        .route("/admin/reconciliation", get(reconciliation::latest))
        .route("/admin/reconciliation/run", post(reconciliation::run))
        .route("/admin/read-model/rebuild", post(rebuild::rebuild))
        .route("/admin/audit", get(audit::list))
        .route_layer(middleware::from_fn_with_state(state, require_operator))
}

/// Refuses every admin request without the operator token, before anything else is read.
async fn require_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
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
pub struct Intent {
    pub operator: String,
    pub reason: String,
}

pub fn intent(body: &Value) -> ApiResult<Intent> {
    let body = object(body, false)?;
    let operator = required_str(body, "operator", "operator")?.trim();
    if operator.is_empty() || operator.chars().count() > 64 {
        return Err(ApiError::invalid(
            "operator",
            "operator must be 1 to 64 characters: who is acting",
        ));
    }
    let reason = required_str(body, "reason", "reason")?.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "reason must be 1 to 500 characters: why",
        ));
    }
    Ok(Intent {
        operator: operator.to_owned(),
        reason: reason.to_owned(),
    })
}
