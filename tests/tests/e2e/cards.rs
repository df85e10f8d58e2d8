//! Card numbers stay with the payment provider: the API exchanges them for a payment method at
//! once, the saga charges the method, and no workflow history or Courier table holds a number.

use base64::Engine;
use courier_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every string in a history's JSON, and every base64 payload in it decoded: where a card number
/// would be if the saga carried one.
fn history_text(json: &[u8]) -> anyhow::Result<String> {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                    out.push('\n');
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(&serde_json::from_slice(json)?, &mut out);
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_number_reaches_a_workflow_history_or_a_courier_table() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    // A paid order the customer then cancels (charge and refund), a declined one, and one whose
    // client tokenized the card with the provider itself.
    let cancelled = app.paid_order("minji").await?;
    app.cancel(&cancelled, "changed my mind").await?;
    let (status, body) = app
        .place_order(&pizza_order("junho", DECLINED_CARD))
        .await?;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    let declined = body["error"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let order = app
        .with_payment_method(pizza_order("seo-yeon", GOOD_CARD))
        .await?;
    let tokenized = app.paid_order_with(&order).await?;
    app.wait_for_status(&cancelled, "CANCELLED").await?;

    let orders = [&cancelled, &declined, &tokenized];
    for id in orders {
        let history = history_text(&app.history_json(id).await?)?;
        assert!(
            history.contains("\"payment_method\":\"pm_"),
            "order {id}'s history carries no payment method, so the search below proves nothing"
        );
        for card in [GOOD_CARD, DECLINED_CARD] {
            assert!(!history.contains(card), "order {id}'s history holds {card}");
        }
    }
    let rows = app.every_row().await?;
    assert!(
        rows.iter().any(|row| row.contains(&cancelled)),
        "the rows hold the orders"
    );
    for card in [GOOD_CARD, DECLINED_CARD] {
        let found: Vec<&String> = rows.iter().filter(|row| row.contains(card)).collect();
        assert!(found.is_empty(), "Courier's tables hold {card}: {found:?}");
    }
    // The provider charged the cards behind the methods.
    let charged: Vec<String> = sqlx::query_scalar(
        "SELECT card_last4 FROM ledger WHERE kind = 'charge' AND status = 'succeeded' \
           AND reference = ANY($1) ORDER BY reference",
    )
    .bind([&cancelled, &tokenized].map(|id| id.to_string()))
    .fetch_all(&app.sandbox_db)
    .await?;
    assert_eq!(charged, ["4242", "4242"]);
    assert_eq!(
        app.amounts(&cancelled, "refund").await?,
        [PIZZA_ORDER_TOTAL]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_takes_exactly_one_of_a_card_and_a_known_payment_method() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let both = json!({ "card_number": GOOD_CARD, "payment_method": "pm_0123" });
    for (payment, field) in [
        (both, "payment"),
        (json!({}), "payment.card_number"),
        (
            json!({ "payment_method": "card_0123" }),
            "payment.payment_method",
        ),
        (
            json!({ "card_number": "4242424242424241" }),
            "payment.card_number",
        ),
    ] {
        let mut order = pizza_order("minji", GOOD_CARD);
        order["payment"] = payment.clone();
        let (status, body) = app.place_order(&order).await?;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{payment}: {body}"
        );
        assert_eq!(body["error"]["field"], field, "{payment}: {body}");
    }
    // A method the provider never issued is declined, and nothing is charged.
    let mut order = pizza_order("minji", GOOD_CARD);
    order["payment"] = json!({ "payment_method": "pm_neverissued" });
    let (status, body) = app.place_order(&order).await?;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["code"], "payment_declined");
    let id = body["error"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(app.amounts(&id, "charge").await?, Vec::<i64>::new());
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders.orders")
        .fetch_one(&app.db)
        .await?;
    assert_eq!(orders, 1, "only the declined order exists");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_while_the_provider_is_down_is_503_and_nothing_is_placed()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    // A client that tokenized before the outage still gets its order placed and paid later.
    let order = app
        .with_payment_method(pizza_order("minji", GOOD_CARD))
        .await?;
    app.set_provider_down(true).await?;
    let (status, body) = app.place_order(&pizza_order("minji", GOOD_CARD)).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "orders_unavailable");
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders.orders")
        .fetch_one(&app.db)
        .await?;
    assert_eq!(orders, 0, "nothing was placed");
    app.set_provider_down(false).await?;
    let id = app.paid_order_with(&order).await?;
    assert_eq!(app.amounts(&id, "charge").await?, [PIZZA_ORDER_TOTAL]);
    Ok(())
}
