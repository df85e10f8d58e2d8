//! `POST /orders` and `GET /orders/{order_id}`.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use courier_workflows::OrderWorkflow;
use courier_workflows::domain::{
    CardNumber, Currency, CustomerId, DeliveryAddress, EmailAddress, MenuItemId, Money, OrderId,
    PhoneNumber, Quantity, ShopId,
};
use courier_workflows::order::{
    Cancellation, Language, OrderLine, OrderRequest, OrderStatus, PaymentResult,
};
use serde_json::{Value, json};

use crate::AppState;
use crate::body::{JsonBody, object, optional_str, required_str};
use crate::catalog;
use crate::error::{ApiError, ApiResult};
use crate::placement::{self, Claimed, Verdict};
use crate::read_model;
use crate::workflow::{Placed, act, place_order};
use courier_workflows::order::RefusalCode;

/// An order as the customer sent it, every field parsed; the catalog is consulted after.
struct PlaceOrder {
    customer_id: CustomerId,
    shop_id: ShopId,
    items: Vec<(MenuItemId, Quantity)>,
    delivery_address: DeliveryAddress,
    phone: PhoneNumber,
    email: EmailAddress,
    card: CardNumber,
    language: Option<Language>,
}

fn parse(body: &Value) -> ApiResult<PlaceOrder> {
    let body = object(body, false)?;
    let customer_id = CustomerId::parse(required_str(body, "customer_id", "customer_id")?)?;
    let shop_id = ShopId::parse(required_str(body, "shop_id", "shop_id")?)?;
    let items = match body.get("items") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => return Err(ApiError::invalid("items", "items must not be empty")),
        None | Some(Value::Null) => return Err(ApiError::invalid("items", "items is required")),
        Some(_) => return Err(ApiError::invalid("items", "items must be an array")),
    };
    if items.len() > 50 {
        return Err(ApiError::invalid("items", "an order has at most 50 lines"));
    }
    let mut seen = HashSet::new();
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("items[{i}]");
        if !item.is_object() {
            return Err(ApiError::invalid(
                &path,
                format!("{path} must be an object"),
            ));
        }
        let id_path = format!("{path}.menu_item_id");
        let id = MenuItemId::parse(required_str(item, "menu_item_id", &id_path)?)
            .map_err(|e| ApiError::invalid(&id_path, e.message))?;
        let qty_path = format!("{path}.quantity");
        let quantity = item
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| ApiError::invalid(&qty_path, format!("{qty_path} must be an integer")))
            .and_then(|q| {
                Quantity::parse(q).map_err(|e| ApiError::invalid(&qty_path, e.message))
            })?;
        if !seen.insert(id.clone()) {
            return Err(ApiError::invalid(
                &id_path,
                "each menu item may appear once; raise its quantity instead",
            ));
        }
        lines.push((id, quantity));
    }
    let delivery_address =
        DeliveryAddress::parse(required_str(body, "delivery_address", "delivery_address")?)?;
    let phone = PhoneNumber::parse(required_str(body, "phone", "phone")?)?;
    let email = EmailAddress::parse(required_str(body, "email", "email")?)?;
    let payment = match body.get("payment") {
        Some(p @ Value::Object(_)) => p,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("payment", "payment is required"));
        }
        Some(_) => return Err(ApiError::invalid("payment", "payment must be an object")),
    };
    let card = CardNumber::parse(required_str(payment, "card_number", "payment.card_number")?)?;
    let language = match optional_str(body, "language", "language")? {
        None => None,
        Some(raw) => Some(
            Language::parse(raw)
                .ok_or_else(|| ApiError::invalid("language", "language must be ko or en"))?,
        ),
    };
    Ok(PlaceOrder {
        language,
        customer_id,
        shop_id,
        items: lines,
        delivery_address,
        phone,
        email,
        card,
    })
}

