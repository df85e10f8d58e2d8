//! Payment outcomes decided within `POST /orders`.

use courier_tests::{DECLINED_CARD, GOOD_CARD, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_declined_card_is_refused_with_402_and_leaves_stock_untouched() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let margherita_before = app.stock("margherita").await?;

    let (status, body) = app
        .place_order(&pizza_order("jisoo", DECLINED_CARD))
        .await?;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["code"], "payment_declined");
    let id = body["error"]["order_id"]
        .as_str()
        .expect("the declined order's id")
        .to_owned();

    let order = app.wait_for_status(&id, "PAYMENT_DECLINED").await?;
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("declined"),
        "{order}"
    );
    assert_eq!(
        app.stock("margherita").await?,
        margherita_before,
        "stock released"
    );

    // The provider booked one failed charge and nothing else; the shop never saw the order.
    let ledger = app.ledger(&id).await?;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(
        (ledger[0]["kind"].as_str(), ledger[0]["status"].as_str()),
        (Some("charge"), Some("failed"))
    );
    let tickets = app
        .count(
            "SELECT count(*) FROM shop_board.tickets WHERE order_id = $1::uuid",
            &id,
        )
        .await?;
    assert_eq!(tickets, 0);
    let (_, board) = app.get("/shops/napoli-oven/orders").await?;
    assert!(
        !board["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == id.as_str())
    );
    app.record_history(&id, "payment_declined").await?;
    Ok(())
}

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_refused_and_charges_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    app.set_stock("margherita", 1).await?;

    let (status, body) = app.place_order(&pizza_order("doyun", GOOD_CARD)).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "out_of_stock");
    assert_eq!(body["error"]["menu_item_id"], "margherita");
    let id = body["error"]["order_id"].as_str().unwrap().to_owned();
    app.wait_for_status(&id, "OUT_OF_STOCK").await?;
    assert!(app.ledger(&id).await?.is_empty(), "nothing charged");
    assert_eq!(app.stock("margherita").await?, 1);
    assert_eq!(app.stock("cola-500").await?, 100, "no partial reservation");
    Ok(())
}

#[tokio::test]
async fn an_ended_order_says_why_as_data_and_a_lost_answer_is_rebuilt_from_it() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    app.set_stock("margherita", 1).await?;
    let body = pizza_order("haneul", GOOD_CARD);
    let (status, first) = app.place_with_key("checkout-oos", &body).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{first}");
    let id = first["error"]["order_id"].as_str().unwrap().to_owned();
    app.wait_for_status(&id, "OUT_OF_STOCK").await?;

    // The read model carries the cause as data beside the sentence.
    let (_, order) = app.get(&format!("/orders/{id}")).await?;
    assert_eq!(
        order["cause"],
        json!({ "code": "out_of_stock", "menu_item_id": "margherita" })
    );
    assert!(order["reason"].as_str().is_some_and(|r| !r.is_empty()));

    // The API lost its stored answer (it crashed before writing it): the retry finds the order's
    // workflow ended and answers from the read model's cause, the same as the first time.
    sqlx::query(
        "UPDATE orders.idempotency_keys SET response_status = NULL, response_body = NULL \
         WHERE key = 'checkout-oos'",
    )
    .execute(&app.db)
    .await?;
    let (status, again) = app.place_with_key("checkout-oos", &body).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "out_of_stock");
    assert_eq!(again["error"]["menu_item_id"], "margherita");
    assert_eq!(again["error"]["order_id"], id.as_str());
    assert!(app.ledger(&id).await?.is_empty(), "nothing charged");
    app.record_history(&id, "v3_out_of_stock").await?;
    Ok(())
}

#[tokio::test]
async fn a_customer_page_lists_orders_newest_first_a_page_at_a_time() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut placed = Vec::new();
    for _ in 0..3 {
        let (status, body) = app.place_order(&pizza_order("seoyeon", GOOD_CARD)).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        placed.push(body["order_id"].as_str().unwrap().to_owned());
    }
    let (status, first) = app.get("/customers/seoyeon/orders?limit=2").await?;
    assert_eq!(status, StatusCode::OK, "{first}");
    let first_ids: Vec<_> = first["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(first_ids, [placed[2].clone(), placed[1].clone()]);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();

    let (_, second) = app
        .get(&format!(
            "/customers/seoyeon/orders?limit=2&cursor={cursor}"
        ))
        .await?;
    let second_ids: Vec<_> = second["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(second_ids, [placed[0].clone()]);
    assert!(second["next_cursor"].is_null());

    let (_, others) = app.get("/customers/someone-else/orders").await?;
    assert!(others["orders"].as_array().unwrap().is_empty());
    let (status, body) = app.get("/customers/seoyeon/orders?cursor=garbage").await?;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "cursor".into())
    );
    Ok(())
}
