//! The sandbox's HTTP API, shaped like a card provider's: JSON bodies, `Authorization: Bearer`,
//! a required `Idempotency-Key` on every write, errors as `{"error": {"type", "code", "message"}}`.

use axum::extract::{FromRequest, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::middleware::{self, Next};

use crate::ledger::{self, Answer, Claim, FLAKY_CARD, SLOW_CARD, error_body};

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub secret_key: String,
    pub behaviour: Behaviour,
}

/// How the sandbox misbehaves on purpose, for testing clients against a provider in trouble.
#[derive(Clone)]
pub struct Behaviour {
    /// While set, every `/v1` request answers 503 (`PUT /sandbox/outage {"down": true}`).
    pub down: Arc<AtomicBool>,
    /// While set, every payout is refused with a 402 (`PUT /sandbox/payouts {"declined": true}`).
    pub payouts_declined: Arc<AtomicBool>,
    /// How many attempts per idempotency key the flaky card fails with a 500.
    pub flaky_failures: i32,
    /// How long the slow card takes to answer.
    pub slow: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            down: Arc::new(AtomicBool::new(false)),
            payouts_declined: Arc::new(AtomicBool::new(false)),
            flaky_failures: 2,
            slow: Duration::from_secs(3),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/refunds", post(create_refund))
        .route("/v1/payouts", post(create_payout))
        .route("/v1/charges", post(create_charge).get(list_charges))
        .route("/v1/payment_methods", post(create_payment_method))
        .route_layer(middleware::from_fn_with_state(state.clone(), outage))
        .route("/v1/ledger", get(list_ledger))
        .route("/sandbox/outage", axum::routing::put(set_outage))
        .route("/sandbox/payouts", axum::routing::put(set_payouts))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// While the sandbox is "down", every provider endpoint answers 503.
async fn outage(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    if state.behaviour.down.load(Ordering::SeqCst) {
        return Answer::new(
            503,
            error_body("api_error", "service_unavailable", "the provider is down"),
        )
        .into_response();
    }
    next.run(request).await
}

/// `PUT /sandbox/outage {"down": true|false}`: takes the provider down or brings it back.
async fn set_outage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer, Answer> {
    check_key(&state, &headers)?;
    let Some(down) = body.get("down").and_then(Value::as_bool) else {
        return Err(refuse(
            400,
            "parameter_missing",
            "down must be true or false",
        ));
    };
    state.behaviour.down.store(down, Ordering::SeqCst);
    tracing::warn!(down, "sandbox outage switched");
    Ok(Answer::new(200, serde_json::json!({ "down": down })))
}

/// `PUT /sandbox/payouts {"declined": true|false}`: makes the provider refuse every payout (a
/// rider's account closed) or accept them again.
async fn set_payouts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer, Answer> {
    check_key(&state, &headers)?;
    let Some(declined) = body.get("declined").and_then(Value::as_bool) else {
        return Err(refuse(
            400,
            "parameter_missing",
            "declined must be true or false",
        ));
    };
    state
        .behaviour
        .payouts_declined
        .store(declined, Ordering::SeqCst);
    tracing::warn!(declined, "sandbox payouts switched");
    Ok(Answer::new(
        200,
        serde_json::json!({ "declined": declined }),
    ))
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.body)).into_response();
        if self.replayed {
            response.headers_mut().insert(
                "Idempotent-Replayed",
                "true".parse().expect("static header"),
            );
        }
        response
    }
}

fn refuse(status: u16, code: &str, message: &str) -> Answer {
    Answer::new(status, error_body("invalid_request_error", code, message))
}

fn internal(err: sqlx::Error) -> Answer {
    tracing::error!(error = %err, "sandbox database error");
    Answer::new(
        500,
        error_body("api_error", "internal", "the sandbox failed; retry"),
    )
}

/// A JSON body whose rejection answers in the provider's error shape.
struct Body(Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Answer;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<Value>::from_request(req, state)
            .await
            .map(|Json(v)| Body(v))
            .map_err(|e| refuse(400, "invalid_json", &e.body_text()))
    }
}

/// Checks the bearer key.
fn check_key(state: &AppState, headers: &HeaderMap) -> Result<(), Answer> {
    let expected = format!("Bearer {}", state.secret_key);
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return Err(Answer::new(
            401,
            error_body("authentication_error", "invalid_api_key", "invalid API key"),
        ));
    }
    Ok(())
}

/// Checks the bearer key and returns the idempotency key.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<String, Answer> {
    check_key(state, headers)?;
    match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(key) if !key.is_empty() && key.len() <= 255 => Ok(key.to_owned()),
        _ => Err(refuse(
            400,
            "idempotency_key_missing",
            "an Idempotency-Key header is required",
        )),
    }
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

fn positive_amount(body: &Value) -> Result<i64, Answer> {
    match field(body, "amount").and_then(Value::as_i64) {
        Some(a) if a > 0 => Ok(a),
        _ => Err(refuse(
            400,
            "parameter_invalid",
            "amount must be a positive integer in minor units",
        )),
    }
}

fn text(body: &Value, name: &str) -> Option<String> {
    field(body, name).and_then(Value::as_str).map(str::to_owned)
}

/// One effect the provider can book.
enum Effect {
    Charge(ledger::ChargeInput),
    Refund(ledger::RefundInput),
    Payout(ledger::PayoutInput),
}