/// Prices the order from the shop's menu; unknown shops and items are the caller's error.
async fn price(state: &AppState, order_id: OrderId, order: PlaceOrder) -> ApiResult<OrderRequest> {
    let shop = catalog::shop(&state.db, order.shop_id.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_shop",
                "no such shop",
            )
            .with("field", "shop_id")
        })?;
    let menu = catalog::menu(&state.db, order.shop_id.as_str()).await?;
    let mut lines = Vec::with_capacity(order.items.len());
    let mut total: i64 = 0;
    for (i, (id, quantity)) in order.items.into_iter().enumerate() {
        let item = menu
            .iter()
            .find(|m| m.menu_item_id == id.as_str())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_menu_item",
                    format!("{} has no menu item {id}", shop.name),
                )
                .with("field", format!("items[{i}].menu_item_id"))
                .with("menu_item_id", id.as_str())
            })?;
        total += item.price_minor * i64::from(quantity.get());
        lines.push(OrderLine {
            menu_item_id: id,
            name: item.name.clone(),
            quantity,
            unit_price_minor: item.price_minor,
        });
    }
    let currency = Currency::parse(menu.first().map(|m| m.currency.as_str()).unwrap_or("KRW"))?;
    Ok(OrderRequest {
        order_id,
        customer_id: order.customer_id,
        shop_id: order.shop_id,
        shop_name: shop.name,
        lines,
        total: Money::new(total, currency),
        delivery_address: order.delivery_address,
        phone: order.phone,
        email: order.email,
        card: order.card,
        placed_at: Utc::now(),
        policy: state.settings.saga.clone(),
        language: order.language,
    })
}

fn location(order_id: OrderId) -> [(header::HeaderName, String); 1] {
    [(header::LOCATION, format!("/orders/{order_id}"))]
}

pub async fn place(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let order = parse(&body)?;
    let (order_id, key) = match placement::claim_key(&state, &headers, &body).await? {
        Claimed::Replay { status, body } => {
            return Ok((status, replayed_location(&body), Json(body)).into_response());
        }
        Claimed::New { order_id, key } => (order_id, key),
    };
    let request = price(&state, order_id, order).await?;
    tracing::info!(%order_id, workflow_id = %order_id.workflow_id(), "placing order");
    placement::begin(&state, order_id).await?;
    let placed = place_order(
        &state.temporal,
        &state.settings.task_queue,
        request,
        state.settings.start_timeout,
        state.settings.payment_wait,
    )
    .await;
    let settled = match placed {
        Placed::Settled(result) => result,
        Placed::Pending => return pending(order_id),
        Placed::Ended => ended_outcome(&state, order_id).await?,
        Placed::Unconfirmed => match placement::give_up(&state, order_id).await? {
            Verdict::Started => return pending(order_id),
            Verdict::Abandoned => {
                if let Some(key) = &key {
                    placement::forget_key(&state, key, order_id).await?;
                }
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "orders_unavailable",
                    "orders cannot be placed right now; nothing was charged; retry shortly",
                ));
            }
        },
    };
    let (status, answer) = settled_answer(&state, order_id, settled).await?;
    if let Some(key) = &key {
        placement::store_answer(&state, key, status, &answer).await?;
    }
    let location = (status == StatusCode::CREATED).then(|| location(order_id));
    Ok((status, location, Json(answer)).into_response())
}

/// A replayed `201` carries the order's `Location` again.
fn replayed_location(body: &Value) -> Option<[(header::HeaderName, String); 1]> {
    body.get("status")
        .and(body.get("order_id"))
        .and_then(Value::as_str)
        .map(|id| [(header::LOCATION, format!("/orders/{id}"))])
}

/// The answer to a placement whose payment settled: the order (`201`), or the error that ended it.
async fn settled_answer(
    state: &AppState,
    order_id: OrderId,
    settled: PaymentResult,
) -> ApiResult<(StatusCode, Value)> {
    let refused = |err: ApiError| -> ApiResult<(StatusCode, Value)> {
        let status = err.status;
        let body = serde_json::to_value(err.body()).map_err(|e| ApiError::internal("answer", e))?;
        Ok((status, body))
    };
    match settled {
        PaymentResult::Paid => {
            let details = read_model::order(&state.db, order_id.uuid())
                .await?
                .ok_or_else(|| {
                    ApiError::internal("placing order", "paid order missing from the read model")
                })?;
            let body =
                serde_json::to_value(details).map_err(|e| ApiError::internal("answer", e))?;
            Ok((StatusCode::CREATED, body))
        }
        PaymentResult::Declined { reason } => refused(
            ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment_declined",
                format!("the card was declined: {reason}"),
            )
            .with("order_id", order_id.to_string()),
        ),
        PaymentResult::OutOfStock { menu_item_id, name } => refused(
            ApiError::new(
                StatusCode::CONFLICT,
                "out_of_stock",
                format!("{name} is out of stock; nothing was charged"),
            )
            .with("order_id", order_id.to_string())
            .with("menu_item_id", menu_item_id.as_str()),
        ),
        PaymentResult::Ended { status, reason } => {
            let (http, code) = match status {
                OrderStatus::PaymentFailed => (StatusCode::PAYMENT_REQUIRED, "payment_failed"),
                OrderStatus::Cancelled => (StatusCode::CONFLICT, "order_cancelled"),
                _ => (StatusCode::CONFLICT, "order_ended"),
            };
            refused(
                ApiError::new(http, code, format!("the order ended {status}: {reason}"))
                    .with("order_id", order_id.to_string()),
            )
        }
    }
}

