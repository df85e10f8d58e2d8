//! Money safety: whatever times out, races or is refused, every won charged ends delivered or
//! refunded, a rider fee is paid at most once, and no stock or rider stays locked. Each test here
//! is a defect the saga had (see issue 9), driven through the API against real servers.

use std::time::Duration;

use courier_tests::{
    DEADLINE, PIZZA_ORDER_TOTAL, SLOW_CARD, TestApp, TestOptions, pizza_order, wait_until,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn why(reason: &str) -> Option<Value> {
    Some(json!({ "operator": "ops-park", "reason": reason }))
}

/// Options for a saga whose compensation keeps retrying (so a test can hold it mid-way with a
/// provider outage) with the given changes.
fn patient(change: impl FnOnce(&mut TestOptions)) -> TestOptions {
    let mut options = TestOptions::default();
    options.saga.compensation_attempts = 1_000;
    change(&mut options);
    options
}

/// The order's rider, from the dispatch assignment (the view names the rider only once paid).
async fn assigned_rider(app: &TestApp, order_id: &str) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT rider_id FROM dispatch.assignments WHERE order_id = $1::uuid")
            .bind(order_id)
            .fetch_optional(&app.db)
            .await?,
    )
}

/// Refunded in full, nothing paid to a rider, stock back and every rider free.
async fn assert_undone(app: &TestApp, id: &str, stock_before: i64) -> anyhow::Result<()> {
    assert_eq!(app.amounts(id, "charge").await?, [PIZZA_ORDER_TOTAL]);
    assert_eq!(app.amounts(id, "refund").await?, [PIZZA_ORDER_TOTAL]);
    assert_eq!(app.stock("margherita").await?, stock_before, "stock back");
    if let Some(rider) = assigned_rider(app, id).await? {
        assert!(app.rider_available(&rider).await?, "{rider} is free again");
    }
    Ok(())
}

#[tokio::test]
async fn a_charge_that_lands_after_the_payment_deadline_is_kept_once() -> anyhow::Result<()> {
    // The card answers after 3 s; the payment deadline is 1 s. The deadline is a workflow timer
    // that cancels the charge and waits for the attempt: the attempt's success stands.
    let app = TestApp::spawn_with(TestOptions {
        slow_card_delay: Duration::from_secs(3),
        ..patient(|o| o.saga.payment_deadline_secs = 1)
    })
    .await?;
    let (status, body) = app.place_order(&pizza_order("minji", SLOW_CARD)).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["order_id"].as_str().unwrap();
    assert_eq!(body["status"], "PAID");
    assert_eq!(app.amounts(id, "charge").await?, [PIZZA_ORDER_TOTAL]);
    assert_eq!(app.amounts(id, "refund").await?, Vec::<i64>::new());
    app.shop_action(id, "accept").await?;
    app.shop_action(id, "ready").await?;
    app.wait_for_order(id, "a rider", |o| o["rider"].is_object())
        .await?;
    app.pickup_and_deliver(id).await?;
    app.wait_for_status(id, "DELIVERED").await?;
    app.record_history(id, "v2_paid_after_deadline").await?;
    Ok(())
}

#[tokio::test]
async fn a_refused_rider_payout_waits_for_an_operator_and_a_cancel_refunds_it_all()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    app.set_payouts_declined(true).await?;
    let id = app.paid_order("seoyeon").await?;
    app.shop_action(&id, "accept").await?;
    let order = app.wait_for_status(&id, "NEEDS_ATTENTION").await?;
    assert_eq!(order["attention"]["step"], "pay_rider", "{order}");
    assert!(order["rider"].is_null(), "no rider set off unpaid: {order}");

    let (status, body) = app.cancel(&id, "taking too long").await?;
    assert!(status.is_success(), "{status}: {body}");
    app.wait_for_status(&id, "CANCELLED").await?;
    assert_undone(&app, &id, before).await?;
    assert_eq!(app.amounts(&id, "payout").await?, Vec::<i64>::new());
    app.record_history(&id, "v2_payout_refused_then_cancelled")
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_cancel_during_a_payout_outage_is_answered_and_nothing_is_paid() -> anyhow::Result<()> {
    // The payout retries without end here; the cancellation must still get through.
    let app = TestApp::spawn_with(patient(|o| o.saga.payout_attempts = 1_000)).await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("hayoon").await?;
    app.set_provider_down(true).await?;
    app.shop_action(&id, "accept").await?;
    let retrying = wait_until(DEADLINE, || app.activity_pending(&id, "pay_rider")).await?;
    assert!(retrying, "the payout is being retried");

    let (status, body) = app.cancel(&id, "changed my mind").await?;
    assert!(status.is_success(), "{status}: {body}");
    app.wait_for_status(&id, "CANCELLING").await?;
    app.set_provider_down(false).await?;
    app.wait_for_status(&id, "CANCELLED").await?;
    assert_undone(&app, &id, before).await?;
    assert_eq!(app.amounts(&id, "payout").await?, Vec::<i64>::new());
    Ok(())
}

