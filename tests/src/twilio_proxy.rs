//! A stand-in for Twilio's network edge in front of Prism: it forwards every request to Prism
//! (which validates it against Twilio's official API description and answers as Twilio would),
//! records what customers were sent, and can be told to fail: answer 500 a few times, or refuse a
//! number with Twilio's own 400 (error 21211), which Prism cannot be made to do.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One request to send an SMS, and what it was answered.
#[derive(Debug, Clone)]
pub struct SmsRequest {
    pub to: String,
    pub from: String,
    pub body: String,
    pub status: u16,
}

struct Inner {
    upstream: String,
    http: reqwest::Client,
    requests: Mutex<Vec<SmsRequest>>,
    failures_left: AtomicU32,
    invalid_numbers: Mutex<HashSet<String>>,
}

#[derive(Clone)]
pub struct TwilioProxy {
    pub url: String,
    inner: Arc<Inner>,
}

impl TwilioProxy {
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let inner = Arc::new(Inner {
            upstream,
            http: reqwest::Client::new(),
            requests: Mutex::new(Vec::new()),
            failures_left: AtomicU32::new(0),
            invalid_numbers: Mutex::new(HashSet::new()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, inner })
    }

    /// The next `n` message requests are answered 500.
    pub fn fail_next(&self, n: u32) {
        self.inner.failures_left.store(n, Ordering::SeqCst);
    }

    /// Messages to `number` are refused as Twilio refuses an invalid number.
    pub fn refuse_number(&self, number: &str) {
        self.inner
            .invalid_numbers
            .lock()
            .unwrap()
            .insert(number.to_owned());
    }

    /// Every message request so far, in arrival order.
    pub fn requests(&self) -> Vec<SmsRequest> {
        self.inner.requests.lock().unwrap().clone()
    }
}

async fn forward(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_send = method == Method::POST && uri.path().ends_with("/Messages.json");
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let record = |status: u16| {
        if is_send {
            inner.requests.lock().unwrap().push(SmsRequest {
                to: field("To"),
                from: field("From"),
                body: field("Body"),
                status,
            });
        }
    };
    if is_send {
        let failing = inner
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            record(500);
            let error = json!({ "code": 20500, "message": "Internal Server Error", "status": 500 });
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(error)).into_response();
        }
        let to = field("To");
        if inner.invalid_numbers.lock().unwrap().contains(&to) {
            record(400);
            let error = json!({
                "code": 21211,
                "message": format!("Invalid 'To' Phone Number: {to}"),
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400
            });
            return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
        }
    }
    let url = format!(
        "{}{}",
        inner.upstream,
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let mut request = inner.http.request(method, url).body(body.clone());
    for name in ["authorization", "content-type", "accept"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            record(status);
            let content_type = answer.headers().get("content-type").cloned();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                bytes,
            )
                .into_response();
            if let Some(ct) = content_type {
                response.headers_mut().insert("content-type", ct);
            }
            response
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}
