//! Malformed orders: each refused with 422, the field at fault named, nothing written anywhere.

use courier_tests::{GOOD_CARD, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The valid order with `pointer` replaced by `value` (or removed, for `None`).
fn with(pointer: &str, value: Option<Value>) -> Value {
    let mut order = pizza_order("minji", GOOD_CARD);
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        &mut order
    } else {
        order.pointer_mut(parent).unwrap()
    };
    match (parent, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(key.to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(v)) => items[key.parse::<usize>().unwrap()] = v,
        _ => unreachable!("test pointers name objects and arrays"),
    }
    order
}

#[tokio::test]
async fn every_malformed_field_is_refused_with_its_name() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let cases: Vec<(&str, Option<Value>, &str, &str)> = vec![
        ("/customer_id", None, "invalid_request", "customer_id"),
        (
            "/customer_id",
            Some(json!("has spaces")),
            "invalid_request",
            "customer_id",
        ),
        (
            "/customer_id",
            Some(json!(42)),
            "invalid_request",
            "customer_id",
        ),
        ("/shop_id", None, "invalid_request", "shop_id"),
        (
            "/shop_id",
            Some(json!("no-such-shop")),
            "unknown_shop",
            "shop_id",
        ),
        ("/items", None, "invalid_request", "items"),
        ("/items", Some(json!([])), "invalid_request", "items"),
        ("/items", Some(json!("pizza")), "invalid_request", "items"),
        (
            "/items/0",
            Some(json!("margherita")),
            "invalid_request",
            "items[0]",
        ),
        (
            "/items/0/menu_item_id",
            None,
            "invalid_request",
            "items[0].menu_item_id",
        ),
        (
            "/items/0/menu_item_id",
            Some(json!("rose-bouquet-12")),
            "unknown_menu_item",
            "items[0].menu_item_id",
        ),
        (
            "/items/1/menu_item_id",
            Some(json!("unicorn")),
            "unknown_menu_item",
            "items[1].menu_item_id",
        ),
        (
            "/items/1/menu_item_id",
            Some(json!("margherita")),
            "invalid_request",
            "items[1].menu_item_id",
        ),
        (
            "/items/0/quantity",
            None,
            "invalid_request",
            "items[0].quantity",
        ),
        (
            "/items/0/quantity",
            Some(json!(0)),
            "invalid_request",
            "items[0].quantity",
        ),
        (
            "/items/0/quantity",
            Some(json!(-1)),
            "invalid_request",
            "items[0].quantity",
        ),
        (
            "/items/0/quantity",
            Some(json!(1000)),
            "invalid_request",
            "items[0].quantity",
        ),
        (
            "/items/0/quantity",
            Some(json!("2")),
            "invalid_request",
            "items[0].quantity",
        ),
        (
            "/items/0/quantity",
            Some(json!(1.5)),
            "invalid_request",
            "items[0].quantity",
        ),
        (
            "/delivery_address",
            None,
            "invalid_request",
            "delivery_address",
        ),
        (
            "/delivery_address",
            Some(json!("x")),
            "invalid_request",
            "delivery_address",
        ),
        ("/phone", None, "invalid_request", "phone"),
        (
            "/phone",
            Some(json!("010-1234-5678")),
            "invalid_request",
            "phone",
        ),
        ("/email", None, "invalid_request", "email"),
        (
            "/email",
            Some(json!("minji.example.kr")),
            "invalid_request",
            "email",
        ),
        ("/payment", None, "invalid_request", "payment"),
        (
            "/payment",
            Some(json!("4242")),
            "invalid_request",
            "payment",
        ),
        (
            "/payment/card_number",
            None,
            "invalid_request",
            "payment.card_number",
        ),
        (
            "/payment/card_number",
            Some(json!("4242424242424241")),
            "invalid_request",
            "payment.card_number",
        ),
        (
            "/payment/card_number",
            Some(json!(4242424242424242_u64)),
            "invalid_request",
            "payment.card_number",
        ),
    ];
    for (pointer, value, code, field) in cases {
        let body = with(pointer, value.clone());
        let (status, answer) = app.place_order(&body).await?;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{pointer} = {value:?}: {answer}"
        );
        assert_eq!(
            answer["error"]["code"], code,
            "{pointer} = {value:?}: {answer}"
        );
        assert_eq!(
            answer["error"]["field"], field,
            "{pointer} = {value:?}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    for raw in ["{not json", "[1, 2]", "\"order\"", ""] {
        let (status, answer) = app.post_raw("/orders", raw).await?;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{raw:?}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "invalid_request");
        assert_eq!(answer["error"]["field"], "body");
    }

    // Nothing was written: no order, no reservation, no charge.
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders.orders")
        .fetch_one(&app.db)
        .await?;
    let reservations: i64 = sqlx::query_scalar("SELECT count(*) FROM stock.reservations")
        .fetch_one(&app.db)
        .await?;
    let charges: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger")
        .fetch_one(&app.sandbox_db)
        .await?;
    assert_eq!((orders, reservations, charges), (0, 0, 0));
    Ok(())
}