#[tokio::test]
async fn shop_actions_are_refused_while_the_saga_unwinds_by_itself() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(patient(|o| o.saga.shop_accept_timeout_secs = 1)).await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("jiwoo").await?;
    // The shop misses its deadline; the refund is held up by an outage.
    app.set_provider_down(true).await?;
    let order = app.wait_for_status(&id, "COMPENSATING").await?;
    assert_eq!(order["reason"], "shop_timeout", "{order}");
    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/accept"),
            &json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, board) = app.get("/shops/napoli-oven/orders").await?;
    assert!(
        !board.to_string().contains(&id),
        "an order being undone is off the shop's board: {board}"
    );

    app.set_provider_down(false).await?;
    let order = app.wait_for_status(&id, "REJECTED").await?;
    let timeline = TestApp::timeline(&order);
    assert_eq!(
        &timeline[timeline.len() - 2..],
        ["COMPENSATING", "REJECTED"]
    );
    assert_undone(&app, &id, before).await?;
    // The customer hears the outcome, not the undoing.
    let told = wait_until(DEADLINE, || async {
        Ok(app
            .notifications(&id)
            .await?
            .iter()
            .any(|(s, _)| s == "REJECTED"))
    })
    .await?;
    assert!(told);
    assert!(
        !app.notifications(&id)
            .await?
            .iter()
            .any(|(s, _)| s == "COMPENSATING")
    );
    app.record_history(&id, "v2_shop_timeout_compensated")
        .await?;
    Ok(())
}

