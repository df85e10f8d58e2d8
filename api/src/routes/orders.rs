//! `POST /orders` and `GET /orders/{order_id}`.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use courier_workflows::domain::{
    CardNumber, Currency, CustomerId, DeliveryAddress, EmailAddress, MenuItemId, Money, OrderId,
    PhoneNumber, Quantity, ShopId,
};
use courier_workflows::order::{OrderLine, OrderRequest, OrderStatus, PaymentResult};
use serde_json::{Value, json};

use crate::AppState;
use crate::body::{JsonBody, object, required_str};
use crate::catalog;
use crate::error::{ApiError, ApiResult};
use crate::read_model;
use crate::workflow::{Placed, place_order};

/// An order as the customer sent it, every field parsed; the catalog is consulted after.
struct PlaceOrder {
    customer_id: CustomerId,
    shop_id: ShopId,
    items: Vec<(MenuItemId, Quantity)>,
    delivery_address: DeliveryAddress,
    phone: PhoneNumber,
    email: EmailAddress,
    card: CardNumber,
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
    Ok(PlaceOrder {
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
async fn price(state: &AppState, order: PlaceOrder) -> ApiResult<OrderRequest> {
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
        order_id: OrderId::new(uuid::Uuid::new_v4()),
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
    })
}

fn location(order_id: OrderId) -> [(header::HeaderName, String); 1] {
    [(header::LOCATION, format!("/orders/{order_id}"))]
}

pub async fn place(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let order = parse(&body)?;
    let request = price(&state, order).await?;
    let order_id = request.order_id;
    tracing::info!(%order_id, workflow_id = %order_id.workflow_id(), "placing order");
    let placed = place_order(
        &state.temporal,
        &state.settings.task_queue,
        request,
        state.settings.payment_wait,
    )
    .await?;
    match placed {
        Placed::Settled(PaymentResult::Paid) => {
            let details = read_model::order(&state.db, order_id.uuid())
                .await?
                .ok_or_else(|| {
                    ApiError::internal("placing order", "paid order missing from the read model")
                })?;
            Ok((StatusCode::CREATED, location(order_id), Json(details)).into_response())
        }
        Placed::Pending => Ok((
            StatusCode::ACCEPTED,
            location(order_id),
            Json(json!({ "order_id": order_id, "status": OrderStatus::PaymentPending })),
        )
            .into_response()),
        Placed::Settled(PaymentResult::Declined { reason }) => Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            format!("the card was declined: {reason}"),
        )
        .with("order_id", order_id.to_string())),
        Placed::Settled(PaymentResult::OutOfStock { menu_item_id, name }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "out_of_stock",
            format!("{name} is out of stock; nothing was charged"),
        )
        .with("order_id", order_id.to_string())
        .with("menu_item_id", menu_item_id.as_str())),
    }
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
