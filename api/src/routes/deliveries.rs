//! Riders: `POST /deliveries/{order_id}/pickup` and `/deliver`, with an optional
//! `{"rider_id"}` that must be the assigned rider's when given.

use axum::Json;
use axum::extract::{Path, State};
use courier_workflows::OrderWorkflow;
use courier_workflows::order::RiderAction;
use serde_json::Value;

use crate::AppState;
use crate::body::{JsonBody, object, optional_str};
use crate::error::{ApiError, ApiResult};
use crate::read_model;
use crate::routes::orders::order_id;
use crate::workflow::step;

async fn rider_action(
    state: &AppState,
    raw_order_id: &str,
    body: &Value,
) -> ApiResult<(courier_workflows::domain::OrderId, RiderAction)> {
    let body = object(body, true)?;
    let rider_id = optional_str(body, "rider_id", "rider_id")?.map(str::to_owned);
    let order_id = order_id(raw_order_id)?;
    read_model::order_shop(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    Ok((order_id, RiderAction { rider_id }))
}

pub async fn pickup(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let (order_id, action) = rider_action(&state, &order_id, &body).await?;
    step(&state.temporal, order_id, OrderWorkflow::pickup, action).await
}

pub async fn deliver(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let (order_id, action) = rider_action(&state, &order_id, &body).await?;
    step(&state.temporal, order_id, OrderWorkflow::deliver, action).await
}
