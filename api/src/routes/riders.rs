//! A rider's deliveries: `GET /riders/{rider_id}/deliveries`, and the same live.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Path, text};
use crate::live;
use crate::read_model::{self, Delivery};

/// How many deliveries one answer lists: the open ones and the last ones done.
const LIMIT: i64 = 50;

/// `GET /riders/{rider_id}/deliveries`.
#[derive(Serialize, ToSchema)]
pub struct RiderDeliveries {
    pub rider_id: String,
    /// Newest first, at most 50.
    pub deliveries: Vec<Delivery>,
}

/// The rider id of the path: the token's own (or any, for an operator).
fn rider(caller: &Caller, raw: String) -> ApiResult<String> {
    let rider_id = text(Some(raw), "rider_id", 64)?
        .ok_or_else(|| ApiError::invalid("rider_id", "rider_id must not be empty"))?;
    caller.require_reader(Role::Rider, &rider_id)?;
    Ok(rider_id)
}

async fn read(state: &AppState, rider_id: &str) -> ApiResult<RiderDeliveries> {
    Ok(RiderDeliveries {
        rider_id: rider_id.to_owned(),
        deliveries: read_model::rider_deliveries(&state.db, rider_id, LIMIT).await?,
    })
}

/// The orders assigned to the rider, newest first: where to pick each up and where to take it.
#[utoipa::path(
    get, path = "/riders/{rider_id}/deliveries", tag = "deliveries",
    operation_id = "listRiderDeliveries",
    security(("bearerToken" = [])),
    params(("rider_id" = String, Path, description = "The rider")),
    responses(
        (status = 200, description = "The deliveries (none for a rider Courier does not know).", body = RiderDeliveries),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this rider's (or an operator's) token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a rider id too long or with control characters.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(rider_id): Path<String>,
) -> ApiResult<Json<RiderDeliveries>> {
    let rider_id = rider(&caller, rider_id)?;
    Ok(Json(read(&state, &rider_id).await?))
}

/// The rider's deliveries live (server-sent events): what `GET /riders/{rider_id}/deliveries`
/// answers, now and whenever one is assigned, moves or is taken away.
#[utoipa::path(
    get, path = "/riders/{rider_id}/deliveries/events", tag = "deliveries",
    operation_id = "streamRiderDeliveries",
    security(("bearerToken" = [])),
    params(("rider_id" = String, Path, description = "The rider")),
    responses(
        (status = 200, description = "A `text/event-stream` that stays open. Each `deliveries` \
event's data is the list as `GET /riders/{rider_id}/deliveries` shows it (`RiderDeliveries`): one \
now, then one whenever it changes. An `error` event (`{\"status\", \"code\"}`) ends it; after a \
dropped connection, open it again.",
            body = String, content_type = "text/event-stream"),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this rider's (or an operator's) token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a rider id too long or with control characters.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn delivery_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(rider_id): Path<String>,
) -> ApiResult<Response> {
    let rider_id = rider(&caller, rider_id)?;
    let subscription = state.live.subscribe();
    let watched = rider_id.clone();
    let stream = live::stream(
        subscription,
        "deliveries",
        None,
        move |change| change.rider_id.as_deref() == Some(watched.as_str()),
        move || {
            let (state, rider_id) = (state.clone(), rider_id.clone());
            async move { live::Snapshot::of(&read(&state, &rider_id).await?, false) }
        },
    );
    Ok(stream.into_response())
}
