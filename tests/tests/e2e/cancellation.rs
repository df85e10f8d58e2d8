//! A customer's cancellation at every stage of the order, and its compensation.

use std::time::Duration;

use courier_tests::{
    DEADLINE, DELIVERY_FEE, PIZZA_ORDER_TOTAL, SLOW_CARD, TestApp, TestOptions, pizza_order,
    wait_until,
};
use courier_workflows::OrderWorkflow;
use courier_workflows::order::Cancellation;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What every cancelled order must show: refunded exactly what was charged, stock back, the
/// timeline ending CANCELLING → CANCELLED, and the customer told.
async fn assert_compensated(
    app: &TestApp,
    id: &str,
    margherita_before: i64,
    charged: bool,
) -> anyhow::Result<Value> {
    let order = app.wait_for_status(id, "CANCELLED").await?;
    let timeline = TestApp::timeline(&order);
    assert_eq!(
        &timeline[timeline.len() - 2..],
        ["CANCELLING", "CANCELLED"],
        "{timeline:?}"
    );
    let money: Vec<_> = app
        .money_moved(id)
        .await?
        .into_iter()
        .filter(|(kind, _)| kind != "payout")
        .collect();
    let expected: Vec<(String, i64)> = if charged {
        vec![
            ("charge".into(), PIZZA_ORDER_TOTAL),
            ("refund".into(), PIZZA_ORDER_TOTAL),
        ]
    } else {
        vec![]
    };
    assert_eq!(money, expected, "charged and refunded once");
    assert_eq!(
        app.stock("margherita").await?,
        margherita_before,
        "stock restored"
    );
    let told = wait_until(DEADLINE, || async {
        let told = app.notifications(id).await?;
        Ok(told.contains(&("CANCELLED".to_owned(), "sms".to_owned()))
            && told.contains(&("CANCELLED".to_owned(), "email".to_owned())))
    })
    .await?;
    assert!(
        told,
        "the customer is told of the cancellation by SMS and email"
    );
    Ok(order)
}

async fn ticket_withdrawn(app: &TestApp, id: &str) -> anyhow::Result<bool> {
    Ok(app
        .count("SELECT count(*) FROM shop_board.tickets WHERE order_id = $1::uuid AND withdrawn_at IS NOT NULL", id)
        .await?
        == 1)
}

#[tokio::test]
async fn cancelling_while_the_payment_is_pending_refunds_whatever_was_charged() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with(TestOptions {
        payment_wait: Duration::from_millis(500),
        slow_card_delay: Duration::from_secs(2),
        ..TestOptions::default()
    })
    .await?;
    let before = app.stock("margherita").await?;
    let (status, body) = app.place_order(&pizza_order("minji", SLOW_CARD)).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "PAYMENT_PENDING");
    let id = body["order_id"].as_str().unwrap().to_owned();
    // Cancel while an attempt to charge is running at the provider (not merely scheduled).
    let charging = wait_until(DEADLINE, || async {
        app.activity_running(&id, "charge_payment").await
    })
    .await?;
    assert!(charging, "the slow charge attempt starts");

    let (status, body) = app.cancel(&id, "changed my mind").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        ["CANCELLING", "CANCELLED"].contains(&body["status"].as_str().unwrap()),
        "{body}"
    );
    // The running charge went through before the cancellation could stop it: it is refunded.
    let order = assert_compensated(&app, &id, before, true).await?;
    assert_eq!(order["reason"], "changed my mind");
    let tickets = app
        .count(
            "SELECT count(*) FROM shop_board.tickets WHERE order_id = $1::uuid",
            &id,
        )
        .await?;
    assert_eq!(tickets, 0, "a cancelled order never reached the shop");
    Ok(())
}

#[tokio::test]
async fn cancelling_after_payment_refunds_the_card_and_tells_the_shop() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("minji").await?;
    wait_until(DEADLINE, || async {
        Ok(app
            .count(
                "SELECT count(*) FROM shop_board.tickets WHERE order_id = $1::uuid",
                &id,
            )
            .await?
            == 1)
    })
    .await?;

    let (status, body) = app.cancel(&id, "ordered twice by mistake").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_compensated(&app, &id, before, true).await?;
    assert!(ticket_withdrawn(&app, &id).await?);
    let (_, board) = app
        .get("/shops/napoli-oven/orders?status=CANCELLED")
        .await?;
    assert!(
        board["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == id.as_str()),
        "{board}"
    );

    // Cancelling again is harmless: same answer, no second refund.
    let (status, body) = app.cancel(&id, "again").await?;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("CANCELLED")),
        "{body}"
    );
    let order = assert_compensated(&app, &id, before, true).await?;
    assert_eq!(
        order["reason"], "ordered twice by mistake",
        "the first reason stands"
    );
    Ok(())
}

