//! The REST routes, one module per resource.

mod customers;
mod deliveries;
mod orders;
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
        .fallback(|| async {
            crate::error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such route",
            )
        })
}