#[tokio::test]
async fn delivery_is_refused_once_an_operator_cancel_unwinds_a_picked_up_order()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(patient(|_| {})).await?;
    let (id, _rider) = app.ready_order_with_rider("eunwoo").await?;
    let (status, _) = app
        .post(&format!("/deliveries/{id}/pickup"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK);
    app.set_provider_down(true).await?;
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/admin/orders/{id}/cancel"),
            why("the scooter was stolen with the food"),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_for_status(&id, "CANCELLING").await?;
    let (status, body) = app
        .post(&format!("/deliveries/{id}/deliver"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.set_provider_down(false).await?;
    app.wait_for_status(&id, "CANCELLED").await?;
    assert_eq!(app.amounts(&id, "refund").await?, [PIZZA_ORDER_TOTAL]);
    Ok(())
}

#[tokio::test]
async fn a_placement_the_api_gave_up_on_never_charges_even_when_its_workflow_runs_later()
-> anyhow::Result<()> {
    let mut app = TestApp::spawn_with(TestOptions {
        start_timeout: Duration::from_secs(1),
        ..TestOptions::default()
    })
    .await?;
    let before = app.stock("margherita").await?;
    app.stop_worker().await?;
    let body = pizza_order("yuna", courier_tests::GOOD_CARD);
    let (status, answer) = app.place_with_key("checkout-9c1e", &body).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "orders_unavailable");
    assert!(
        answer.get("order_id").is_none(),
        "no id for an order that will not run"
    );
    let abandoned: String = sqlx::query_scalar(
        "SELECT order_id::text FROM orders.placements WHERE state = 'abandoned'",
    )
    .fetch_one(&app.db)
    .await?;

    // The workflow was started after all; when a worker runs it, it ends having done nothing.
    app.start_worker();
    let handle = app
        .temporal
        .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{abandoned}"));
    tokio::time::timeout(
        DEADLINE,
        handle.get_result(temporalio_client::WorkflowGetResultOptions::default()),
    )
    .await??;
    assert_eq!(app.ledger(&abandoned).await?, Vec::<Value>::new());
    assert_eq!(app.stock("margherita").await?, before);
    let (status, _) = app.get(&format!("/orders/{abandoned}")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The customer's retry with the same key is a new order, placed normally.
    let (status, answer) = app.place_with_key("checkout-9c1e", &body).await?;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_ne!(answer["order_id"].as_str().unwrap(), abandoned);
    Ok(())
}

#[tokio::test]
async fn a_late_replay_is_answered_from_storage_and_an_expired_key_is_new() -> anyhow::Result<()> {
    use temporalio_client::NamespacedClient;
    use temporalio_client::tonic::IntoRequest;
    use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DeleteWorkflowExecutionRequest;

    let app = TestApp::spawn().await?;
    let body = pizza_order("dohyun", courier_tests::GOOD_CARD);
    let (status, first) = app.place_with_key("checkout-51d0", &body).await?;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["order_id"].as_str().unwrap().to_owned();
    app.cancel(&id, "wrong address").await?;
    app.wait_for_status(&id, "CANCELLED").await?;

    // Retention ran out: the workflow is gone from Temporal. A replay must not start it again.
    app.temporal
        .connection()
        .workflow_service()
        .delete_workflow_execution(
            DeleteWorkflowExecutionRequest {
                namespace: app.temporal.namespace(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: format!("order-{id}"),
                    run_id: String::new(),
                }),
            }
            .into_request(),
        )
        .await?;
    let (status, replay) = app.place_with_key("checkout-51d0", &body).await?;
    assert_eq!((status, &replay), (StatusCode::CREATED, &first));
    assert_eq!(app.amounts(&id, "charge").await?, [PIZZA_ORDER_TOTAL]);
    assert_eq!(
        app.get(&format!("/orders/{id}")).await?.1["status"],
        "CANCELLED"
    );

    // Once the key is older than its lifetime it is as good as new: a new order.
    sqlx::query(
        "UPDATE orders.idempotency_keys SET created_at = now() - interval '2 hours' WHERE key = $1",
    )
    .bind("checkout-51d0")
    .execute(&app.db)
    .await?;
    let (status, fresh) = app.place_with_key("checkout-51d0", &body).await?;
    assert_eq!(status, StatusCode::CREATED, "{fresh}");
    assert_ne!(fresh["order_id"], first["order_id"]);
    Ok(())
}

#[tokio::test]
async fn a_terminated_order_is_compensated_by_an_operator_partially_then_fully()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let (id, rider) = app.ready_order_with_rider("sua").await?;
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/admin/orders/{id}/terminate"),
            why("stuck in a loop"),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !app.rider_available(&rider).await?,
        "terminate undoes nothing"
    );

    // With the provider down the refund fails: the answer and the audit say so.
    app.set_provider_down(true).await?;
    let path = format!("/admin/orders/{id}/compensate");
    let compensate = || app.admin(Method::POST, &path, why("the order cannot go on"));
    let (status, body) = compensate().await?;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
    assert_eq!(body["status"], "NEEDS_ATTENTION");
    let failed: Vec<&str> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ok"] == false)
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["refund_payment"], "{body}");
    let (_, audit) = app
        .admin(Method::GET, &format!("/admin/audit?order_id={id}"), None)
        .await?;
    assert_eq!(audit["entries"][0]["action"], "compensate", "{audit}");
    assert_eq!(audit["entries"][0]["outcome"], "partial", "{audit}");

    // Back up: two operators at once; the undo happens once.
    app.set_provider_down(false).await?;
    let (a, b) = tokio::join!(compensate(), compensate());
    let mut statuses = vec![a?.0, b?.0];
    statuses.sort();
    assert!(
        statuses == [StatusCode::OK, StatusCode::OK]
            || statuses == [StatusCode::OK, StatusCode::CONFLICT],
        "{statuses:?}"
    );
    let order = app.wait_for_status(&id, "CANCELLED").await?;
    assert!(
        order["reason"].as_str().unwrap().contains("ops-park"),
        "{order}"
    );
    assert_undone(&app, &id, before).await?;
    assert!(app.rider_available(&rider).await?);
    assert_eq!(
        app.amounts(&id, "payout").await?.len(),
        1,
        "the rider keeps one fee"
    );
    Ok(())
}

