//! Shops: the catalog customers browse, and the board and actions of shop owners.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use courier_workflows::OrderWorkflow;
use courier_workflows::domain::{OrderId, ShopId};
use courier_workflows::order::{OrderStatus, ShopAction, ShopRejection};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::body::{JsonBody, object, optional_str};
use crate::catalog;
use crate::catalog::StockChange;
use crate::error::{ApiError, ApiResult};
use crate::read_model;
use crate::routes::orders::order_id;
use crate::workflow::{act, step};
use courier_workflows::order::RefusalCode;

fn unknown_shop() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "unknown_shop", "no such shop")
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "shops": catalog::shops(&state.db).await? })))
}

pub async fn menu(
    State(state): State<AppState>,
    Path(shop_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let shop = catalog::shop(&state.db, &shop_id)
        .await?
        .ok_or_else(unknown_shop)?;
    let items = catalog::menu(&state.db, &shop_id).await?;
    Ok(Json(
        json!({ "shop_id": shop.shop_id, "name": shop.name, "items": items }),
    ))
}

#[derive(Deserialize)]
pub struct BoardQuery {
    status: Option<String>,
}

/// The shop's board: every order it has been handed, or those of one status.
pub async fn board(
    State(state): State<AppState>,
    Path(shop_id): Path<String>,
    Query(query): Query<BoardQuery>,
) -> ApiResult<Json<Value>> {
    catalog::shop(&state.db, &shop_id)
        .await?
        .ok_or_else(unknown_shop)?;
    let on_board: Vec<&str> = OrderStatus::ALL
        .iter()
        .filter(|s| s.is_on_shop_board())
        .map(OrderStatus::as_str)
        .collect();
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
    let orders = read_model::shop_orders(&state.db, &shop_id, &statuses, 200).await?;
    Ok(Json(json!({ "shop_id": shop_id, "orders": orders })))
}

/// The order, if it exists and belongs to this shop; another shop's order is "not found".
async fn shop_order(
    state: &AppState,
    shop_id: &str,
    raw_order_id: &str,
) -> ApiResult<(ShopId, OrderId)> {
    let order_id = order_id(raw_order_id)?;
    let owner = read_model::order_shop(&state.db, order_id.uuid()).await?;
    match owner {
        Some(owner) if owner == shop_id => Ok((ShopId::parse(shop_id)?, order_id)),
        _ => Err(ApiError::order_not_found()),
    }
}

fn moved(order_id: OrderId, status: OrderStatus) -> Json<Value> {
    Json(json!({ "order_id": order_id, "status": status }))
}

pub async fn accept(
    State(state): State<AppState>,
    Path((shop_id, order_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (shop_id, order_id) = shop_order(&state, &shop_id, &order_id).await?;
    step(
        &state.temporal,
        order_id,
        OrderWorkflow::accept,
        ShopAction { shop_id },
    )
    .await
}

pub async fn ready(
    State(state): State<AppState>,
    Path((shop_id, order_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (shop_id, order_id) = shop_order(&state, &shop_id, &order_id).await?;
    step(
        &state.temporal,
        order_id,
        OrderWorkflow::ready,
        ShopAction { shop_id },
    )
    .await
}

pub async fn reject(
    State(state): State<AppState>,
    Path((shop_id, order_id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let body = object(&body, false)?;
    let reason = optional_str(body, "reason", "reason")?
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid("reason", "reason is required: the customer reads it"))?;
    if reason.chars().count() > 200 {
        return Err(ApiError::invalid(
            "reason",
            "reason must be at most 200 characters",
        ));
    }
    let (shop_id, order_id) = shop_order(&state, &shop_id, &order_id).await?;
    let rejection = ShopRejection {
        shop_id,
        reason: reason.to_owned(),
    };
    let status = act(
        &state.temporal,
        order_id,
        OrderWorkflow::reject,
        rejection,
        RefusalCode::InvalidTransition,
    )
    .await?;
    Ok(moved(order_id, status))
}

/// `POST /shops/{shop_id}/menu/{menu_item_id}/stock` with `{"add": n}` or `{"set": n}`: answers
/// the item with its new stock.
pub async fn stock(
    State(state): State<AppState>,
    Path((shop_id, menu_item_id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let body = object(&body, false)?;
    let number = |key: &str| -> ApiResult<Option<i64>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(key, format!("{key} must be an integer"))),
        }
    };
    let change = match (number("add")?, number("set")?) {
        (Some(n), None) if (1..=1_000_000).contains(&n) => StockChange::Add(n),
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "add",
                "add must be between 1 and 1000000",
            ));
        }
        (None, Some(n)) if (0..=1_000_000).contains(&n) => StockChange::Set(n),
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "set",
                "set must be between 0 and 1000000",
            ));
        }
        _ => return Err(ApiError::invalid("body", "give exactly one of add and set")),
    };
    catalog::shop(&state.db, &shop_id)
        .await?
        .ok_or_else(unknown_shop)?;
    let item = catalog::change_stock(&state.db, &shop_id, &menu_item_id, change)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_menu_item",
                "the shop has no such menu item",
            )
        })?;
    Ok(Json(json!(item)))
}
