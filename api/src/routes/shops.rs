//! Shops: the catalog customers browse, and the board and actions of shop owners.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use courier_workflows::OrderWorkflow;
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::{MenuItemId, OrderId, ShopId};
use courier_workflows::order::{OrderStatus, ShopAction, ShopRejection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::catalog::{self, MenuItem, Shop, StockChange};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Path, Query, text};
use crate::live;
use crate::read_model::{self, OrderSummary};
use crate::routes::StatusChange;
use crate::routes::orders::order_id;
use crate::workflow::{act, step};

fn unknown_shop() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownShop,
        "no such shop",
    )
}

/// The shop named in a path, if it exists (a malformed id names no shop).
async fn known_shop(state: &AppState, raw: &str) -> ApiResult<(ShopId, Shop)> {
    let shop_id = ShopId::parse(raw).map_err(|_| unknown_shop())?;
    let shop = catalog::shop(&state.db, shop_id.as_str())
        .await?
        .ok_or_else(unknown_shop)?;
    Ok((shop_id, shop))
}

/// `GET /shops`.
#[derive(Serialize, ToSchema)]
pub struct ShopList {
    pub shops: Vec<Shop>,
}

/// Every shop, by name.
#[utoipa::path(
    get, path = "/shops", tag = "shops", operation_id = "listShops",
    responses(
        (status = 200, description = "The shops.", body = ShopList),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<ShopList>> {
    Ok(Json(ShopList {
        shops: catalog::shops(&state.db).await?,
    }))
}

/// `GET /shops/{shop_id}/menu`.
#[derive(Serialize, ToSchema)]
pub struct Menu {
    pub shop_id: String,
    pub name: String,
    pub items: Vec<MenuItem>,
}

/// A shop's menu with prices and today's stock.
#[utoipa::path(
    get, path = "/shops/{shop_id}/menu", tag = "shops", operation_id = "getMenu",
    params(("shop_id" = String, Path, description = "The shop")),
    responses(
        (status = 200, description = "The menu.", body = Menu),
        (status = 404, description = "`unknown_shop`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn menu(
    State(state): State<AppState>,
    Path(shop_id): Path<String>,
) -> ApiResult<Json<Menu>> {
    let (shop_id, shop) = known_shop(&state, &shop_id).await?;
    let items = catalog::menu(&state.db, shop_id.as_str()).await?;
    Ok(Json(Menu {
        shop_id: shop.shop_id,
        name: shop.name,
        items,
    }))
}

/// `GET /shops/{shop_id}/orders?status=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// Only orders of this status (one the shop sees: not `PAYMENT_PENDING`, `PAYMENT_DECLINED`,
    /// `OUT_OF_STOCK`, `PAYMENT_FAILED` or `COMPENSATING`); empty or left out: all of them.
    #[param(value_type = Option<String>,
        pattern = "^(PAID|ACCEPTED|RIDER_ASSIGNED|READY|PICKED_UP|DELIVERED|REJECTED|CANCELLING|CANCELLED|NEEDS_ATTENTION)?$")]
    status: Option<String>,
}

/// `GET /shops/{shop_id}/orders`.
#[derive(Serialize, ToSchema)]
pub struct ShopBoard {
    pub shop_id: String,
    /// Newest first, at most 200.
    pub orders: Vec<OrderSummary>,
}

/// The shop's board: every paid order it has been handed (newest first, at most 200), or those
/// of one status.
#[utoipa::path(
    get, path = "/shops/{shop_id}/orders", tag = "shops", operation_id = "listShopOrders",
    security(("bearerToken" = [])),
    params(("shop_id" = String, Path, description = "The shop"), BoardQuery),
    responses(
        (status = 200, description = "The board.", body = ShopBoard),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this shop's (or an operator's) token.", body = ErrorBody),
        (status = 404, description = "`unknown_shop`", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a status the board does not show.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn board(
    State(state): State<AppState>,
    caller: Caller,
    Path(shop_id): Path<String>,
    Query(query): Query<BoardQuery>,
) -> ApiResult<Json<ShopBoard>> {
    caller.require_reader(Role::Shop, &shop_id)?;
    let (shop_id, _) = known_shop(&state, &shop_id).await?;
    let on_board = on_board();
    let statuses = match query.status.as_deref() {
        None | Some("") => on_board,
        Some(raw) => {
            let status = OrderStatus::parse(raw)
                .filter(OrderStatus::is_on_shop_board)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "status",
                        format!("status must be one of {}", on_board.join(", ")),
                    )
                })?;
            vec![status.as_str()]
        }
    };
    Ok(Json(read_board(&state, &shop_id, &statuses).await?))
}

