//! Abuse: bodies over the size limit, a customer placing orders faster than the rate limit, and
//! reads that page instead of growing without bound.

use courier_api::auth::Role;
use courier_api::rate_limit::OrderRateLimit;
use courier_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn orders(app: &TestApp) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM orders.orders")
        .fetch_one(&app.db)
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_as_json_and_nothing_is_placed() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut order = pizza_order("minji", GOOD_CARD);
    order["delivery_address"] = json!("x".repeat(courier_api::MAX_BODY_BYTES));
    let (status, body) = app.place_order(&order).await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(orders(&app).await?, 0);
    // Every route with a body has the same limit.
    let paid = app.paid_order("minji").await?;
    let reason = "x".repeat(courier_api::MAX_BODY_BYTES);
    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{paid}/reject"),
            &json!({ "reason": reason }),
        )
        .await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(app.order(&paid).await?["status"], "PAID");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_placing_too_fast_gets_429_with_retry_after_and_others_do_not()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(TestOptions {
        order_rate: Some(OrderRateLimit {
            per_minute: 1,
            burst: 2,
        }),
        ..TestOptions::default()
    })
    .await?;
    app.paid_order("minji").await?;
    app.paid_order("minji").await?;
    let (status, body) = app.place_order(&pizza_order("minji", GOOD_CARD)).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    let wait = body["error"]["retry_after_secs"]
        .as_u64()
        .unwrap_or_default();
    assert!((1..=60).contains(&wait), "{body}");
    // The header says the same, as clients and proxies read it.
    let response = app
        .http
        .post(format!("{}/orders", app.api))
        .bearer_auth(app.token(Role::Customer, "minji"))
        .json(&pizza_order("minji", GOOD_CARD))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        orders(&app).await?,
        2,
        "the refused placements placed nothing"
    );
    // The limit is the customer's own: another customer is not held up.
    app.paid_order("junho").await?;
    // Reading is not limited.
    for _ in 0..5 {
        let (status, _) = app.get("/customers/minji/orders").await?;
        assert_eq!(status, StatusCode::OK);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_pages_back_with_before() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    // More entries than a page, written as the API writes them.
    sqlx::query(
        "INSERT INTO operations.audit (operator, action, reason, outcome) \
         SELECT 'ops', 'rebuild', 'entry ' || n, 'ok' FROM generate_series(1, 1203) n",
    )
    .execute(&app.db)
    .await?;
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/admin/audit?before={b}"),
            None => "/admin/audit".to_owned(),
        };
        let (status, body) = app.admin(Method::GET, &path, None).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let entries = body["entries"].as_array().expect("entries");
        assert!(entries.len() <= 500);
        seen.extend(
            entries
                .iter()
                .map(|e| e["audit_id"].as_i64().unwrap_or_default()),
        );
        match body["next_before"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1203, "every entry once");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    let (status, body) = app
        .admin(Method::GET, "/admin/audit?before=0", None)
        .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    Ok(())
}
