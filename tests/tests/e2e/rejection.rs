//! A shop turning an order down.

use courier_tests::{GOOD_CARD, PIZZA_ORDER_TOTAL, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_shop_rejection_refunds_the_card_and_restores_stock() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let (status, order) = app.place_order(&pizza_order("hana", GOOD_CARD)).await?;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["order_id"].as_str().unwrap().to_owned();
    assert_eq!(app.stock("margherita").await?, before - 2);

    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/reject"),
            &json!({ "reason": "the oven is broken" }),
        )
        .await?;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("REJECTED")),
        "{body}"
    );

    let order = app.order(&id).await?;
    assert_eq!(order["status"], "REJECTED");
    assert_eq!(order["reason"], "the oven is broken");
    assert_eq!(order["cause"], json!({ "code": "rejected_by_shop" }));
    assert_eq!(app.stock("margherita").await?, before);
    let ledger = app.ledger(&id).await?;
    let refunds: Vec<_> = ledger.iter().filter(|e| e["kind"] == "refund").collect();
    assert_eq!(refunds.len(), 1, "{ledger:?}");
    assert_eq!(refunds[0]["amount"], PIZZA_ORDER_TOTAL);

    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/accept"),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
    app.record_history(&id, "rejected_by_shop").await?;
    Ok(())
}

#[tokio::test]
async fn a_rejection_needs_a_reason() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (_, order) = app.place_order(&pizza_order("hana", GOOD_CARD)).await?;
    let id = order["order_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/reject"),
            &json!({ "reason": "  " }),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("reason"))
    );
    assert_eq!(app.order(id).await?["status"], "PAID");
    Ok(())
}
