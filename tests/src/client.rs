//! Talking to the test's API as a client does, and waiting for what it shows.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use courier_api::auth::Role;

use crate::*;

impl TestApp {
    /// Calls an `/admin` endpoint as an operator: the one a body's `operator` names (with their
    /// JWT, as their console would; the API records the token's subject, never the body's), or
    /// with the static development token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let token = body
            .as_ref()
            .and_then(|b| b["operator"].as_str())
            .filter(|name| valid_id(name))
            .map_or_else(
                || OPERATOR_TOKEN.to_owned(),
                |name| self.token(Role::Operator, name),
            );
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await?).await
    }

    /// A development token of `role` for `subject`, signed with the test API's secret.
    pub fn token(&self, role: Role, subject: &str) -> String {
        courier_api::auth::issue(JWT_SECRET, role, subject, Duration::from_secs(3600))
            .expect("signing a test token")
    }

    /// The token a real client would send for `path`: the customer whose order (or page) it is,
    /// the shop in the path, the rider of the delivery (the one a body's `rider_id` names, or the
    /// order's), an operator on `/admin`; none for the open routes.
    pub async fn caller_token(&self, path: &str, body: Option<&Value>) -> Option<String> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let order_field = |order_id: &str, field: &'static str| {
            let db = self.db.clone();
            let order_id = order_id.to_owned();
            async move {
                sqlx::query_scalar::<_, String>(&format!(
                    "SELECT {field} FROM orders.orders WHERE order_id::text = $1"
                ))
                .bind(order_id)
                .fetch_optional(&db)
                .await
                .ok()
                .flatten()
            }
        };
        // A customer app always has its customer's token, even for a body it gets wrong.
        let named = |key: &str| {
            body.and_then(|b| b[key].as_str())
                .filter(|id| valid_id(id))
                .map(str::to_owned)
        };
        let (role, subject) = match segments.as_slice() {
            ["admin", ..] => return Some(OPERATOR_TOKEN.to_owned()),
            ["orders"] => (
                Role::Customer,
                named("customer_id").unwrap_or_else(|| "minji".to_owned()),
            ),
            ["orders", id, ..] => (
                Role::Customer,
                order_field(id, "customer_id")
                    .await
                    .unwrap_or_else(|| "minji".to_owned()),
            ),
            ["customers", customer, ..] => (Role::Customer, (*customer).to_owned()),
            ["shops", shop, _, ..] => (Role::Shop, (*shop).to_owned()),
            ["riders", rider, ..] => (Role::Rider, (*rider).to_owned()),
            ["deliveries", id, ..] => {
                let rider = match named("rider_id") {
                    Some(rider) => Some(rider),
                    None => order_field(id, "rider->>'rider_id'").await,
                };
                (
                    Role::Rider,
                    rider.unwrap_or_else(|| "no-rider-yet".to_owned()),
                )
            }
            _ => return None,
        };
        Some(self.token(role, &subject))
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let request = match self.caller_token(path, body).await {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        read(request.send().await?).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let request = self.http.get(format!("{}{path}", self.api));
        self.send(request, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        let request = self.http.post(format!("{}{path}", self.api)).json(body);
        self.send(request, path, Some(body)).await
    }

    /// Posts raw bytes as JSON (for malformed-body tests).
    pub async fn post_raw(
        &self,
        path: &str,
        body: &'static str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let request = self
            .http
            .post(format!("{}{path}", self.api))
            .header("content-type", "application/json")
            .body(body);
        let parsed = serde_json::from_str::<Value>(body).ok();
        self.send(request, path, parsed.as_ref()).await
    }

    pub async fn place_order(&self, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.post("/orders", body).await
    }

    /// `POST /orders` with an `Idempotency-Key`, as an app that retries does.
    pub async fn place_with_key(
        &self,
        key: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let request = self
            .http
            .post(format!("{}/orders", self.api))
            .header("Idempotency-Key", key)
            .json(body);
        self.send(request, "/orders", Some(body)).await
    }

    pub async fn order(&self, order_id: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get(&format!("/orders/{order_id}")).await?;
        if status != StatusCode::OK {
            bail!("GET /orders/{order_id} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Polls the read model until `check` holds for the order, or fails at the deadline.
    pub async fn wait_for_order(
        &self,
        order_id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let (status, body) = self.get(&format!("/orders/{order_id}")).await?;
            if status == StatusCode::OK && check(&body) {
                return Ok(body);
            }
            if tokio::time::Instant::now() >= give_up {
                bail!("order {order_id} never reached {what}; last seen: {status} {body}");
            }
        }
    }

    pub async fn wait_for_status(&self, order_id: &str, status: &str) -> anyhow::Result<Value> {
        self.wait_for_order(order_id, status, |o| o["status"] == status)
            .await
    }

    /// The pizzeria's action on an order (`accept`, `ready`), asserting it is allowed.
    pub async fn shop_action(&self, order_id: &str, action: &str) -> anyhow::Result<()> {
        let (status, body) = self
            .post(
                &format!("/shops/napoli-oven/orders/{order_id}/{action}"),
                &json!({}),
            )
            .await?;
        if status != StatusCode::OK {
            bail!("{action} answered {status}: {body}");
        }
        Ok(())
    }

    /// `POST /orders/{id}/cancel`.
    pub async fn cancel(
        &self,
        order_id: &str,
        reason: &str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        self.post(
            &format!("/orders/{order_id}/cancel"),
            &json!({ "reason": reason }),
        )
        .await
    }

    /// The rider picks the order up and delivers it (asserting both are allowed).
    pub async fn pickup_and_deliver(&self, order_id: &str) -> anyhow::Result<()> {
        for step in ["pickup", "deliver"] {
            let (status, body) = self
                .post(&format!("/deliveries/{order_id}/{step}"), &json!({}))
                .await?;
            if status != StatusCode::OK {
                bail!("{step} answered {status}: {body}");
            }
        }
        Ok(())
    }

    /// A plain-text GET (e.g. `/metrics`).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<(StatusCode, String)> {
        let response = self.http.get(format!("{}{path}", self.api)).send().await?;
        Ok((response.status(), response.text().await?))
    }

    /// Sends a signal to the order's workflow, as an operator would from the Temporal UI.
    pub async fn signal_order<S>(&self, order_id: &str, signal: S, input: S::Input) -> anyhow::Result<()>
    where
        S: temporalio_common::SignalDefinition<
                Workflow = <courier_workflows::OrderWorkflow as temporalio_common::HasWorkflowDefinition>::Run,
            >,
        S::Input: Send,
    {
        self.temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{order_id}"))
            .signal(
                signal,
                input,
                temporalio_client::WorkflowSignalOptions::default(),
            )
            .await?;
        Ok(())
    }
}

/// Whether `id` can be a token's subject (customer, shop, rider and operator ids are slugs).
fn valid_id(id: &str) -> bool {
    courier_workflows::domain::CustomerId::parse(id).is_ok()
}

/// Calls `check` until it says yes or `deadline` passes; polls briskly, never sleeps blindly.
pub async fn wait_until<F, Fut>(deadline: Duration, mut check: F) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let found = poll_until(deadline, || {
        let checked = check();
        async move { Ok(checked.await?.then_some(())) }
    })
    .await?;
    Ok(found.is_some())
}

/// Calls `attempt` until it answers something or `deadline` passes (`None`), on the same brisk
/// tick as [`wait_until`].
pub async fn poll_until<T, F, Fut>(deadline: Duration, mut attempt: F) -> anyhow::Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        if let Some(answer) = attempt().await? {
            return Ok(Some(answer));
        }
        if tokio::time::Instant::now() >= give_up {
            return Ok(None);
        }
    }
}

pub(crate) async fn read(response: reqwest::Response) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("a non-JSON answer ({status}): {text}"))?
    };
    Ok((status, body))
}