#[tokio::test]
async fn unknown_routes_and_bad_board_filters_answer_json_errors() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (status, body) = app.get("/no/such/route").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (status, body) = app.get("/shops/napoli-oven/orders?status=SHIPPED").await?;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("status"))
    );
    let (status, body) = app.get("/shops/nowhere/orders").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("unknown_shop"))
    );
    Ok(())
}

#[tokio::test]
async fn nul_bytes_huge_numbers_and_wrong_types_are_4xx_and_change_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (status, placed) = app.place_order(&pizza_order("minji", GOOD_CARD)).await?;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = placed["order_id"].as_str().unwrap().to_owned();
    let stock_before = app.stock("margherita").await?;

    let bodies: Vec<(String, Value, &str)> = vec![
        (
            format!("/orders/{id}/cancel"),
            json!({ "reason": "a\u{0}b" }),
            "reason",
        ),
        (
            format!("/orders/{id}/cancel"),
            json!({ "reason": 7 }),
            "reason",
        ),
        (
            format!("/shops/napoli-oven/orders/{id}/reject"),
            json!({ "reason": "oven\u{0}" }),
            "reason",
        ),
        (
            "/shops/napoli-oven/menu/margherita/stock".to_owned(),
            json!({ "add": 1e30 }),
            "add",
        ),
        (
            "/shops/napoli-oven/menu/margherita/stock".to_owned(),
            json!({ "set": 18_446_744_073_709_551_615_u64 }),
            "set",
        ),
        (
            format!("/deliveries/{id}/pickup"),
            json!({ "rider_id": ["r"] }),
            "rider_id",
        ),
        (
            format!("/deliveries/{id}/pickup"),
            json!({ "rider_id": "\u{0}" }),
            "rider_id",
        ),
    ];
    for (path, body, field) in bodies {
        let (status, answer) = app.post(&path, &body).await?;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{path} {body}: {answer}"
        );
    }
    let order = with("/items/0/quantity", Some(json!(1e300)));
    let (status, answer) = app.place_order(&order).await?;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("items[0].quantity")),
        "{answer}"
    );
    let order = with("/customer_id", Some(json!("min\u{0}ji")));
    let (status, _) = app.place_order(&order).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A NUL byte in a path names nothing.
    for path in ["/shops/napoli%00oven/menu"] {
        let (status, answer) = app.get(path).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "unknown_shop");
    }
    let (status, answer) = app
        .admin(
            reqwest::Method::POST,
            &format!("/admin/orders/{id}/cancel"),
            Some(json!({ "reason": "ops\u{0}" })),
        )
        .await?;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
        "{answer}"
    );

    // Nothing changed: the order is still paid, the stock as it was, no audit entry.
    assert_eq!(app.order(&id).await?["status"], "PAID");
    assert_eq!(app.stock("margherita").await?, stock_before);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM operations.audit")
        .fetch_one(&app.db)
        .await?;
    assert_eq!(audited, 0);
    Ok(())
}