/// Every status the board shows.
fn on_board() -> Vec<&'static str> {
    OrderStatus::ALL
        .iter()
        .filter(|s| s.is_on_shop_board())
        .map(OrderStatus::as_str)
        .collect()
}

async fn read_board(state: &AppState, shop_id: &ShopId, statuses: &[&str]) -> ApiResult<ShopBoard> {
    let orders = read_model::shop_orders(&state.db, shop_id.as_str(), statuses, 200).await?;
    Ok(ShopBoard {
        shop_id: shop_id.to_string(),
        orders,
    })
}

/// The shop's board live (server-sent events): what `GET /shops/{shop_id}/orders` answers, now
/// and whenever one of its orders changes (a new paid order arrives, one is cancelled, ...).
#[utoipa::path(
    get, path = "/shops/{shop_id}/orders/events", tag = "shops", operation_id = "streamShopOrders",
    security(("bearerToken" = [])),
    params(("shop_id" = String, Path, description = "The shop")),
    responses(
        (status = 200, description = "A `text/event-stream` that stays open. Each `board` event's \
data is the whole board as `GET /shops/{shop_id}/orders` shows it (`ShopBoard`): one now, then one \
whenever it changes. An `error` event (`{\"status\", \"code\"}`) ends it; after a dropped \
connection, open it again.",
            body = String, content_type = "text/event-stream"),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this shop's (or an operator's) token.", body = ErrorBody),
        (status = 404, description = "`unknown_shop`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn board_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(shop_id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    caller.require_reader(Role::Shop, &shop_id)?;
    let (shop_id, _) = known_shop(&state, &shop_id).await?;
    let subscription = state.live.subscribe();
    let watched = shop_id.clone();
    let stream = live::stream(
        subscription,
        "board",
        None,
        move |change| change.shop_id.as_deref() == Some(watched.as_str()),
        move || {
            let (state, shop_id) = (state.clone(), shop_id.clone());
            async move { live::Snapshot::of(&read_board(&state, &shop_id, &on_board()).await?, false) }
        },
    );
    Ok(stream.into_response())
}

/// The order, if it exists and belongs to this shop; another shop's order is "not found".
async fn shop_order(
    state: &AppState,
    caller: &Caller,
    shop_id: &str,
    raw_order_id: &str,
) -> ApiResult<(ShopId, OrderId)> {
    caller.require_subject(Role::Shop, shop_id)?;
    let order_id = order_id(raw_order_id)?;
    let shop_id = ShopId::parse(shop_id).map_err(|_| ApiError::order_not_found())?;
    let owner = read_model::order_shop(&state.db, order_id.uuid()).await?;
    match owner {
        Some(owner) if owner == shop_id.as_str() => Ok((shop_id, order_id)),
        _ => Err(ApiError::order_not_found()),
    }
}

/// Accept a paid order.
#[utoipa::path(
    post, path = "/shops/{shop_id}/orders/{order_id}/accept", tag = "shops",
    operation_id = "acceptOrder",
    security(("bearerToken" = [])),
    params(("shop_id" = String, Path, description = "The shop"),
        ("order_id" = String, Path, description = "One of the shop's orders")),
    responses(
        (status = 200, description = "Accepted: `ACCEPTED`.", body = StatusChange),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this shop's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found` (or another shop's order)", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: the order is not `PAID` or has ended.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path((shop_id, order_id)): Path<(String, String)>,
) -> ApiResult<Json<StatusChange>> {
    let (shop_id, order_id) = shop_order(&state, &caller, &shop_id, &order_id).await?;
    step(
        &state.temporal,
        order_id,
        OrderWorkflow::accept,
        ShopAction { shop_id },
    )
    .await
}

/// Mark an accepted order ready for pickup.
#[utoipa::path(
    post, path = "/shops/{shop_id}/orders/{order_id}/ready", tag = "shops",
    operation_id = "markOrderReady",
    security(("bearerToken" = [])),
    params(("shop_id" = String, Path, description = "The shop"),
        ("order_id" = String, Path, description = "One of the shop's orders")),
    responses(
        (status = 200, description = "`READY` (the rider may come before or after).", body = StatusChange),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this shop's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found` (or another shop's order)", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: not accepted yet, or ended.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn ready(
    State(state): State<AppState>,
    caller: Caller,
    Path((shop_id, order_id)): Path<(String, String)>,
) -> ApiResult<Json<StatusChange>> {
    let (shop_id, order_id) = shop_order(&state, &caller, &shop_id, &order_id).await?;
    step(
        &state.temporal,
        order_id,
        OrderWorkflow::ready,
        ShopAction { shop_id },
    )
    .await
}

