//! Riders: `POST /deliveries/{order_id}/pickup` and `/deliver`, with an optional
//! `{"rider_id"}` that must be the assigned rider's when given.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use courier_workflows::OrderWorkflow;
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::OrderId;
use courier_workflows::order::RiderAction;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, Role, forbidden};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{OptionalBody, Path, text};
use crate::read_model;
use crate::routes::StatusChange;
use crate::routes::orders::order_id;
use crate::workflow::step;

/// A rider's step; the body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RiderActionRequest {
    /// Optional: when given, it must be the token's rider (`403 forbidden` otherwise). The rider
    /// is the token's; another rider than the assigned one gets `403 wrong_rider`.
    #[schema(max_length = 64)]
    pub rider_id: Option<String>,
}

/// The rider is the token's; a `rider_id` in the body must name the same rider.
async fn rider_action(
    state: &AppState,
    caller: &Caller,
    raw_order_id: &str,
    body: RiderActionRequest,
) -> ApiResult<(OrderId, RiderAction)> {
    let rider = caller.require(Role::Rider)?.to_owned();
    if let Some(named) = text(body.rider_id, "rider_id", 64)?
        && named != rider
    {
        return Err(forbidden("rider_id names another rider than the token's"));
    }
    let order_id = order_id(raw_order_id)?;
    let assigned = read_model::order_rider(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    // Only the assigned rider learns anything about the order; the workflow checks it again
    // (the read model may lag an assignment by a moment).
    if assigned.as_deref() != Some(rider.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::WrongRider,
            "this delivery is not assigned to you",
        ));
    }
    Ok((
        order_id,
        RiderAction {
            rider_id: Some(rider),
        },
    ))
}

/// The rider picked the order up (it must be `READY` and theirs).
#[utoipa::path(
    post, path = "/deliveries/{order_id}/pickup", tag = "deliveries", operation_id = "pickUpOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body(content = Option<RiderActionRequest>, description = "May be left out."),
    responses(
        (status = 200, description = "`PICKED_UP`", body = StatusChange),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`wrong_rider`: the delivery is not assigned to this rider (another rider's, or none yet); `forbidden`: not a rider's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn pickup(
    State(state): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
    OptionalBody(body): OptionalBody<RiderActionRequest>,
) -> ApiResult<Json<StatusChange>> {
    let (order_id, action) = rider_action(&state, &caller, &order_id, body).await?;
    step(&state.temporal, order_id, OrderWorkflow::pickup, action).await
}

/// The rider delivered the order (it must be `PICKED_UP`).
#[utoipa::path(
    post, path = "/deliveries/{order_id}/deliver", tag = "deliveries", operation_id = "deliverOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body(content = Option<RiderActionRequest>, description = "May be left out."),
    responses(
        (status = 200, description = "`DELIVERED`", body = StatusChange),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`wrong_rider`: the delivery is not assigned to this rider (another rider's, or none yet); `forbidden`: not a rider's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn deliver(
    State(state): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
    OptionalBody(body): OptionalBody<RiderActionRequest>,
) -> ApiResult<Json<StatusChange>> {
    let (order_id, action) = rider_action(&state, &caller, &order_id, body).await?;
    step(&state.temporal, order_id, OrderWorkflow::deliver, action).await
}
