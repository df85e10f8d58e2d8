//! Stock management, atomic reservations and idempotent order placement.

use courier_tests::{GOOD_CARD, PIZZA_ORDER_TOTAL, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_stock_manager_adds_and_sets_stock() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let path = "/shops/napoli-oven/menu/diavola/stock";
    let (status, item) = app.post(path, &json!({ "set": 7 })).await?;
    assert_eq!(
        (status, item["stock"].clone()),
        (StatusCode::OK, json!(7)),
        "{item}"
    );
    assert_eq!(item["menu_item_id"], "diavola");
    let (status, item) = app.post(path, &json!({ "add": 5 })).await?;
    assert_eq!((status, item["stock"].clone()), (StatusCode::OK, json!(12)));
    assert_eq!(app.stock("diavola").await?, 12);
    let (_, menu) = app.get("/shops/napoli-oven/menu").await?;
    let listed = menu["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["menu_item_id"] == "diavola")
        .unwrap()["stock"]
        .clone();
    assert_eq!(listed, json!(12));

    for (body, field) in [
        (json!({}), "body"),
        (json!({ "add": 1, "set": 1 }), "body"),
        (json!({ "add": 0 }), "add"),
        (json!({ "add": "3" }), "add"),
        (json!({ "set": -1 }), "set"),
    ] {
        let (status, answer) = app.post(path, &body).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = app
        .post(
            "/shops/napoli-oven/menu/bibimbap/stock",
            &json!({ "add": 1 }),
        )
        .await?;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("unknown_menu_item"))
    );
    let (status, _) = app
        .post("/shops/nowhere/menu/diavola/stock", &json!({ "add": 1 }))
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.stock("diavola").await?,
        12,
        "refused changes changed nothing"
    );
    Ok(())
}

#[tokio::test]
async fn two_orders_for_the_last_item_cannot_both_succeed() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    app.set_stock("margherita", 2).await?;
    let order = pizza_order("minji", GOOD_CARD);
    let (a, b) = tokio::join!(app.place_order(&order), app.place_order(&order));
    let mut statuses = vec![a?.0, b?.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    assert_eq!(app.stock("margherita").await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_same_idempotency_key_places_one_order_however_often_it_is_sent() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let body = pizza_order("junho", GOOD_CARD);
    let attempts =
        futures::future::join_all((0..6).map(|_| app.place_with_key("checkout-7f3a", &body))).await;
    let mut ids = Vec::new();
    for attempt in attempts {
        let (status, answer) = attempt?;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        ids.push(answer["order_id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one order for one key: {ids:?}");
    assert_eq!(
        app.money_moved(&ids[0]).await?,
        [("charge".to_owned(), PIZZA_ORDER_TOTAL)]
    );

    // Later, after the order moved on, the same request still gets the same order.
    let (status, again) = app.place_with_key("checkout-7f3a", &body).await?;
    assert_eq!(
        (status, again["order_id"].as_str().unwrap()),
        (StatusCode::CREATED, ids[0].as_str())
    );

    let other = pizza_order("junho", "4000000000000002");
    let (status, answer) = app.place_with_key("checkout-7f3a", &other).await?;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("idempotency_key_reused")
        )
    );

    // A declined order replays as declined, with the same id.
    let declined = pizza_order("junho", "4000000000000002");
    let (first, second) = tokio::join!(
        app.place_with_key("checkout-declined", &declined),
        app.place_with_key("checkout-declined", &declined)
    );
    let (first, second) = (first?, second?);
    assert_eq!(
        (first.0, second.0),
        (StatusCode::PAYMENT_REQUIRED, StatusCode::PAYMENT_REQUIRED)
    );
    assert_eq!(first.1["error"]["order_id"], second.1["error"]["order_id"]);
    let id = first.1["error"]["order_id"].as_str().unwrap().to_owned();
    app.wait_for_status(&id, "PAYMENT_DECLINED").await?;
    let (third, answer) = app.place_with_key("checkout-declined", &declined).await?;
    assert_eq!(
        (third, answer["error"]["order_id"].as_str().unwrap()),
        (StatusCode::PAYMENT_REQUIRED, id.as_str())
    );
    Ok(())
}
