//! Shop and rider actions that the order's state does not allow.

use courier_tests::{GOOD_CARD, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn actions_out_of_order_are_invalid_transitions_and_change_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (_, order) = app.place_order(&pizza_order("junho", GOOD_CARD)).await?;
    let id = order["order_id"].as_str().unwrap().to_owned();

    // Nothing can be readied before the shop accepts, and no rider has the delivery yet.
    let (status, body) = app
        .post(&format!("/shops/napoli-oven/orders/{id}/ready"), &json!({}))
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("PAID"),
        "{body}"
    );
    for path in [
        format!("/deliveries/{id}/pickup"),
        format!("/deliveries/{id}/deliver"),
    ] {
        let (status, body) = app.post(&path, &json!({})).await?;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "wrong_rider"),
            "{path}: {body}"
        );
    }

    let (status, _) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/accept"),
            &json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/accept"),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "accepting twice"
    );

    // Pickup by the assigned rider before the shop marks the order ready.
    app.wait_for_order(&id, "a rider", |o| o["rider"].is_object())
        .await?;
    let (status, body) = app
        .post(&format!("/deliveries/{id}/pickup"), &json!({}))
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "{body}"
    );

    // Another shop cannot see or touch the order; unknown orders are not found.
    let (status, body) = app
        .post(&format!("/shops/seoul-bloom/orders/{id}/ready"), &json!({}))
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "order_not_found")
    );
    let unknown = uuid::Uuid::new_v4();
    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{unknown}/accept"),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "order_not_found")
    );
    let (status, body) = app
        .post(&format!("/deliveries/{unknown}/pickup"), &json!({}))
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "order_not_found")
    );
    let (status, body) = app.get(&format!("/orders/{unknown}")).await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "order_not_found")
    );
    let (status, _) = app.get("/orders/not-a-uuid").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A rider who is not the assigned one cannot pick the order up.
    let (status, _) = app
        .post(&format!("/shops/napoli-oven/orders/{id}/ready"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK);
    let order = app
        .wait_for_order(&id, "a rider", |o| o["rider"].is_object())
        .await?;
    let (status, body) = app
        .post(
            &format!("/deliveries/{id}/pickup"),
            &json!({ "rider_id": "rider-nobody" }),
        )
        .await?;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "wrong_rider"),
        "{body}"
    );

    let order_now = app.order(&id).await?;
    assert_eq!(
        order_now["timeline"], order["timeline"],
        "refused actions leave no trace"
    );
    Ok(())
}
