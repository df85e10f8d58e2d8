//! Every error code a client of Courier can receive, in one enum: the API answers with these, the
//! saga refuses updates with them, and an order that ended early names its [`Cause`] with them.
//! A client branches on the code, never on a message.
//!
//! [`Cause`]: crate::order::Cause

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)*) => {
        /// The `code` of every error Courier answers (`{"error": {"code", "message", ...}}`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)*];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    /// A field (named in `field`) or the body itself is malformed.
    InvalidRequest => "invalid_request",
    /// No such route.
    NotFound => "not_found",
    /// The route exists but not with that method.
    MethodNotAllowed => "method_not_allowed",
    /// No such order (or another shop's order).
    OrderNotFound => "order_not_found",
    /// No such shop.
    UnknownShop => "unknown_shop",
    /// The shop has no such menu item.
    UnknownMenuItem => "unknown_menu_item",
    /// The card was declined; nothing was charged.
    PaymentDeclined => "payment_declined",
    /// An item ran out; nothing was charged (`menu_item_id` names it).
    OutOfStock => "out_of_stock",
    /// The payment stayed impossible past its deadline.
    PaymentFailed => "payment_failed",
    /// The order was cancelled before its payment settled.
    OrderCancelled => "order_cancelled",
    /// The order ended before its payment settled.
    OrderEnded => "order_ended",
    /// Orders cannot be placed right now; nothing was charged.
    OrdersUnavailable => "orders_unavailable",
    /// The idempotency key was used with a different body.
    IdempotencyKeyReused => "idempotency_key_reused",
    /// A request with the same idempotency key is still being answered.
    IdempotencyKeyBusy => "idempotency_key_busy",
    /// The order's status does not allow this action.
    InvalidTransition => "invalid_transition",
    /// The order belongs to another shop.
    WrongShop => "wrong_shop",
    /// The order is assigned to another rider.
    WrongRider => "wrong_rider",
    /// The order can no longer be cancelled (picked up, ended, or being refunded).
    CannotCancel => "cannot_cancel",
    /// No bearer token, or one that is invalid or expired (`WWW-Authenticate` says which).
    Unauthorized => "unauthorized",
    /// The token is valid but not for this: another role, or another customer's, shop's or
    /// rider's resource.
    Forbidden => "forbidden",
    /// Too many requests from this client: retry after `Retry-After` seconds.
    TooManyRequests => "too_many_requests",
    /// The body is larger than the API accepts.
    PayloadTooLarge => "payload_too_large",
    /// A compensation of this order is already running.
    CompensationRunning => "compensation_running",
    /// A reconciliation is already running.
    ReconciliationRunning => "reconciliation_running",
    /// Something failed on Courier's side; the request can be retried.
    Internal => "internal",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::json!(code.as_str()));
            assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), *code);
        }
    }
}
