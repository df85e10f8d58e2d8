//! `POST /orders` and `GET /orders/{order_id}`.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use courier_workflows::OrderWorkflow;
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::{
    CardNumber, Currency, CustomerId, DeliveryAddress, EmailAddress, MenuItemId, Money, OrderId,
    PaymentMethodId, PhoneNumber, Quantity, ShopId,
};
use courier_workflows::order::{
    Cancellation, Cause, Language, OrderLine, OrderRequest, OrderStatus, PaymentResult,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::catalog;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, OptionalBody, Path, required, text};
use crate::live;
use crate::placement::{self, Claimed, Verdict};
use crate::read_model::{self, OrderDetails};
use crate::workflow::{Placed, act, place_order};

// Every field is read as given and parsed into the domain's types by `PlaceOrder::try_from`, which
// names the field it refuses (so a missing field is `None` here, not a serde error).
/// An order as the customer sends it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PlaceOrderRequest {
    /// Who orders (Courier does not own customer accounts).
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$", example = "minji")]
    pub customer_id: Option<String>,
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$", example = "napoli-oven")]
    pub shop_id: Option<String>,
    /// 1 to 50 lines; each menu item at most once (raise its quantity instead).
    #[schema(required = true, value_type = Vec<OrderItemRequest>, min_items = 1, max_items = 50)]
    pub items: Option<Vec<OrderItemRequest>>,
    /// Where the rider takes the order: 5 to 200 characters.
    #[schema(required = true, value_type = String, min_length = 5, max_length = 200,
        example = "12 Sejong-daero, Jung-gu, Seoul")]
    pub delivery_address: Option<String>,
    /// E.164, for the SMS updates.
    #[schema(required = true, value_type = String, pattern = r"^\+[1-9][0-9]{7,14}$",
        example = "+821012345678")]
    pub phone: Option<String>,
    /// For the email updates.
    #[schema(required = true, value_type = String, max_length = 254, example = "minji@example.kr")]
    pub email: Option<String>,
    #[schema(required = true, value_type = PaymentDescription)]
    pub payment: Option<PaymentRequest>,
    /// The language of the customer's messages (`ko` when left out).
    #[schema(value_type = Option<Language>)]
    pub language: Option<Language>,
}

/// One line of [`PlaceOrderRequest`].
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderItemRequest {
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$", example = "margherita")]
    pub menu_item_id: Option<String>,
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 99, example = 2)]
    pub quantity: Option<i64>,
}

/// How the customer pays: a card number, which Courier exchanges for the provider's payment method
/// at once and never stores, or a payment method the client got from the provider itself. Test
/// cards of the payment sandbox: `4242 4242 4242 4242` pays, `4000 0000 0000 0002` is declined.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(
    dead_code,
    reason = "it only describes the body in the OpenAPI description"
)]
#[schema(as = Payment)]
pub enum PaymentDescription {
    Card(CardPayment),
    Method(MethodPayment),
}

/// Pay with a card number.
#[derive(Serialize, ToSchema)]
#[allow(
    dead_code,
    reason = "it only describes the body in the OpenAPI description"
)]
pub struct CardPayment {
    /// 12 to 19 digits (spaces allowed) passing the Luhn check.
    #[schema(example = "4242424242424242")]
    card_number: String,
}

/// Pay with a payment method the provider issued (`POST /v1/payment_methods` there).
#[derive(Serialize, ToSchema)]
#[allow(
    dead_code,
    reason = "it only describes the body in the OpenAPI description"
)]
pub struct MethodPayment {
    #[schema(pattern = "^pm_[A-Za-z0-9_-]{1,61}$", example = "pm_5f1c0a9e")]
    payment_method: String,
}

/// `payment` as read: exactly one of its two members (see [`PaymentDescription`]).
#[derive(Deserialize)]
pub struct PaymentRequest {
    pub card_number: Option<String>,
    pub payment_method: Option<String>,
}

/// Only the last four digits of a card number ever leave this struct: in `Debug`, and in the
/// serialization that fingerprints a request for its `Idempotency-Key`.
impl PaymentRequest {
    fn masked_card(&self) -> Option<String> {
        self.card_number.as_ref().map(|card| {
            let digits: Vec<char> = card.chars().filter(|c| !c.is_whitespace()).collect();
            let last4: String = digits[digits.len().saturating_sub(4)..].iter().collect();
            format!("**** {last4}")
        })
    }
}

impl Serialize for PaymentRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(masked) = self.masked_card() {
            map.serialize_entry("card_number", &masked)?;
        }
        if let Some(method) = &self.payment_method {
            map.serialize_entry("payment_method", method)?;
        }
        map.end()
    }
}