/// Books `effect` once per idempotency key, or replays the answer the key already has.
async fn run(state: &AppState, key: &str, path: &str, body: &Value, effect: Effect) -> Answer {
    let result = async {
        match ledger::claim(&state.db, key, path, body).await? {
            Claim::Replay(answer) => Ok(answer),
            Claim::Fresh(mut tx) => {
                let answer = match &effect {
                    Effect::Charge(input) => ledger::charge(&mut tx, input).await?,
                    Effect::Refund(input) => ledger::refund(&mut tx, input).await?,
                    Effect::Payout(input) => ledger::payout(&mut tx, input).await?,
                };
                ledger::finish(tx, key, answer).await
            }
        }
    }
    .await;
    result.unwrap_or_else(internal)
}

async fn create_charge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer, Answer> {
    let key = authorize(&state, &headers)?;
    let amount = positive_amount(&body)?;
    let currency = text(&body, "currency").unwrap_or_default();
    if currency.len() != 3 {
        return Err(refuse(
            400,
            "parameter_invalid",
            "currency must be an ISO 4217 code",
        ));
    }
    let card_number = match text(&body, "payment_method") {
        Some(id) => match ledger::card_of(&state.db, &id).await.map_err(internal)? {
            Some(card_number) => card_number,
            None => {
                return Err(Answer::new(
                    402,
                    error_body(
                        "card_error",
                        "payment_method_invalid",
                        "No such payment method.",
                    ),
                ));
            }
        },
        None => card_digits(&body)?,
    };
    if card_number == FLAKY_CARD {
        let fails = ledger::flaky_attempt_fails(&state.db, &key, state.behaviour.flaky_failures)
            .await
            .map_err(internal)?;
        if fails {
            return Err(Answer::new(
                500,
                error_body(
                    "api_error",
                    "processing_error",
                    "a transient processing error; retry",
                ),
            ));
        }
    }
    if card_number == SLOW_CARD {
        tokio::time::sleep(state.behaviour.slow).await;
    }
    let input = ledger::ChargeInput {
        amount,
        currency,
        card_number,
        description: text(&body, "description").unwrap_or_default(),
        reference: text(&body, "reference"),
    };
    Ok(run(&state, &key, "/v1/charges", &body, Effect::Charge(input)).await)
}

/// `card_number` as 12 to 19 digits.
fn card_digits(body: &Value) -> Result<String, Answer> {
    let card_number = text(body, "card_number").unwrap_or_default();
    if !(12..=19).contains(&card_number.len()) || !card_number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(
            400,
            "parameter_invalid",
            "card_number must be 12 to 19 digits",
        ));
    }
    Ok(card_number)
}

/// `POST /v1/payment_methods {"card_number"}`: tokenizes a card; the merchant keeps the `pm_...`
/// id and charges it (`POST /v1/charges {"payment_method"}`) and never stores the number.
async fn create_payment_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer, Answer> {
    check_key(&state, &headers)?;
    let card_number = card_digits(&body)?;
    ledger::tokenize(&state.db, &card_number)
        .await
        .map(|method| Answer::new(201, method))
        .map_err(internal)
}

async fn create_refund(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer, Answer> {
    let key = authorize(&state, &headers)?;
    let Some(charge) = text(&body, "charge") else {
        return Err(refuse(400, "parameter_missing", "charge is required"));
    };
    let amount = match field(&body, "amount") {
        None => None,
        Some(_) => Some(positive_amount(&body)?),
    };
    let input = ledger::RefundInput { charge, amount };
    Ok(run(&state, &key, "/v1/refunds", &body, Effect::Refund(input)).await)
}

async fn create_payout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer, Answer> {
    let key = authorize(&state, &headers)?;
    if state.behaviour.payouts_declined.load(Ordering::SeqCst) {
        return Err(refuse(
            402,
            "payout_declined",
            "the destination account refused the payout",
        ));
    }
    let amount = positive_amount(&body)?;
    let Some(destination) = text(&body, "destination") else {
        return Err(refuse(400, "parameter_missing", "destination is required"));
    };
    let input = ledger::PayoutInput {
        amount,
        currency: text(&body, "currency").unwrap_or_else(|| "KRW".to_owned()),
        destination,
        reference: text(&body, "reference"),
    };
    Ok(run(&state, &key, "/v1/payouts", &body, Effect::Payout(input)).await)
}

#[derive(Deserialize)]
struct LedgerQuery {
    reference: String,
}

async fn list_charges(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LedgerQuery>,
) -> Result<Json<Value>, Answer> {
    check_key(&state, &headers)?;
    ledger::charges(&state.db, &query.reference)
        .await
        .map(Json)
        .map_err(internal)
}

#[derive(Deserialize)]
struct LedgerPageQuery {
    reference: Option<String>,
    /// Entries after this one (`{created_at}|{id}` of the last entry of the previous page).
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/ledger?reference=` (one order's entries) or `GET /v1/ledger?after=&limit=` (every
/// entry, a page at a time, oldest first).
async fn list_ledger(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LedgerPageQuery>,
) -> Result<Json<Value>, Answer> {
    check_key(&state, &headers)?;
    if let Some(reference) = &query.reference {
        return ledger::entries(&state.db, reference)
            .await
            .map(Json)
            .map_err(internal);
    }
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(raw) => {
            let parsed = raw.split_once('|').and_then(|(at, id)| {
                chrono::DateTime::parse_from_rfc3339(at)
                    .ok()
                    .map(|at| (at.with_timezone(&chrono::Utc), id.to_owned()))
            });
            Some(parsed.ok_or_else(|| {
                refuse(400, "parameter_invalid", "after must be {created_at}|{id}")
            })?)
        }
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    ledger::page(&state.db, after, limit)
        .await
        .map(Json)
        .map_err(internal)
}
