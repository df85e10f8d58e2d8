//! Request bodies: JSON read into a `serde_json::Value` whose rejection answers in the API's error
//! shape, and small readers that name the field at fault.

use axum::extract::{FromRequest, Request};
use serde_json::Value;

use crate::error::ApiError;

/// A JSON body (possibly empty, read as `null`).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid("body", e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Value::Null));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::invalid("body", format!("the body is not valid JSON: {e}")))
    }
}

/// A required string member of `object`, named `path` in errors.
pub fn required_str<'a>(object: &'a Value, key: &str, path: &str) -> Result<&'a str, ApiError> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(ApiError::invalid(path, format!("{path} is required"))),
        Some(_) => Err(ApiError::invalid(path, format!("{path} must be a string"))),
    }
}

/// An optional string member.
pub fn optional_str<'a>(
    object: &'a Value,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(path, format!("{path} must be a string"))),
    }
}

/// The body must be a JSON object (or empty, when `allow_empty`).
pub fn object(body: &Value, allow_empty: bool) -> Result<&Value, ApiError> {
    match body {
        Value::Object(_) => Ok(body),
        Value::Null if allow_empty => Ok(body),
        _ => Err(ApiError::invalid("body", "the body must be a JSON object")),
    }
}
