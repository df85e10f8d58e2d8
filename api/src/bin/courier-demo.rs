//! `courier-demo`: places a few real orders through Courier's REST API and plays the shop and the
//! rider, printing each order's progress as the read model reports it.
//!
//! Each call carries the token of who makes it (the customer, the shop, the rider), signed with
//! `COURIER_JWT_SECRET` as `courier-admin token` does: the demo is a development tool.
//!
//! Environment: `COURIER_API_URL` (default `http://127.0.0.1:8080`), `COURIER_JWT_SECRET`,
//! `TEMPORAL_UI_URL` (default `http://127.0.0.1:8233`), `TEMPORAL_NAMESPACE` (default `default`).

use std::time::Duration;

use anyhow::{Context, bail};
use courier_api::auth::{Role, issue};
use serde_json::{Value, json};

struct Demo {
    http: reqwest::Client,
    secret: String,
    api: String,
    ui: String,
    namespace: String,
}

impl Demo {
    /// Who makes a call: a role and the customer, shop or rider it speaks for.
    fn token(&self, role: Role, subject: &str) -> anyhow::Result<String> {
        issue(&self.secret, role, subject, Duration::from_secs(600))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        (role, subject): (Role, &str),
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(self.token(role, subject)?);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn post(
        &self,
        path: &str,
        body: Value,
        caller: (Role, &str),
    ) -> anyhow::Result<(u16, Value)> {
        self.call(reqwest::Method::POST, path, Some(body), caller)
            .await
    }

    async fn get(&self, path: &str, caller: (Role, &str)) -> anyhow::Result<Value> {
        let (status, body) = self.call(reqwest::Method::GET, path, None, caller).await?;
        if status != 200 {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Polls the order until `done` holds (or 60 s pass), printing every new status.
    async fn follow(
        &self,
        id: &str,
        customer: &str,
        seen: &mut usize,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let order = self
                .get(&format!("/orders/{id}"), (Role::Customer, customer))
                .await?;
            let timeline = order["timeline"].as_array().cloned().unwrap_or_default();
            for entry in timeline.iter().skip(*seen) {
                println!(
                    "    {:<16} {}",
                    entry["status"].as_str().unwrap_or("?"),
                    entry["at"].as_str().unwrap_or("")
                );
            }
            *seen = (*seen).max(timeline.len());
            if done(&order) {
                return Ok(order);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("order {id} made no progress for 60 s; last seen {order}");
            }
        }
    }

    fn workflow_url(&self, id: &str) -> String {
        format!(
            "{}/namespaces/{}/workflows/order-{id}",
            self.ui, self.namespace
        )
    }

    /// Places an order; plays shop and rider unless the order ends at once.
    async fn run_order(
        &self,
        title: &str,
        order: Value,
        shop_rejects: Option<&str>,
    ) -> anyhow::Result<()> {
        println!("\n== {title}");
        let customer = order["customer_id"].as_str().unwrap_or_default().to_owned();
        let as_customer = (Role::Customer, customer.as_str());
        let (status, body) = self.post("/orders", order, as_customer).await?;
        let id = match status {
            201 | 202 => body["order_id"].as_str().unwrap_or_default().to_owned(),
            _ => {
                println!("  POST /orders -> {status} {}", body["error"]);
                if let Some(id) = body["error"]["order_id"].as_str() {
                    let mut seen = 0;
                    self.follow(id, &customer, &mut seen, |o| {
                        o["timeline"].as_array().is_some_and(|t| t.len() >= 2)
                    })
                    .await?;
                    println!("  Temporal UI: {}", self.workflow_url(id));
                }
                return Ok(());
            }
        };
        println!(
            "  POST /orders -> {status}, order {id}, total {} {}",
            body["total_minor"], body["currency"]
        );
        println!("  Temporal UI: {}", self.workflow_url(&id));
        let shop = body["shop_id"].as_str().unwrap_or_default().to_owned();
        let as_shop = (Role::Shop, shop.as_str());
        let mut seen = 0;
        self.follow(&id, &customer, &mut seen, |o| {
            o["status"] != "PAYMENT_PENDING"
        })
        .await?;
        if let Some(reason) = shop_rejects {
            self.post(
                &format!("/shops/{shop}/orders/{id}/reject"),
                json!({ "reason": reason }),
                as_shop,
            )
            .await?;
            self.follow(&id, &customer, &mut seen, |o| o["status"] == "REJECTED")
                .await?;
            return Ok(());
        }
        for step in ["accept", "ready"] {
            self.post(
                &format!("/shops/{shop}/orders/{id}/{step}"),
                json!({}),
                as_shop,
            )
            .await?;
        }
        let order = self
            .follow(&id, &customer, &mut seen, |o| o["rider"].is_object())
            .await?;
        let rider = order["rider"]["rider_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        println!(
            "    rider: {} ({})",
            order["rider"]["name"].as_str().unwrap_or("?"),
            order["rider"]["rider_id"].as_str().unwrap_or("?")
        );
        for step in ["pickup", "deliver"] {
            self.post(
                &format!("/deliveries/{id}/{step}"),
                json!({}),
                (Role::Rider, rider.as_str()),
            )
            .await?;
        }
        self.follow(&id, &customer, &mut seen, |o| o["status"] == "DELIVERED")
            .await?;
        Ok(())
    }
}

fn order(customer: &str, shop: &str, items: Value, card: &str) -> Value {
    json!({
        "customer_id": customer,
        "shop_id": shop,
        "items": items,
        "delivery_address": "101-1203, 25 Olympic-ro, Songpa-gu, Seoul",
        "phone": "+821012345678",
        "email": format!("{customer}@example.kr"),
        "payment": { "card_number": card }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let demo = Demo {
        http: reqwest::Client::new(),
        secret: courier_runtime::settings::secret("COURIER_JWT_SECRET")?
            .context("set COURIER_JWT_SECRET (the API's development signing secret)")?,
        api: env("COURIER_API_URL", "http://127.0.0.1:8080"),
        ui: env("TEMPORAL_UI_URL", "http://127.0.0.1:8233"),
        namespace: env("TEMPORAL_NAMESPACE", "default"),
    };
    let shops = demo.get("/shops", (Role::Customer, "minji")).await?;
    println!("Shops:");
    for shop in shops["shops"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} {}",
            shop["shop_id"].as_str().unwrap_or(""),
            shop["name"].as_str().unwrap_or("")
        );
    }
    let good = "4242424242424242";
    demo.run_order(
        "Roses from Seoul Bloom Flowers, delivered",
        order(
            "minji",
            "seoul-bloom",
            json!([{ "menu_item_id": "rose-bouquet-12", "quantity": 1 }]),
            good,
        ),
        None,
    )
    .await?;
    demo.run_order(
        "Pizza night at Napoli Oven, delivered",
        order("junho", "napoli-oven", json!([{ "menu_item_id": "margherita", "quantity": 2 }, { "menu_item_id": "cola-500", "quantity": 2 }]), good),
        None,
    )
    .await?;
    demo.run_order(
        "Bibimbap from Halmeoni's Table, rejected by the shop",
        order(
            "seoyeon",
            "halmeoni-table",
            json!([{ "menu_item_id": "bibimbap", "quantity": 1 }]),
            good,
        ),
        Some("we are out of gochujang today"),
    )
    .await?;
    demo.run_order(
        "Bulgogi with a declined card",
        order(
            "doyun",
            "halmeoni-table",
            json!([{ "menu_item_id": "bulgogi-set", "quantity": 1 }]),
            "4000000000000002",
        ),
        None,
    )
    .await?;
    let page = demo
        .get("/customers/junho/orders", (Role::Customer, "junho"))
        .await?;
    println!(
        "\njunho's orders (GET /customers/junho/orders): {}",
        page["orders"].as_array().map_or(0, Vec::len)
    );
    println!("\nCourier API:  {}", demo.api);
    println!(
        "Temporal UI:  {}/namespaces/{}/workflows",
        demo.ui, demo.namespace
    );
    Ok(())
}
