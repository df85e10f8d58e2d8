//! Ready-made situations: a paid order, an order ready with its rider, a provider in trouble.

use anyhow::bail;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::client::read;
use crate::*;

impl TestApp {
    /// Places the pizza order with a good card and returns its id (asserting `201`).
    pub async fn paid_order(&self, customer_id: &str) -> anyhow::Result<String> {
        self.paid_order_with(&pizza_order(customer_id, GOOD_CARD))
            .await
    }

    /// Places `order`, asserting it is paid (`201`), and returns its id.
    pub async fn paid_order_with(&self, order: &Value) -> anyhow::Result<String> {
        let (status, body) = self.place_order(order).await?;
        if status != StatusCode::CREATED {
            bail!("POST /orders answered {status}: {body}");
        }
        Ok(body["order_id"].as_str().unwrap_or_default().to_owned())
    }

    /// A paid pizza order the shop accepted and cooked, with its rider: `(order_id, rider_id)`.
    pub async fn ready_order_with_rider(
        &self,
        customer_id: &str,
    ) -> anyhow::Result<(String, String)> {
        let id = self.paid_order(customer_id).await?;
        self.shop_action(&id, "accept").await?;
        self.shop_action(&id, "ready").await?;
        let order = self
            .wait_for_order(&id, "a rider", |o| o["rider"].is_object())
            .await?;
        let rider = order["rider"]["rider_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((id, rider))
    }

    /// Every rider is out on other deliveries.
    pub async fn make_riders_busy(&self) -> anyhow::Result<()> {
        sqlx::query("UPDATE dispatch.riders SET available = FALSE")
            .execute(&self.db)
            .await?;
        Ok(())
    }

    pub async fn set_stock(&self, menu_item_id: &str, on_hand: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE stock.levels SET on_hand = $2 WHERE menu_item_id = $1")
            .bind(menu_item_id)
            .bind(on_hand)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Takes the payment provider down (every request answers 503) or brings it back.
    pub async fn set_provider_down(&self, down: bool) -> anyhow::Result<()> {
        self.sandbox_switch("outage", json!({ "down": down })).await
    }

    /// Makes the provider refuse (or accept again) every rider payout.
    pub async fn set_payouts_declined(&self, declined: bool) -> anyhow::Result<()> {
        self.sandbox_switch("payouts", json!({ "declined": declined }))
            .await
    }

    async fn sandbox_switch(&self, switch: &str, body: Value) -> anyhow::Result<()> {
        let response = self
            .http
            .put(format!("{}/sandbox/{switch}", self.sandbox))
            .bearer_auth(SANDBOX_KEY)
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "the sandbox refused the {switch} switch: {}",
                response.status()
            );
        }
        Ok(())
    }

    /// `order` with its card exchanged for a payment method at the provider first, as an app that
    /// tokenizes cards itself does (its orders can then be placed while the provider is down).
    pub async fn with_payment_method(&self, mut order: Value) -> anyhow::Result<Value> {
        let card = order["payment"]["card_number"].clone();
        let method = self
            .provider_post(
                "/v1/payment_methods",
                "tokenize",
                json!({ "card_number": card }),
            )
            .await?;
        order["payment"] = json!({ "payment_method": method["id"] });
        Ok(order)
    }

    /// Books something at the payment provider directly, as if behind Courier's back.
    pub async fn provider_post(
        &self,
        path: &str,
        idempotency_key: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.sandbox))
            .bearer_auth(SANDBOX_KEY)
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await?;
        let (status, body) = read(response).await?;
        if !status.is_success() {
            bail!("the provider answered {status}: {body}");
        }
        Ok(body)
    }
}

/// A valid order for the pizzeria: two margheritas and a cola.
pub fn pizza_order(customer_id: &str, card: &str) -> Value {
    json!({
        "customer_id": customer_id,
        "shop_id": "napoli-oven",
        "items": [
            { "menu_item_id": "margherita", "quantity": 2 },
            { "menu_item_id": "cola-500", "quantity": 1 }
        ],
        "delivery_address": "101-1203, 25 Olympic-ro, Songpa-gu, Seoul",
        "phone": "+821012345678",
        "email": "minji@example.kr",
        "payment": { "card_number": card }
    })
}

/// Two margheritas (18,900) and a cola (2,500).
pub const PIZZA_ORDER_TOTAL: i64 = 2 * 18_900 + 2_500;
