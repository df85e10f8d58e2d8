//! Talking to the test's API as a client does, and waiting for what it shows.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::*;

impl TestApp {
    /// Calls an `/admin` endpoint with the operator token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(OPERATOR_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await?).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let response = self.http.get(format!("{}{path}", self.api)).send().await?;
        read(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .json(body)
            .send()
            .await?;
        read(response).await
    }

    /// Posts raw bytes as JSON (for malformed-body tests).
    pub async fn post_raw(
        &self,
        path: &str,
        body: &'static str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        read(response).await
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
        let response = self
            .http
            .post(format!("{}/orders", self.api))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await?;
        read(response).await
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