fn pending(order_id: OrderId) -> ApiResult<Response> {
    Ok((
        StatusCode::ACCEPTED,
        location(order_id),
        Json(json!({ "order_id": order_id, "status": OrderStatus::PaymentPending })),
    )
        .into_response())
}

/// The payment outcome of an order whose workflow has ended, from the read model.
async fn ended_outcome(state: &AppState, order_id: OrderId) -> ApiResult<PaymentResult> {
    let order = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(|| {
            ApiError::internal(
                "replaying an order",
                "ended order missing from the read model",
            )
        })?;
    let status = OrderStatus::parse(&order.status).ok_or_else(|| {
        ApiError::internal("replaying an order", "unknown status in the read model")
    })?;
    let reason = order.reason.unwrap_or_default();
    Ok(match status {
        OrderStatus::PaymentDeclined => PaymentResult::Declined { reason },
        OrderStatus::OutOfStock => {
            // The reason reads "{name} is out of stock": find the line it names.
            let line = order.items.as_array().into_iter().flatten().find(|line| {
                line["name"]
                    .as_str()
                    .is_some_and(|name| reason.starts_with(name))
            });
            let item = line
                .and_then(|l| l["menu_item_id"].as_str())
                .unwrap_or("unknown");
            let name = line.and_then(|l| l["name"].as_str()).unwrap_or("an item");
            PaymentResult::OutOfStock {
                menu_item_id: courier_workflows::domain::MenuItemId::parse(item)?,
                name: name.to_owned(),
            }
        }
        OrderStatus::PaymentFailed | OrderStatus::Cancelled
            if !order
                .timeline
                .iter()
                .any(|t| t.status == OrderStatus::Paid.as_str()) =>
        {
            PaymentResult::Ended { status, reason }
        }
        _ => PaymentResult::Paid,
    })
}

/// `POST /orders/{order_id}/cancel {"reason"?}`: the customer's cancellation, until pickup.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let body = object(&body, true)?;
    let reason = optional_str(body, "reason", "reason")?
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("cancelled by the customer");
    if reason.chars().count() > 200 {
        return Err(ApiError::invalid(
            "reason",
            "reason must be at most 200 characters",
        ));
    }
    let order_id = order_id(&id)?;
    let current = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    // Cancelling a cancelled order is harmless: it answers the order as it is.
    if is_cancelled(&current.status) {
        return Ok(Json(current).into_response());
    }
    let cancellation = Cancellation {
        reason: reason.to_owned(),
    };
    let acted = act(
        &state.temporal,
        order_id,
        OrderWorkflow::cancel_order,
        cancellation,
        RefusalCode::CannotCancel,
    )
    .await;
    let details = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    match acted {
        Ok(_) => Ok(Json(details).into_response()),
        // The workflow ended between our read and the update: by a cancellation, that is success.
        Err(_) if is_cancelled(&details.status) => Ok(Json(details).into_response()),
        Err(err) => Err(err),
    }
}

fn is_cancelled(status: &str) -> bool {
    status == OrderStatus::Cancelled.as_str() || status == OrderStatus::Cancelling.as_str()
}

/// Parses an order id from a path; a malformed one cannot name an order.
pub fn order_id(raw: &str) -> ApiResult<OrderId> {
    OrderId::parse(raw).map_err(|_| ApiError::order_not_found())
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let order_id = order_id(&id)?;
    let details = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    Ok(Json(details).into_response())
}

/// `GET /orders/{order_id}/notifications`: the log of what the customer and the shop were sent.
pub async fn notifications(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let order_id = order_id(&id)?;
    read_model::order_shop(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    let log = read_model::notifications(&state.db, order_id.uuid()).await?;
    Ok(Json(json!({ "order_id": order_id, "notifications": log })).into_response())
}
