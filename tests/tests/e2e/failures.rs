//! Orders the saga ends by itself, and orders accepted while the world is down.

use std::time::Duration;

use courier_tests::{GOOD_CARD, PIZZA_ORDER_TOTAL, TestApp, TestOptions, pizza_order};
use courier_workflows::OrderWorkflow;
use reqwest::StatusCode;

fn quick(tweak: impl FnOnce(&mut TestOptions)) -> TestOptions {
    let mut options = TestOptions::default();
    tweak(&mut options);
    options
}

#[tokio::test]
async fn a_shop_that_does_not_accept_in_time_gets_the_order_rejected_and_refunded()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(quick(|o| o.saga.shop_accept_timeout_secs = 2)).await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("minji").await?;
    let order = app.wait_for_status(&id, "REJECTED").await?;
    assert_eq!(order["reason"], "shop_timeout");
    assert_eq!(
        app.money_moved(&id).await?,
        [
            ("charge".to_owned(), PIZZA_ORDER_TOTAL),
            ("refund".to_owned(), PIZZA_ORDER_TOTAL)
        ]
    );
    assert_eq!(app.stock("margherita").await?, before);
    let (status, _) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/accept"),
            &serde_json::json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "too late to accept");
    app.record_history(&id, "rejected_shop_timeout").await?;
    Ok(())
}

#[tokio::test]
async fn with_no_rider_free_the_order_is_rejected_after_the_dispatch_deadline() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with(quick(|o| o.saga.dispatch_timeout_secs = 2)).await?;
    app.make_riders_busy().await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("junho").await?;
    app.shop_action(&id, "accept").await?;
    let order = app.wait_for_status(&id, "REJECTED").await?;
    assert_eq!(order["reason"], "no_rider");
    assert_eq!(
        app.money_moved(&id).await?,
        [
            ("charge".to_owned(), PIZZA_ORDER_TOTAL),
            ("refund".to_owned(), PIZZA_ORDER_TOTAL)
        ]
    );
    assert_eq!(app.stock("margherita").await?, before);
    let withdrawn = app
        .count("SELECT count(*) FROM shop_board.tickets WHERE order_id = $1::uuid AND withdraw_reason = 'no_rider'", &id)
        .await?;
    assert_eq!(withdrawn, 1, "the shop is told");
    Ok(())
}

#[tokio::test]
async fn orders_are_accepted_while_the_payment_provider_is_down_and_paid_when_it_returns()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(quick(|o| o.payment_wait = Duration::from_millis(800))).await?;
    // The app tokenized the card before the outage (a card number itself is then a 503: test
    // `cards::a_card_number_while_the_provider_is_down_is_503_and_nothing_is_placed`).
    let order = app
        .with_payment_method(pizza_order("seoyeon", GOOD_CARD))
        .await?;
    app.set_provider_down(true).await?;
    let started = std::time::Instant::now();
    let (status, body) = app.place_order(&order).await?;
    let answered_in = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "PAYMENT_PENDING");
    println!("POST /orders answered 202 in {answered_in:?} with the provider down");
    let id = body["order_id"].as_str().unwrap().to_owned();
    app.wait_for_status(&id, "PAYMENT_PENDING").await?;
    let (_, board) = app.get("/shops/napoli-oven/orders").await?;
    assert!(
        board["orders"].as_array().unwrap().is_empty(),
        "an unpaid order never reaches the shop"
    );

    app.set_provider_down(false).await?;
    let order = app.wait_for_status(&id, "PAID").await?;
    assert_eq!(TestApp::timeline(&order), ["PAYMENT_PENDING", "PAID"]);
    assert_eq!(
        app.money_moved(&id).await?,
        [("charge".to_owned(), PIZZA_ORDER_TOTAL)]
    );
    Ok(())
}

#[tokio::test]
async fn a_payment_impossible_past_its_deadline_fails_the_order_and_releases_stock()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(quick(|o| {
        o.payment_wait = Duration::from_millis(500);
        o.saga.payment_deadline_secs = 2;
    }))
    .await?;
    let before = app.stock("margherita").await?;
    let order = app
        .with_payment_method(pizza_order("doyun", GOOD_CARD))
        .await?;
    app.set_provider_down(true).await?;
    let (status, body) = app.place_order(&order).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["order_id"].as_str().unwrap().to_owned();

    // Checking that nothing was charged needs the provider too: an operator is asked to retry.
    let order = app.wait_for_status(&id, "NEEDS_ATTENTION").await?;
    assert_eq!(order["attention"]["step"], "refund_payment");
    app.set_provider_down(false).await?;
    app.signal_order(&id, OrderWorkflow::retry, ()).await?;
    let order = app.wait_for_status(&id, "PAYMENT_FAILED").await?;
    assert!(
        order["reason"]
            .as_str()
            .unwrap()
            .contains("payment impossible"),
        "{order}"
    );
    assert!(app.money_moved(&id).await?.is_empty(), "nothing charged");
    assert_eq!(app.stock("margherita").await?, before);
    Ok(())
}

#[tokio::test]
async fn a_provider_error_that_passes_is_retried_and_charges_once() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (status, body) = app
        .place_order(&pizza_order("hana", "4000000000000119"))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["order_id"].as_str().unwrap();
    assert_eq!(
        app.money_moved(id).await?,
        [("charge".to_owned(), PIZZA_ORDER_TOTAL)]
    );
    Ok(())
}
