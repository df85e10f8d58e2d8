//! Restarting the API and the worker while orders are in flight loses and duplicates nothing.

use courier_api::auth::Role;
use std::time::Duration;

use courier_tests::{
    DELIVERY_FEE, PIZZA_ORDER_TOTAL, SLOW_CARD, TestApp, TestOptions, pizza_order,
};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_api_and_the_worker_mid_flight_completes_every_order_once()
-> anyhow::Result<()> {
    let mut app = TestApp::spawn_with(TestOptions {
        slow_card_delay: Duration::from_secs(2),
        ..TestOptions::default()
    })
    .await?;
    // Five orders whose payment is slow: their POST /orders are in flight, waiting on the saga.
    let http = app.http.clone();
    let api = app.api.clone();
    let placing: Vec<_> = (0..5)
        .map(|i| {
            let (http, api) = (http.clone(), api.clone());
            let customer = format!("inflight-{i}");
            let token = app.token(Role::Customer, &customer);
            tokio::spawn(async move {
                let order = pizza_order(&customer, SLOW_CARD);
                let response = http
                    .post(format!("{api}/orders"))
                    .bearer_auth(token)
                    .json(&order)
                    .send()
                    .await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await?;
                anyhow::Ok((status, body))
            })
        })
        .collect();
    // Once all five sagas are running, restart both while the requests still wait.
    let running = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders.orders WHERE status = 'PAYMENT_PENDING'",
        )
        .fetch_one(&app.db)
        .await?;
        Ok(count == 5)
    })
    .await?;
    assert!(running, "five orders in flight");
    app.restart_api().await?;
    app.restart_worker_gracefully().await?;

    let mut ids = Vec::new();
    for placed in placing {
        let (status, body) = placed.await??;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "an in-flight request finished: {body}"
        );
        ids.push(body["order_id"].as_str().unwrap().to_owned());
    }
    // Enough riders for all five at once, so no order waits on another's delivery.
    sqlx::query(
        "INSERT INTO dispatch.riders (rider_id, name, phone) VALUES \
         ('rider-extra-1', 'Choi Yu-na', '+821055501004'), ('rider-extra-2', 'Jung Ha-eun', '+821055501005')",
    )
    .execute(&app.db)
    .await?;
    // The new API and worker take every order to the end.
    for id in &ids {
        app.shop_action(id, "accept").await?;
        app.shop_action(id, "ready").await?;
    }
    for id in &ids {
        app.wait_for_order(id, "a rider", |o| o["rider"].is_object())
            .await?;
        app.pickup_and_deliver(id).await?;
        app.wait_for_status(id, "DELIVERED").await?;
    }
    for id in &ids {
        let order = app.order(id).await?;
        let timeline = TestApp::timeline(&order);
        let mut unique = timeline.clone();
        unique.dedup();
        assert_eq!(unique, timeline, "no status twice: {timeline:?}");
        let mut money = app.money_moved(id).await?;
        money.sort();
        assert_eq!(
            money,
            [
                ("charge".to_owned(), PIZZA_ORDER_TOTAL),
                ("payout".to_owned(), DELIVERY_FEE)
            ]
        );
    }
    Ok(())
}
