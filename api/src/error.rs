//! The API's one error type: every failure answers `{"error": {"code", "message", ...}}` with a
//! fitting status and a code from [`ErrorCode`], and a 500 never carries internals (they go to the
//! log).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::InvalidField;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Extra members of the error object (`field`, `order_id`, `menu_item_id`), as [`ErrorDetail`]
    /// describes them.
    pub extra: Map<String, Value>,
    /// The `WWW-Authenticate` challenge of a `401`.
    pub challenge: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
            challenge: None,
        }
    }

    pub fn challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
            message,
        )
        .with("field", field)
    }

    pub fn order_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::OrderNotFound,
            "no such order",
        )
    }

    /// Logs the cause and answers a bare 500.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "something went wrong on our side; the request can be retried",
        )
    }
}

impl From<InvalidField> for ApiError {
    fn from(err: InvalidField) -> Self {
        Self::invalid(&err.field, err.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::internal("database error", err)
    }
}

impl ApiError {
    /// The JSON body this error answers with.
    pub fn body(&self) -> Value {
        let mut error = self.extra.clone();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let challenge = self
            .challenge
            .as_deref()
            .and_then(|c| axum::http::HeaderValue::from_str(c).ok())
            .map(|c| [(axum::http::header::WWW_AUTHENTICATE, c)]);
        (self.status, challenge, Json(self.body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Every error answer: `{"error": {"code", "message", ...}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a code to branch on, a sentence for people, and what it concerns.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault (`items[0].quantity`, `payment.card_number`, or `body` for the
    /// body as a whole), for `invalid_request`, `unknown_shop` and `unknown_menu_item`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The order the error concerns, when one was created (a declined or out-of-stock placement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<uuid::Uuid>,
    /// The menu item that is unknown or out of stock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub menu_item_id: Option<String>,
}
