//! What the API reads from a request, with every refusal in the API's error shape (never axum's
//! plain-text rejections): JSON bodies read into the route's request type with the path of any
//! field at fault (`items[0].quantity`), query strings and path segments. Request types hold what
//! the client sent; each converts into the domain's types with `TryFrom`, which names the field it
//! refuses.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use courier_workflows::codes::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Path segments, as `axum::extract::Path` reads them; one that cannot be decoded names nothing
/// Courier serves (`404 not_found`).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route"))
    }
}

/// The query string, as `axum::extract::Query` reads it; a malformed one is `422` with
/// `field: query`.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e| ApiError::invalid("query", e.body_text()))
    }
}

/// A required JSON object body, read as `T`.
pub struct Body<T>(pub T);

/// A JSON object body that may be left out, or be `null` (read as `T::default()`).
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match read(req, state, false).await? {
            Some(body) => Ok(Self(body)),
            None => Err(ApiError::invalid("body", "the body must be a JSON object")),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(read(req, state, true).await?.unwrap_or_default()))
    }
}

/// The body as `T`, or `None` when it is empty (or only whitespace). Anything but a JSON object
/// is refused with `field: body`; a member of the wrong type names its path.
async fn read<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
    allow_null: bool,
) -> Result<Option<T>, ApiError> {
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
                )
            } else {
                ApiError::invalid("body", e.body_text())
            }
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid("body", format!("the body is not valid JSON: {e}")))?;
    if value.is_null() && allow_null {
        return Ok(None);
    }
    if !value.is_object() {
        return Err(ApiError::invalid("body", "the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value)
        .map(Some)
        .map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::invalid(&field, format!("{field}: {}", err.inner()))
        })
}

/// A field the request type reads as optional (so that its absence names it) but the route needs.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
}

/// Free text (a reason, an operator's name): trimmed, at most `max` characters, no control
/// characters but line breaks and tabs (Postgres refuses a NUL); `None` when absent or blank.
pub fn text(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    let Some(text) = value.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(Some(text))
}
