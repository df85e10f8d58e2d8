//! Reading a live stream (server-sent events) as the web front end does: with a bearer token,
//! event by event, each within a deadline.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::Value;

use crate::TestApp;

/// An open `text/event-stream` answer.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl TestApp {
    /// Opens the stream at `path` with `token`: the stream, or the refusal's status and body.
    pub async fn open_stream(
        &self,
        path: &str,
        token: &str,
    ) -> anyhow::Result<Result<EventStream, (StatusCode, Value)>> {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header("Accept", "text/event-stream")
            .send()
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            return Ok(Err((status, response.json().await.unwrap_or_default())));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        anyhow::ensure!(
            content_type.starts_with("text/event-stream"),
            "{path} answered {content_type}"
        );
        Ok(Ok(EventStream {
            response,
            buffer: String::new(),
        }))
    }
}

impl TestApp {
    /// Opens the stream at `path` with `token`, which must not be refused.
    pub async fn stream(&self, path: &str, token: &str) -> anyhow::Result<EventStream> {
        self.open_stream(path, token)
            .await?
            .map_err(|(status, body)| anyhow::anyhow!("{path} was refused: {status} {body}"))
    }
}

impl EventStream {
    /// The next event, `(name, data)`, skipping keep-alive comments; `None` when the server
    /// closed the stream.
    pub async fn next(&mut self, deadline: Duration) -> anyhow::Result<Option<(String, Value)>> {
        tokio::time::timeout(deadline, self.read_event())
            .await
            .context("no event before the deadline")?
    }

    /// The next event named `name` whose data satisfies `wanted`, skipping the others.
    pub async fn until(
        &mut self,
        name: &str,
        deadline: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            let left = give_up.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                Some((event, data)) if event == name && wanted(&data) => return Ok(data),
                Some(_) => continue,
                None => bail!("the stream ended before the {name} event awaited"),
            }
        }
    }

    async fn read_event(&mut self) -> anyhow::Result<Option<(String, Value)>> {
        loop {
            while let Some(cut) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..cut + 2).collect();
                let mut event = "message".to_owned();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event = name.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
                    }
                }
                if !data.is_empty() {
                    return Ok(Some((event, serde_json::from_str(&data.join("\n"))?)));
                }
            }
            match self.response.chunk().await? {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return Ok(None),
            }
        }
    }
}