#[tokio::test]
async fn cancelling_after_acceptance_stops_the_search_for_a_rider() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    app.make_riders_busy().await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("junho").await?;
    app.shop_action(&id, "accept").await?;

    let (status, body) = app.cancel(&id, "taking too long").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let order = assert_compensated(&app, &id, before, true).await?;
    assert!(order["rider"].is_null());
    assert!(ticket_withdrawn(&app, &id).await?);
    let assignments = app
        .count(
            "SELECT count(*) FROM dispatch.assignments WHERE order_id = $1::uuid",
            &id,
        )
        .await?;
    assert_eq!(assignments, 0);
    Ok(())
}

#[tokio::test]
async fn cancelling_after_a_rider_is_assigned_recalls_the_rider() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("seoyeon").await?;
    app.shop_action(&id, "accept").await?;
    let order = app
        .wait_for_order(&id, "a rider", |o| o["rider"].is_object())
        .await?;
    let rider = order["rider"]["rider_id"].as_str().unwrap().to_owned();
    assert!(!app.rider_available(&rider).await?);

    let (status, _) = app.cancel(&id, "wrong address").await?;
    assert_eq!(status, StatusCode::OK);
    assert_compensated(&app, &id, before, true).await?;
    assert!(
        app.rider_available(&rider).await?,
        "the rider is free again"
    );
    // Policy: the rider keeps the delivery fee paid before setting off.
    assert_eq!(app.amounts(&id, "payout").await?, [DELIVERY_FEE]);
    Ok(())
}

#[tokio::test]
async fn cancelling_after_the_order_is_ready_still_compensates_everything() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let (id, rider) = app.ready_order_with_rider("doyun").await?;

    let (status, _) = app.cancel(&id, "no longer home").await?;
    assert_eq!(status, StatusCode::OK);
    let order = assert_compensated(&app, &id, before, true).await?;
    assert!(TestApp::timeline(&order).contains(&"READY".to_owned()));
    assert!(app.rider_available(&rider).await?);
    assert!(ticket_withdrawn(&app, &id).await?);
    // A cancelled order takes no more actions: its delivery was taken back from the rider, the
    // shop's board no longer lets it be readied.
    let (status, body) = app
        .post(
            &format!("/deliveries/{id}/pickup"),
            &json!({ "rider_id": rider }),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("wrong_rider"))
    );
    let (status, body) = app
        .post(&format!("/shops/napoli-oven/orders/{id}/ready"), &json!({}))
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
    app.record_history(&id, "cancelled_after_ready").await?;
    Ok(())
}

#[tokio::test]
async fn cancelling_after_pickup_is_refused_and_the_delivery_goes_on() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("hana").await?;
    app.shop_action(&id, "accept").await?;
    app.shop_action(&id, "ready").await?;
    app.wait_for_order(&id, "a rider", |o| o["rider"].is_object())
        .await?;
    let (status, _) = app
        .post(&format!("/deliveries/{id}/pickup"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app.cancel(&id, "too late?").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("cannot_cancel")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("picked"),
        "{body}"
    );
    // An operator's signal is ignored too.
    app.signal_order(
        &id,
        OrderWorkflow::cancel,
        Cancellation {
            reason: "ops".into(),
        },
    )
    .await?;
    let (status, _) = app
        .post(&format!("/deliveries/{id}/deliver"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK);
    let order = app.wait_for_status(&id, "DELIVERED").await?;
    assert!(
        !TestApp::timeline(&order)
            .iter()
            .any(|s| s.starts_with("CANCEL"))
    );
    let refunds: Vec<_> = app
        .money_moved(&id)
        .await?
        .into_iter()
        .filter(|(k, _)| k == "refund")
        .collect();
    assert!(refunds.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_operator_can_cancel_with_a_plain_signal() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("minji").await?;
    app.signal_order(
        &id,
        OrderWorkflow::cancel,
        Cancellation {
            reason: "fraud check failed".into(),
        },
    )
    .await?;
    let order = assert_compensated(&app, &id, before, true).await?;
    assert_eq!(order["reason"], "fraud check failed");
    Ok(())
}

#[tokio::test]
async fn a_refund_that_keeps_failing_waits_for_an_operator_and_survives_a_worker_restart()
-> anyhow::Result<()> {
    let app_options = TestOptions::default();
    let mut app = TestApp::spawn_with(app_options).await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("junho").await?;
    app.set_provider_down(true).await?;
    let (status, _) = app.cancel(&id, "changed my mind").await?;
    assert_eq!(status, StatusCode::OK);

    // The refund fails attempt after attempt: the order waits for an operator, step recorded.
    let order = app.wait_for_status(&id, "NEEDS_ATTENTION").await?;
    assert_eq!(order["attention"]["step"], "refund_payment", "{order}");
    assert!(
        order["attention"]["error"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{order}"
    );

    // The worker restarts while the order waits; the provider comes back; an operator retries.
    app.restart_worker()?;
    app.set_provider_down(false).await?;
    app.signal_order(&id, OrderWorkflow::retry, ()).await?;
    let order = assert_compensated(&app, &id, before, true).await?;
    assert!(order["attention"].is_null());
    let timeline = TestApp::timeline(&order);
    assert!(
        timeline.contains(&"NEEDS_ATTENTION".to_owned()),
        "{timeline:?}"
    );
    app.record_history(&id, "cancelled_after_operator_retry")
        .await?;
    Ok(())
}
