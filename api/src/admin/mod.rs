//! Operator endpoints under `/admin`, behind a bearer token (`COURIER_OPERATOR_TOKEN`): find stuck
//! orders, retry, restart, cancel, terminate or compensate them, rebuild the read model, reconcile
//! the provider's books with the orders, read the audit trail.
//! Every action is audited (who, what, when, why, outcome) before and after it runs.

mod actions;
mod audit;
mod rebuild;
mod reconciliation;
mod stuck;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, Role};
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

/// Refuses every admin request that is not an operator's, before anything else is read, and
/// hands the operator's identity (from the token) to the handler.
pub async fn require_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    let operator = caller.require(Role::Operator)?.to_owned();
    parts.extensions.insert(Operator(operator));
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The operator acting, from their token: the audit trail records this identity.
#[derive(Debug, Clone)]
pub struct Operator(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Operator>()
            .cloned()
            .ok_or_else(|| ApiError::internal("admin", "an admin route without require_operator"))
    }
}

/// Why an operator acts: required on every admin action, for the audit trail (which records the
/// operator from the token).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct AdminActionRequest {
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

impl Intent {
    pub fn new(operator: Operator, body: AdminActionRequest) -> ApiResult<Self> {
        let reason = required(text(body.reason, "reason", 500)?, "reason")?;
        Ok(Intent {
            operator: operator.0,
            reason,
        })
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