#[tokio::test]
async fn an_order_never_made_ready_is_rejected_and_refunded_at_the_ready_deadline()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(patient(|o| o.saga.ready_timeout_secs = 3)).await?;
    let before = app.stock("margherita").await?;
    let id = app.paid_order("bomi").await?;
    app.shop_action(&id, "accept").await?;
    let order = app.wait_for_status(&id, "REJECTED").await?;
    assert_eq!(order["reason"], "not_ready", "{order}");
    assert_undone(&app, &id, before).await?;
    assert_eq!(
        app.amounts(&id, "payout").await?.len(),
        1,
        "the rider keeps the fee"
    );
    app.record_history(&id, "v2_not_ready").await?;
    Ok(())
}

#[tokio::test]
async fn an_overdue_delivery_asks_an_operator_and_the_rider_can_still_deliver() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with(patient(|o| o.saga.delivery_timeout_secs = 1)).await?;
    let (id, rider) = app.ready_order_with_rider("gaeun").await?;
    let (status, _) = app
        .post(&format!("/deliveries/{id}/pickup"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK);
    let order = app.wait_for_status(&id, "NEEDS_ATTENTION").await?;
    assert_eq!(order["attention"]["step"], "deliver", "{order}");
    let (status, body) = app
        .post(&format!("/deliveries/{id}/deliver"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.wait_for_status(&id, "DELIVERED").await?;
    assert!(
        wait_until(DEADLINE, || app.rider_available(&rider)).await?,
        "the rider is free again"
    );
    assert_eq!(app.amounts(&id, "refund").await?, Vec::<i64>::new());
    app.record_history(&id, "v2_delivered_late").await?;
    Ok(())
}

#[tokio::test]
async fn reconciliation_finds_the_books_disagreeing_and_refunds_what_is_owed() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    // A healthy delivered order: nothing to find.
    let (id, _) = app.ready_order_with_rider("jian").await?;
    app.pickup_and_deliver(&id).await?;
    app.wait_for_status(&id, "DELIVERED").await?;
    // Money the provider booked behind Courier's back: a charge for no order, two payouts.
    let stray = uuid::Uuid::new_v4().to_string();
    app.provider_post(
        "/v1/charges",
        "stray-charge",
        json!({ "amount": 12_000, "currency": "KRW", "card_number": courier_tests::GOOD_CARD,
                "description": "stray", "reference": stray }),
    )
    .await?;
    for key in ["payout-a", "payout-b"] {
        app.provider_post(
            "/v1/payouts",
            key,
            json!({ "amount": 3_000, "currency": "KRW", "destination": "rider-x", "reference": id }),
        )
        .await?;
    }

    let (status, run) = app
        .admin(
            Method::POST,
            "/admin/reconciliation/run",
            why("month-end close"),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{run}");
    let mut found: Vec<(String, String, bool)> = run["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["order_id"].as_str().unwrap().to_owned(),
                f["kind"].as_str().unwrap().to_owned(),
                f["repaired"].as_bool().unwrap(),
            )
        })
        .collect();
    found.sort();
    let mut expected = vec![
        (stray.clone(), "charge_without_order".to_owned(), true),
        (id.clone(), "duplicate_payout".to_owned(), false),
    ];
    expected.sort();
    assert_eq!(found, expected, "{run}");
    assert_eq!(app.amounts(&stray, "refund").await?, [12_000]);

    let (status, latest) = app
        .admin(Method::GET, "/admin/reconciliation", None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(latest["run"]["run_id"], run["run"]["run_id"]);
    assert_eq!(latest["findings"].as_array().unwrap().len(), 2);
    let (_, metrics) = app.get_text("/metrics").await?;
    assert!(
        metrics.contains("courier_reconciliation_findings{kind=\"duplicate_payout\"} 1"),
        "{metrics}"
    );

    // The next run finds the stray charge refunded: only the double payout is left for people.
    let (_, again) = app
        .admin(Method::POST, "/admin/reconciliation/run", why("check"))
        .await?;
    let kinds: Vec<&str> = again["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["duplicate_payout"], "{again}");
    Ok(())
}
