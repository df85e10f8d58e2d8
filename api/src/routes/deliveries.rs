//! Riders: `POST /deliveries/{order_id}/pickup` and `/deliver`, with an optional
//! `{"rider_id"}` that must be the assigned rider's when given.

use axum::Json;
use axum::extract::State;
use courier_workflows::OrderWorkflow;
use courier_workflows::domain::OrderId;
use courier_workflows::order::RiderAction;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{OptionalBody, Path, text};
use crate::read_model;
use crate::routes::StatusChange;
use crate::routes::orders::order_id;
use crate::workflow::step;

/// A rider's step; the body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RiderActionRequest {
    /// When given, it must be the assigned rider's id (`403 wrong_rider` otherwise).
    #[schema(max_length = 64)]
    pub rider_id: Option<String>,
}

async fn rider_action(
    state: &AppState,
    raw_order_id: &str,
    body: RiderActionRequest,
) -> ApiResult<(OrderId, RiderAction)> {
    let rider_id = text(body.rider_id, "rider_id", 64)?;
    let order_id = order_id(raw_order_id)?;
    read_model::order_shop(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    Ok((order_id, RiderAction { rider_id }))
}

/// The rider picked the order up (it must be `READY` and theirs).
#[utoipa::path(
    post, path = "/deliveries/{order_id}/pickup", tag = "deliveries", operation_id = "pickUpOrder",
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body(content = Option<RiderActionRequest>, description = "May be left out."),
    responses(
        (status = 200, description = "`PICKED_UP`", body = StatusChange),
        (status = 403, description = "`wrong_rider`", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn pickup(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    OptionalBody(body): OptionalBody<RiderActionRequest>,
) -> ApiResult<Json<StatusChange>> {
    let (order_id, action) = rider_action(&state, &order_id, body).await?;
    step(&state.temporal, order_id, OrderWorkflow::pickup, action).await
}

/// The rider delivered the order (it must be `PICKED_UP`).
#[utoipa::path(
    post, path = "/deliveries/{order_id}/deliver", tag = "deliveries", operation_id = "deliverOrder",
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body(content = Option<RiderActionRequest>, description = "May be left out."),
    responses(
        (status = 200, description = "`DELIVERED`", body = StatusChange),
        (status = 403, description = "`wrong_rider`", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn deliver(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    OptionalBody(body): OptionalBody<RiderActionRequest>,
) -> ApiResult<Json<StatusChange>> {
    let (order_id, action) = rider_action(&state, &order_id, body).await?;
    step(&state.temporal, order_id, OrderWorkflow::deliver, action).await
}