/// `POST .../reject`: why the shop turns the order down.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectOrderRequest {
    /// The customer reads it: 1 to 200 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200,
        example = "the oven is broken")]
    pub reason: Option<String>,
}

/// Turn a paid order down: answers once the customer is refunded and the stock is back.
#[utoipa::path(
    post, path = "/shops/{shop_id}/orders/{order_id}/reject", tag = "shops",
    operation_id = "rejectOrder",
    security(("bearerToken" = [])),
    params(("shop_id" = String, Path, description = "The shop"),
        ("order_id" = String, Path, description = "One of the shop's orders")),
    request_body = RejectOrderRequest,
    responses(
        (status = 200, description = "`REJECTED` (or `NEEDS_ATTENTION` if a refund step waits for an operator).", body = StatusChange),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this shop's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found` (or another shop's order)", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: accepted already, or ended.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: no reason.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path((shop_id, order_id)): Path<(String, String)>,
    Body(body): Body<RejectOrderRequest>,
) -> ApiResult<Json<StatusChange>> {
    let reason = text(body.reason, "reason", 200)?
        .ok_or_else(|| ApiError::invalid("reason", "reason is required: the customer reads it"))?;
    let (shop_id, order_id) = shop_order(&state, &caller, &shop_id, &order_id).await?;
    let status = act(
        &state.temporal,
        order_id,
        OrderWorkflow::reject,
        ShopRejection { shop_id, reason },
        ErrorCode::InvalidTransition,
    )
    .await?;
    Ok(Json(StatusChange {
        order_id: order_id.uuid(),
        status,
    }))
}

/// `POST .../stock`: exactly one of `add` and `set`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StockChangeRequest {
    /// Add this many (1 to 1,000,000).
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub add: Option<i64>,
    /// Set the stock to this (0 to 1,000,000).
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub set: Option<i64>,
}

impl TryFrom<StockChangeRequest> for StockChange {
    type Error = ApiError;

    fn try_from(body: StockChangeRequest) -> ApiResult<Self> {
        match (body.add, body.set) {
            (Some(n), None) if (1..=1_000_000).contains(&n) => Ok(StockChange::Add(n)),
            (Some(_), None) => Err(ApiError::invalid(
                "add",
                "add must be between 1 and 1000000",
            )),
            (None, Some(n)) if (0..=1_000_000).contains(&n) => Ok(StockChange::Set(n)),
            (None, Some(_)) => Err(ApiError::invalid(
                "set",
                "set must be between 0 and 1000000",
            )),
            _ => Err(ApiError::invalid("body", "give exactly one of add and set")),
        }
    }
}

/// Add to a menu item's stock, or set it: answers the item with its new stock.
#[utoipa::path(
    post, path = "/shops/{shop_id}/menu/{menu_item_id}/stock", tag = "shops",
    operation_id = "changeStock",
    security(("bearerToken" = [])),
    params(("shop_id" = String, Path, description = "The shop"),
        ("menu_item_id" = String, Path, description = "An item on its menu")),
    request_body = StockChangeRequest,
    responses(
        (status = 200, description = "The item with its new stock.", body = MenuItem),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this shop's token.", body = ErrorBody),
        (status = 404, description = "`unknown_shop` or `unknown_menu_item`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn stock(
    State(state): State<AppState>,
    caller: Caller,
    Path((shop_id, menu_item_id)): Path<(String, String)>,
    Body(body): Body<StockChangeRequest>,
) -> ApiResult<Json<MenuItem>> {
    caller.require_subject(Role::Shop, &shop_id)?;
    let change = StockChange::try_from(body)?;
    let (shop_id, _) = known_shop(&state, &shop_id).await?;
    let unknown_item = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownMenuItem,
            "the shop has no such menu item",
        )
    };
    let menu_item_id = MenuItemId::parse(&menu_item_id).map_err(|_| unknown_item())?;
    let item = catalog::change_stock(&state.db, shop_id.as_str(), menu_item_id.as_str(), change)
        .await?
        .ok_or_else(unknown_item)?;
    Ok(Json(item))
}
