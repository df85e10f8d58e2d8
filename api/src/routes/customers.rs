//! `GET /customers/{customer_id}/orders`: the customer's "my page", newest first, by cursor.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use courier_workflows::domain::CustomerId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Path, Query};
use crate::read_model::{self, OrderSummary};

/// `?limit=&cursor=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100 (20 when left out).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
}

/// A page of a customer's orders.
#[derive(Serialize, ToSchema)]
pub struct CustomerOrdersPage {
    /// Newest first.
    pub orders: Vec<OrderSummary>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A cursor names the last order of a page: `base64url("{created_at}|{order_id}")`.
fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

fn decode_cursor(raw: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (at, id) = text.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        Uuid::parse_str(id).ok()?,
    ))
}

/// A customer's orders ("my orders"), newest first, a page at a time.
#[utoipa::path(
    get, path = "/customers/{customer_id}/orders", tag = "customers",
    operation_id = "listCustomerOrders",
    security(("bearerToken" = [])),
    params(("customer_id" = String, Path, description = "The customer"), PageQuery),
    responses(
        (status = 200, description = "A page of orders.", body = CustomerOrdersPage),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this customer's (or an operator's) token.", body = ErrorBody),
        (status = 404, description = "`not_found`: a path that cannot be decoded.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a malformed customer id, limit or cursor.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn orders(
    State(state): State<AppState>,
    caller: Caller,
    Path(customer_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<CustomerOrdersPage>> {
    caller.require_reader(Role::Customer, &customer_id)?;
    let customer_id = CustomerId::parse(&customer_id)?;
    let limit = match query.limit.as_deref() {
        None => 20,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", "limit must be between 1 and 100"))?,
    };
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            decode_cursor(raw)
                .ok_or_else(|| ApiError::invalid("cursor", "the cursor is not one we gave"))?,
        ),
    };
    let orders =
        read_model::customer_orders(&state.db, customer_id.as_str(), after, limit + 1).await?;
    let has_more = orders.len() as i64 > limit;
    let page: Vec<_> = orders.into_iter().take(limit as usize).collect();
    let next_cursor = has_more
        .then(|| page.last().map(|o| encode_cursor(o.created_at, o.order_id)))
        .flatten();
    Ok(Json(CustomerOrdersPage {
        orders: page,
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = Utc::now();
        let id = Uuid::new_v4();
        let decoded = decode_cursor(&encode_cursor(at, id)).unwrap();
        assert_eq!(decoded.1, id);
        assert_eq!(decoded.0.timestamp_micros(), at.timestamp_micros());
        assert!(decode_cursor("not-a-cursor").is_none());
    }
}
