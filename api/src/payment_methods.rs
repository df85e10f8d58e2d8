//! Card numbers in, payment methods out: the API exchanges a customer's card number for the
//! provider's token (`POST /v1/payment_methods`) as soon as it has validated the request, so the
//! number never reaches a workflow's history, Courier's tables or its logs. Clients that tokenize
//! with the provider themselves send the `pm_...` id instead.

use axum::http::StatusCode;
use courier_runtime::settings::PaymentProviderConfig;
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::{CardNumber, PaymentMethodId};
use serde::Deserialize;

use crate::error::ApiError;

#[derive(Clone)]
pub struct Tokenizer {
    http: reqwest::Client,
    config: PaymentProviderConfig,
}

#[derive(Deserialize)]
struct PaymentMethod {
    id: String,
}

impl Tokenizer {
    pub fn new(config: PaymentProviderConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .expect("a TLS-less HTTP client always builds");
        Self { http, config }
    }

    /// The provider's payment method for `card`. The provider being unreachable is a `503`
    /// (nothing was placed or charged), its refusal of the number a `422` on `payment.card_number`.
    pub async fn tokenize(&self, card: &CardNumber) -> Result<PaymentMethodId, ApiError> {
        let unavailable = |why: String| {
            tracing::warn!(why, "tokenizing a card failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::OrdersUnavailable,
                "the payment provider cannot take the card right now; nothing was charged; retry",
            )
        };
        let url = format!(
            "{}/v1/payment_methods",
            self.config.base_url.trim_end_matches('/')
        );
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.config.secret_key)
            .json(&serde_json::json!({ "card_number": card.expose() }))
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_client_error() && status != StatusCode::UNAUTHORIZED {
            return Err(ApiError::invalid(
                "payment.card_number",
                "the payment provider refused this card number",
            ));
        }
        if !status.is_success() {
            return Err(unavailable(format!("the provider answered {status}")));
        }
        let method: PaymentMethod = response
            .json()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        PaymentMethodId::parse(&method.id)
            .map_err(|_| unavailable(format!("the provider answered a bad id {:?}", method.id)))
    }
}