impl std::fmt::Debug for PaymentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRequest")
            .field("card_number", &self.masked_card())
            .field("payment_method", &self.payment_method)
            .finish()
    }
}

/// What an order pays with, once read.
enum Payment {
    /// Exchanged for a payment method before the order is placed.
    Card(CardNumber),
    Method(PaymentMethodId),
}

/// An order as the customer sent it, every field parsed; the catalog is consulted after.
struct PlaceOrder {
    customer_id: CustomerId,
    shop_id: ShopId,
    items: Vec<(MenuItemId, Quantity)>,
    delivery_address: DeliveryAddress,
    phone: PhoneNumber,
    email: EmailAddress,
    payment: Payment,
    language: Option<Language>,
}

impl TryFrom<&PlaceOrderRequest> for PlaceOrder {
    type Error = ApiError;

    fn try_from(body: &PlaceOrderRequest) -> ApiResult<Self> {
        let customer_id = CustomerId::parse(required(body.customer_id.as_deref(), "customer_id")?)?;
        let shop_id = ShopId::parse(required(body.shop_id.as_deref(), "shop_id")?)?;
        let items = required(body.items.as_ref(), "items")?;
        if items.is_empty() {
            return Err(ApiError::invalid("items", "items must not be empty"));
        }
        if items.len() > 50 {
            return Err(ApiError::invalid("items", "an order has at most 50 lines"));
        }
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let id_path = format!("items[{i}].menu_item_id");
            let id = MenuItemId::parse(required(item.menu_item_id.as_deref(), &id_path)?)
                .map_err(|e| ApiError::invalid(&id_path, e.message))?;
            let qty_path = format!("items[{i}].quantity");
            let quantity = Quantity::parse(required(item.quantity, &qty_path)?)
                .map_err(|e| ApiError::invalid(&qty_path, e.message))?;
            if !seen.insert(id.clone()) {
                return Err(ApiError::invalid(
                    &id_path,
                    "each menu item may appear once; raise its quantity instead",
                ));
            }
            lines.push((id, quantity));
        }
        let delivery_address = DeliveryAddress::parse(required(
            body.delivery_address.as_deref(),
            "delivery_address",
        )?)?;
        let phone = PhoneNumber::parse(required(body.phone.as_deref(), "phone")?)?;
        let email = EmailAddress::parse(required(body.email.as_deref(), "email")?)?;
        let payment = required(body.payment.as_ref(), "payment")?;
        let payment = match (&payment.card_number, &payment.payment_method) {
            (Some(card), None) => Payment::Card(CardNumber::parse(card)?),
            (None, Some(method)) => Payment::Method(PaymentMethodId::parse(method)?),
            (None, None) => {
                return Err(ApiError::invalid(
                    "payment.card_number",
                    "payment.card_number (or payment.payment_method) is required",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "payment",
                    "give one of card_number and payment_method, not both",
                ));
            }
        };
        Ok(PlaceOrder {
            customer_id,
            shop_id,
            items: lines,
            delivery_address,
            phone,
            email,
            payment,
            language: body.language,
        })
    }
}

/// Prices the order from the shop's menu (unknown shops and items are the caller's error), then
/// exchanges a card number for the provider's payment method: the order the saga gets carries
/// only the token.
async fn price(state: &AppState, order_id: OrderId, order: PlaceOrder) -> ApiResult<OrderRequest> {
    let shop = catalog::shop(&state.db, order.shop_id.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::UnknownShop,
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
                    ErrorCode::UnknownMenuItem,
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
    let payment_method = match order.payment {
        Payment::Method(method) => method,
        Payment::Card(card) => state.tokenizer.tokenize(&card).await?,
    };
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
        card: None,
        payment_method: Some(payment_method),
        placed_at: Utc::now(),
        policy: state.settings.saga.clone(),
        language: order.language,
    })
}

fn location(order_id: OrderId) -> [(header::HeaderName, String); 1] {
    [(header::LOCATION, format!("/orders/{order_id}"))]
}

/// `202`: the order exists and its payment is still being tried.
#[derive(Serialize, ToSchema)]
pub struct PendingOrder {
    pub order_id: uuid::Uuid,
    /// Always `PAYMENT_PENDING`.
    pub status: OrderStatus,
}

