//! The REST routes, one module per resource.

mod customers;
mod deliveries;
pub(crate) mod orders;
mod shops;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", post(orders::place))
        .route("/orders/{order_id}", get(orders::show))
        .route("/orders/{order_id}/cancel", post(orders::cancel))
        .route(
            "/orders/{order_id}/notifications",
            get(orders::notifications),
        )
        .route("/customers/{customer_id}/orders", get(customers::orders))
        .route("/shops", get(shops::list))
        .route("/shops/{shop_id}/menu", get(shops::menu))
        .route(
            "/shops/{shop_id}/menu/{menu_item_id}/stock",
            post(shops::stock),
        )
        .route("/shops/{shop_id}/orders", get(shops::board))
        .route(
            "/shops/{shop_id}/orders/{order_id}/accept",
            post(shops::accept),
        )
        .route(
            "/shops/{shop_id}/orders/{order_id}/reject",
            post(shops::reject),
        )
        .route(
            "/shops/{shop_id}/orders/{order_id}/ready",
            post(shops::ready),
        )
        .route("/deliveries/{order_id}/pickup", post(deliveries::pickup))
        .route("/deliveries/{order_id}/deliver", post(deliveries::deliver))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::render))
        .method_not_allowed_fallback(|| async {
            crate::error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .fallback(|| async {
            crate::error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such route",
            )
        })
}

async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    let (ready, body) = courier_activities::health::readiness(&state.db, &state.temporal).await;
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

/// The OpenAPI description of every route (`api/openapi.json`).
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /openapi.json` and the interactive page at `/docs` (Swagger UI, served from this binary).
pub fn docs<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let spec: serde_json::Value =
        serde_json::from_str(OPENAPI).expect("api/openapi.json is valid JSON");
    Router::from(
        utoipa_swagger_ui::SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", spec),
    )
}
