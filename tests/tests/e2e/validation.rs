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