/// Place an order: reserve stock and charge the card within the request.
///
/// Answers `201` with the paid order (and its `Location`); `402 payment_declined` or
/// `409 out_of_stock` when it ended there (nothing charged; `order_id` names the ended order);
/// `202` with `Location` when the payment is still being tried after a few seconds (follow the
/// order). With an `Idempotency-Key`, a retry with the same body is the same order, and once its
/// answer settled it is answered again as it was.
#[utoipa::path(
    post, path = "/orders", tag = "orders", operation_id = "placeOrder",
    security(("bearerToken" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible characters; retries with the same key and body are one order")),
    request_body = PlaceOrderRequest,
    responses(
        (status = 201, description = "Paid and handed to the shop.", body = OrderDetails,
            headers(("Location" = String, description = "The order: `/orders/{order_id}`"))),
        (status = 202, description = "The payment is still being tried; follow the order.",
            body = PendingOrder,
            headers(("Location" = String, description = "The order: `/orders/{order_id}`"))),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 402, description = "`payment_declined` or `payment_failed`: nothing was charged.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a customer's token, or another customer's (`customer_id`).", body = ErrorBody),
        (status = 409, description = "`out_of_stock` (`menu_item_id` names the item; nothing was charged), `order_cancelled`, `order_ended`, or `idempotency_key_busy`.", body = ErrorBody),
        (status = 422, description = "`invalid_request` (`field` names it), `unknown_shop`, `unknown_menu_item`, `idempotency_key_reused`.", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: this customer placed too many orders lately (`COURIER_ORDER_RATE_PER_MINUTE`, `COURIER_ORDER_RATE_BURST`); nothing was placed.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a placement is accepted again"))),
        (status = 503, description = "`orders_unavailable`: Temporal did not confirm the order in time, or the payment provider could not tokenize the card; nothing was charged; retry.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn place(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<PlaceOrderRequest>,
) -> ApiResult<Response> {
    let order = PlaceOrder::try_from(&body)?;
    // Customers order for themselves only.
    caller.require_subject(Role::Customer, order.customer_id.as_str())?;
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
                    ErrorCode::OrdersUnavailable,
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
        let err = err.with("order_id", order_id.to_string());
        Ok((err.status, err.body()))
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
        PaymentResult::Declined { reason } => refused(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            ErrorCode::PaymentDeclined,
            format!("the card was declined: {reason}"),
        )),
        PaymentResult::OutOfStock { menu_item_id, name } => refused(
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::OutOfStock,
                format!("{name} is out of stock; nothing was charged"),
            )
            .with("menu_item_id", menu_item_id.as_str()),
        ),
        PaymentResult::Ended { status, reason } => {
            let (http, code) = match status {
                OrderStatus::PaymentFailed => {
                    (StatusCode::PAYMENT_REQUIRED, ErrorCode::PaymentFailed)
                }
                OrderStatus::Cancelled => (StatusCode::CONFLICT, ErrorCode::OrderCancelled),
                _ => (StatusCode::CONFLICT, ErrorCode::OrderEnded),
            };
            refused(ApiError::new(
                http,
                code,
                format!("the order ended {status}: {reason}"),
            ))
        }
    }
}

fn pending(order_id: OrderId) -> ApiResult<Response> {
    let body = PendingOrder {
        order_id: order_id.uuid(),
        status: OrderStatus::PaymentPending,
    };
    Ok((StatusCode::ACCEPTED, location(order_id), Json(body)).into_response())
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
    let reason = order.reason.clone().unwrap_or_default();
    Ok(match (status, &order.cause) {
        (OrderStatus::PaymentDeclined, _) => PaymentResult::Declined { reason },
        (OrderStatus::OutOfStock, Some(Cause::OutOfStock { menu_item_id })) => {
            let name = order
                .line(menu_item_id)
                .map_or_else(|| menu_item_id.to_string(), |line| line.name.clone());
            PaymentResult::OutOfStock {
                menu_item_id: menu_item_id.clone(),
                name,
            }
        }
        (OrderStatus::PaymentFailed | OrderStatus::Cancelled, _)
            if !order.was(OrderStatus::Paid) =>
        {
            PaymentResult::Ended { status, reason }
        }
        (OrderStatus::OutOfStock, _) => {
            return Err(ApiError::internal(
                "replaying an order",
                "an out-of-stock order without its cause",
            ));
        }
        _ => PaymentResult::Paid,
    })
}

/// `POST /orders/{order_id}/cancel`: why the customer cancels (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CancelOrderRequest {
    /// At most 200 characters; "cancelled by the customer" when left out.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// Cancel an order, until the rider picks it up.
