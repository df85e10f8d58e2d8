//! A per-customer rate limit on `POST /orders` (tower_governor's token bucket), answering `429`
//! with `Retry-After` and Courier's error body.
//!
//! The bucket is keyed by the subject of the request's bearer token, read without verifying it:
//! the handler verifies it right after. Forging subjects only buys requests that are refused
//! `401`; a request without a readable token shares one bucket with every other such request.

use std::time::Duration;

use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use courier_workflows::codes::ErrorCode;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::ApiError;

/// How many orders one customer may place: `per_minute` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// The token's subject (unverified), or one shared key for requests without a readable one.
#[derive(Debug, Clone, Copy)]
struct TokenSubject;

impl KeyExtractor for TokenSubject {
    type Key = String;

    fn extract<T>(&self, req: &Request<T>) -> Result<String, GovernorError> {
        #[derive(serde::Deserialize)]
        struct Subject {
            sub: String,
        }
        let subject = crate::auth::bearer_token(req.headers())
            .and_then(|token| jsonwebtoken::dangerous::insecure_decode::<Subject>(token).ok())
            .map(|data| data.claims.sub);
        Ok(subject.unwrap_or_default())
    }
}

fn too_many(error: GovernorError) -> Response {
    let wait = match &error {
        GovernorError::TooManyRequests { wait_time, .. } => (*wait_time).max(1),
        _ => 1,
    };
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyRequests,
        format!("too many orders from this customer; retry after {wait} s"),
    )
    .with("retry_after_secs", wait)
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// `router`'s routes, limited per customer.
pub fn limited(router: OpenApiRouter<AppState>, limit: OrderRateLimit) -> OpenApiRouter<AppState> {
    let period = Duration::from_secs(60) / limit.per_minute.max(1);
    let config = GovernorConfigBuilder::default()
        .key_extractor(TokenSubject)
        .period(period)
        .burst_size(limit.burst.max(1))
        .finish()
        .expect("a non-zero period and burst");
    router.route_layer(tower_governor::GovernorLayer::new(config).error_handler(too_many))
}