///
/// Answers once the saga has undone what it did (rider released, ticket withdrawn, card
/// refunded, stock back): the order as it then is, usually `CANCELLED`. Cancelling a cancelled
/// order answers it as it is.
#[utoipa::path(
    post, path = "/orders/{order_id}/cancel", tag = "orders", operation_id = "cancelOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body(content = Option<CancelOrderRequest>, description = "May be left out."),
    responses(
        (status = 200, description = "Cancelled (or being cancelled).", body = OrderDetails),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a customer's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`cannot_cancel`: picked up, ended, or being refunded already.", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<CancelOrderRequest>,
) -> ApiResult<Response> {
    let reason =
        text(body.reason, "reason", 200)?.unwrap_or_else(|| "cancelled by the customer".to_owned());
    let order_id = order_id(&id)?;
    let current = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    caller.require_owner(&current)?;
    // Cancelling a cancelled order is harmless: it answers the order as it is.
    if is_cancelled(&current.status) {
        return Ok(Json(current).into_response());
    }
    let acted = act(
        &state.temporal,
        order_id,
        OrderWorkflow::cancel_order,
        Cancellation { reason },
        ErrorCode::CannotCancel,
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

/// Follow an order: its status, timeline, rider and why it ended, from the read model.
#[utoipa::path(
    get, path = "/orders/{order_id}", tag = "orders", operation_id = "getOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    responses(
        (status = 200, description = "The order (to its customer, its shop, its rider and operators; `404` to anyone else).", body = OrderDetails),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let order_id = order_id(&id)?;
    let details = read_model::order(&state.db, order_id.uuid())
        .await?
        .filter(|order| caller.may_read(order))
        .ok_or_else(ApiError::order_not_found)?;
    Ok(Json(details).into_response())
}

/// The order as its stream sends it: the last snapshot once the order has ended and its
/// notification log has nothing left to send.
async fn order_snapshot(
    state: &AppState,
    caller: &Caller,
    order_id: uuid::Uuid,
) -> ApiResult<live::Snapshot> {
    let order = read_model::order(&state.db, order_id)
        .await?
        .filter(|order| caller.may_read(order))
        .ok_or_else(ApiError::order_not_found)?;
    let ended = OrderStatus::parse(&order.status).is_some_and(|s| s.is_final());
    let last = ended && !read_model::messages_pending(&state.db, order_id).await?;
    live::Snapshot::of(&order, last)
}

/// Follow an order live (server-sent events): what `GET /orders/{order_id}` answers, now and at
/// every change, until the order has ended.
#[utoipa::path(
    get, path = "/orders/{order_id}/events", tag = "orders", operation_id = "streamOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    responses(
        (status = 200, description = "A `text/event-stream`. Each `order` event's data is the \
order as `GET /orders/{order_id}` shows it (`OrderDetails`): one now, then one at each change \
(its status, rider, or a message of its notification log). The stream ends after the order has \
ended and its last notification was sent. An `error` event (`{\"status\", \"code\"}`) ends it \
when the order can no longer be read; after a dropped connection, open it again.",
            body = String, content_type = "text/event-stream"),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 404, description = "`order_not_found` (also to callers who may not read it)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let order_id = order_id(&id)?.uuid();
    let subscription = state.live.subscribe();
    // Refused as `GET /orders/{order_id}` refuses, before the stream starts; else its first event.
    let first = order_snapshot(&state, &caller, order_id).await?;
    let stream = live::stream(
        subscription,
        "order",
        Some(first),
        move |change| change.order_id == order_id,
        move || {
            let (state, caller) = (state.clone(), caller.clone());
            async move { order_snapshot(&state, &caller, order_id).await }
        },
    );
    Ok(stream.into_response())
}

/// `GET /orders/{order_id}/notifications`.
#[derive(Serialize, ToSchema)]
pub struct OrderNotifications {
    pub order_id: uuid::Uuid,
    pub notifications: Vec<read_model::Notification>,
}

/// The log of what the customer and the shop were sent about an order (SMS and email).
#[utoipa::path(
    get, path = "/orders/{order_id}/notifications", tag = "orders",
    operation_id = "listOrderNotifications",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    responses(
        (status = 200, description = "Every message, oldest first (to the order's customer and operators).", body = OrderNotifications),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not the customer's or an operator's token.", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderNotifications>> {
    let order_id = order_id(&id)?;
    let order = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    // The log holds the customer's phone and email: theirs and operators' only.
    if caller.role != Role::Operator {
        caller.require_owner(&order)?;
    }
    let notifications = read_model::notifications(&state.db, order_id.uuid()).await?;
    Ok(Json(OrderNotifications {
        order_id: order_id.uuid(),
        notifications,
    }))
}
