//! Operating Courier: the admin endpoints (behind the operator token), the CLI, health, metrics.

use courier_api::auth::Role;
use courier_api::cli::{Action, Cli, Command, Intent};
use courier_tests::{PIZZA_ORDER_TOTAL, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    app.admin(method, path, body).await
}

/// The order's entry in the stuck list (`null` while it is not listed).
async fn stuck_entry(app: &TestApp, order_id: &str) -> anyhow::Result<Value> {
    let (_, body) = admin(app, reqwest::Method::GET, "/admin/orders/stuck", None).await?;
    Ok(body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == order_id)
        .cloned()
        .unwrap_or(Value::Null))
}

fn why(reason: &str) -> Option<Value> {
    Some(json!({ "operator": "ops-kim", "reason": reason }))
}

/// The CLI as operator `ops-lee` (a JWT: the audit trail records its subject).
fn cli(app: &TestApp, command: Command) -> Cli {
    Cli {
        api: app.api.clone(),
        token: Some(app.token(Role::Operator, "ops-lee")),
        command,
    }
}

fn action(order_id: &str, reason: &str) -> Action {
    Action {
        order_id: order_id.to_owned(),
        intent: Intent {
            reason: reason.to_owned(),
        },
    }
}

#[tokio::test]
async fn admin_endpoints_refuse_requests_without_the_operator_token() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/orders/stuck".to_owned()),
        (reqwest::Method::GET, "/admin/audit".to_owned()),
        (
            reqwest::Method::POST,
            format!("/admin/orders/{id}/terminate"),
        ),
        (
            reqwest::Method::POST,
            "/admin/read-model/rebuild".to_owned(),
        ),
        (
            reqwest::Method::POST,
            format!("/admin/orders/{id}/compensate"),
        ),
        (reqwest::Method::GET, "/admin/reconciliation".to_owned()),
        (
            reqwest::Method::POST,
            "/admin/reconciliation/run".to_owned(),
        ),
    ] {
        for token in [None, Some("wrong-token")] {
            let mut request = app
                .http
                .request(method.clone(), format!("{}{path}", app.api))
                .json(&json!({ "operator": "x", "reason": "y" }));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await?;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
            let body: Value = response.json().await?;
            assert_eq!(body["error"]["code"], "unauthorized");
            assert!(
                body.get("orders").is_none()
                    && body.get("entries").is_none()
                    && body.get("findings").is_none(),
                "no data leaks: {body}"
            );
        }
    }
    // Nothing happened to the order.
    assert_eq!(app.order(&id).await?["status"], "PAID");
    // Shop and rider endpoints need no operator token.
    let (status, _) = app.get("/shops/napoli-oven/orders").await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn stuck_orders_are_listed_with_kind_step_attempts_and_a_link() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    // A rider search failing attempt after attempt.
    app.make_riders_busy().await?;
    let dispatching = app.paid_order("junho").await?;
    app.shop_action(&dispatching, "accept").await?;
    // An order doing well, waiting for its shop.
    let healthy = app.paid_order("seoyeon").await?;
    // A refund that waits for an operator.
    let parked = app.paid_order("hana").await?;
    app.set_provider_down(true).await?;
    app.cancel(&parked, "changed my mind").await?;
    app.wait_for_status(&parked, "NEEDS_ATTENTION").await?;

    let listed = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        let (_, body) = admin(&app, reqwest::Method::GET, "/admin/orders/stuck", None).await?;
        Ok(body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == dispatching.as_str() && o["kind"] == "activity_failing"))
    })
    .await?;
    assert!(listed, "the failing rider search is listed");
    let (status, body) = admin(&app, reqwest::Method::GET, "/admin/orders/stuck", None).await?;
    assert_eq!(status, StatusCode::OK);
    let orders = body["orders"].as_array().unwrap();
    let find = |id: &str| {
        orders
            .iter()
            .find(|o| o["order_id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let failing = find(&dispatching);
    assert_eq!(failing["step"], "assign_rider", "{failing}");
    assert!(failing["attempts"].as_i64().unwrap() >= 3, "{failing}");
    assert!(
        failing["last_error"]
            .as_str()
            .unwrap()
            .contains("every rider is busy"),
        "{failing}"
    );
    assert_eq!(
        failing["temporal_ui_url"],
        format!("http://127.0.0.1:8233/namespaces/default/workflows/order-{dispatching}")
    );
    let waiting = find(&parked);
    assert_eq!(
        (waiting["kind"].as_str(), waiting["step"].as_str()),
        (Some("needs_attention"), Some("refund_payment")),
        "{waiting}"
    );
    assert!(
        waiting["last_error"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{waiting}"
    );

    // With a threshold of zero, a healthy order that waits (for the shop) counts as not progressing.
    let (_, body) = admin(
        &app,
        reqwest::Method::GET,
        "/admin/orders/stuck?older_than_secs=0",
        None,
    )
    .await?;
    let slow = body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == healthy.as_str())
        .cloned();
    assert_eq!(slow.map(|o| o["kind"].clone()), Some(json!("no_progress")));
    let (status, body) = admin(
        &app,
        reqwest::Method::GET,
        "/admin/orders/stuck?older_than_secs=soon",
        None,
    )
    .await?;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("older_than_secs"))
    );

    // The operator fixes the provider and retries from the CLI; the retry is audited.
    app.set_provider_down(false).await?;
    let (status, answer) = courier_api::cli::run(cli(
        &app,
        Command::Retry(action(&parked, "provider is back")),
    ))
    .await?;
    assert_eq!(status, 202, "{answer}");
    app.wait_for_status(&parked, "CANCELLED").await?;
    let (status, audit) = courier_api::cli::run(cli(
        &app,
        Command::Audit {
            order_id: Some(parked.clone()),
        },
    ))
    .await?;
    assert_eq!(status, 200);
    let entry = &audit["entries"][0];
    assert_eq!(
        (
            entry["operator"].as_str(),
            entry["action"].as_str(),
            entry["outcome"].as_str()
        ),
        (Some("ops-lee"), Some("retry"), Some("ok")),
        "{audit}"
    );
    assert_eq!(entry["reason"], "provider is back");
    // Retrying an order that waits for nobody is refused, and the refusal is audited too.
    let (status, answer) =
        courier_api::cli::run(cli(&app, Command::Retry(action(&healthy, "just in case")))).await?;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (409, json!("invalid_transition"))
    );
    let (_, audit) = admin(
        &app,
        reqwest::Method::GET,
        &format!("/admin/audit?order_id={healthy}"),
        None,
    )
    .await?;
    assert_eq!(audit["entries"][0]["outcome"], "refused");
    Ok(())
}

#[tokio::test]
async fn an_operator_cancel_compensates_even_after_pickup() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let before = app.stock("margherita").await?;
    let (id, rider) = app.ready_order_with_rider("doyun").await?;
    let (status, _) = app
        .post(&format!("/deliveries/{id}/pickup"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/orders/{id}/cancel"),
        why("the rider crashed; food is lost"),
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let order = app.wait_for_status(&id, "CANCELLED").await?;
    assert!(
        order["reason"].as_str().unwrap().contains("ops-kim"),
        "{order}"
    );
    assert_eq!(app.stock("margherita").await?, before);
    assert!(app.rider_available(&rider).await?);
    assert_eq!(app.amounts(&id, "refund").await?, [PIZZA_ORDER_TOTAL]);
    Ok(())
}

#[tokio::test]
async fn a_terminated_order_is_marked_needs_attention_not_lost() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/orders/{id}/terminate"),
        Some(json!({ "operator": "ops-kim" })),
    )
    .await?;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("reason")),
        "a reason is required"
    );

    let (status, order) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/orders/{id}/terminate"),
        why("workflow wedged after a bad deploy"),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "NEEDS_ATTENTION");
    assert_eq!(order["attention"]["step"], "terminated");
    assert!(
        order["reason"]
            .as_str()
            .unwrap()
            .contains("workflow wedged")
    );
    assert_eq!(
        TestApp::timeline(&order).last().map(String::as_str),
        Some("NEEDS_ATTENTION")
    );
    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/orders/{id}/terminate"),
        why("again"),
    )
    .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
    let (_, stuck) = admin(&app, reqwest::Method::GET, "/admin/orders/stuck", None).await?;
    assert!(
        stuck["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == id.as_str() && o["kind"] == "needs_attention")
    );
    Ok(())
}

#[tokio::test]
async fn a_restart_resets_the_workflow_and_the_order_completes_once() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    app.make_riders_busy().await?;
    let id = app.paid_order("junho").await?;
    app.shop_action(&id, "accept").await?;
    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/orders/{id}/restart"),
        why("dispatch fixed"),
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        body["run_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );

    sqlx::query("UPDATE dispatch.riders SET available = TRUE")
        .execute(&app.db)
        .await?;
    app.shop_action(&id, "ready").await?;
    app.wait_for_order(&id, "a rider", |o| o["rider"].is_object())
        .await?;
    app.pickup_and_deliver(&id).await?;
    let order = app.wait_for_status(&id, "DELIVERED").await?;
    let timeline = TestApp::timeline(&order);
    assert_eq!(
        timeline.iter().filter(|s| *s == "PAID").count(),
        1,
        "{timeline:?}"
    );
    let charges: Vec<_> = app
        .money_moved(&id)
        .await?
        .into_iter()
        .filter(|(k, _)| k == "charge")
        .collect();
    assert_eq!(charges.len(), 1, "charged once across the reset");
    Ok(())
}

#[tokio::test]
async fn the_read_model_is_rebuilt_from_the_workflows_after_it_is_lost() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let delivered = {
        let id = app.paid_order("minji").await?;
        app.shop_action(&id, "accept").await?;
        app.shop_action(&id, "ready").await?;
        app.wait_for_order(&id, "a rider", |o| o["rider"].is_object())
            .await?;
        for step in ["pickup", "deliver"] {
            app.post(&format!("/deliveries/{id}/{step}"), &json!({}))
                .await?;
        }
        id
    };
    let paid = app.paid_order("junho").await?;
    let (_, declined) = app
        .place_order(&pizza_order("hana", "4000000000000002"))
        .await?;
    let declined = declined["error"]["order_id"].as_str().unwrap().to_owned();
    let cancelled = app.paid_order("doyun").await?;
    app.cancel(&cancelled, "changed my mind").await?;
    let ids = [delivered, paid, declined, cancelled];
    app.wait_for_status(&ids[0], "DELIVERED").await?;
    app.wait_for_status(&ids[2], "PAYMENT_DECLINED").await?;
    app.wait_for_status(&ids[3], "CANCELLED").await?;
    let mut before = Vec::new();
    for id in &ids {
        before.push(app.order(id).await?);
    }

    sqlx::query("DELETE FROM orders.orders")
        .execute(&app.db)
        .await?;
    let (status, _) = app.get(&format!("/orders/{}", ids[0])).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "the read model is gone");

    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        "/admin/read-model/rebuild",
        why("restore after a bad migration"),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rebuilt"], 4, "{body}");
    assert_eq!(body["failed"], json!([]));
    for (id, was) in ids.iter().zip(&before) {
        assert_eq!(
            &app.order(id).await?,
            was,
            "order {id} is rebuilt as it was"
        );
    }
    // One order at a time works too.
    sqlx::query("DELETE FROM orders.orders WHERE order_id = $1::uuid")
        .bind(&ids[1])
        .execute(&app.db)
        .await?;
    let mut one = why("one order").unwrap();
    one["order_id"] = json!(ids[1]);
    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        "/admin/read-model/rebuild",
        Some(one),
    )
    .await?;
    assert_eq!(
        (status, body["rebuilt"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    assert_eq!(app.order(&ids[1]).await?, before[1]);
    Ok(())
}

#[tokio::test]
async fn health_readiness_metrics_and_the_api_description_are_served() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    let (status, body) = app.get("/readyz").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["checks"],
        json!({ "postgres": "ok", "temporal": "ok" })
    );

    let metrics = app
        .http
        .get(format!("{}/metrics", app.api))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains(
            "courier_http_requests_total{method=\"POST\",route=\"/orders\",status=\"201\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("courier_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("courier_orders{status=\"PAID\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("courier_read_model_lag_seconds{quantile=\"0.99\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("courier_notifications{channel=\"sms\""),
        "{metrics}"
    );
    assert!(!id.is_empty());

    let (status, spec) = app.get("/openapi.json").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["paths"]["/orders/{order_id}/cancel"]["post"].is_object());
    let page = app.http.get(format!("{}/docs/", app.api)).send().await?;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text().await?.contains("swagger"),
        "an interactive page"
    );
    let response = app
        .http
        .delete(format!("{}/orders", app.api))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "method_not_allowed");
    Ok(())
}

#[tokio::test]
async fn a_workflow_task_that_keeps_failing_is_listed_as_stuck() -> anyhow::Result<()> {
    use temporalio_client::WorkflowStartOptions;
    use temporalio_common::UntypedWorkflow;
    use temporalio_common::data_converters::RawValue;

    let app = TestApp::spawn().await?;
    // An order workflow whose input the worker cannot read: its first workflow task fails, and
    // Temporal retries it forever, as after a deploy that broke the workflow code.
    let id = uuid::Uuid::new_v4();
    let handle = app
        .temporal
        .start_workflow(
            UntypedWorkflow::new("OrderWorkflow"),
            RawValue::empty(),
            WorkflowStartOptions::new(app.task_queue.clone(), format!("order-{id}")).build(),
        )
        .await?;
    let id = id.to_string();
    let stuck_entry = || stuck_entry(&app, &id);
    let listed = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        Ok(stuck_entry().await?["kind"] == "workflow_task_failing")
    })
    .await?;
    let found = stuck_entry().await?;
    assert!(listed, "the failing workflow task is listed: {found}");
    assert!(found["attempts"].as_i64().unwrap() >= 2, "{found}");
    assert!(
        found["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{found}"
    );
    handle
        .terminate(
            temporalio_client::WorkflowTerminateOptions::builder()
                .reason("test over")
                .build(),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_worker_reports_health_readiness_and_metrics() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let router = courier_worker::ops::router(app.db.clone(), app.temporal.clone(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let health = app.http.get(format!("{base}/healthz")).send().await?;
    assert_eq!(
        (health.status(), health.text().await?),
        (StatusCode::OK, "ok".to_owned())
    );
    let ready = app.http.get(format!("{base}/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await?;
    assert_eq!(
        ready["checks"],
        json!({ "postgres": "ok", "temporal": "ok" })
    );
    let metrics = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(metrics.contains("courier_worker_up 1"), "{metrics}");
    Ok(())
}

#[tokio::test]
async fn a_local_step_that_keeps_failing_is_listed_as_stuck_until_it_recovers() -> anyhow::Result<()>
{
    let app = courier_tests::TestApp::spawn_with(courier_tests::TestOptions {
        payment_wait: std::time::Duration::from_millis(500),
        ..courier_tests::TestOptions::default()
    })
    .await?;
    // Reservations are refused by the database: the reservation (a local activity, invisible in a
    // workflow's description) fails attempt after attempt.
    sqlx::raw_sql(
        "CREATE FUNCTION stock.closed() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN RAISE EXCEPTION 'reservations are closed for maintenance'; END $$; \
         CREATE TRIGGER closed BEFORE INSERT ON stock.reservations \
           FOR EACH ROW EXECUTE FUNCTION stock.closed();",
    )
    .execute(&app.db)
    .await?;
    let (status, body) = app
        .place_order(&pizza_order("minji", courier_tests::GOOD_CARD))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["order_id"].as_str().unwrap().to_owned();
    let entry = || stuck_entry(&app, &id);
    let listed = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        Ok(entry().await?["kind"] == "activity_failing")
    })
    .await?;
    let found = entry().await?;
    assert!(listed, "the failing reservation is listed: {found}");
    assert_eq!(found["step"], "reserve_stock", "{found}");
    assert!(found["attempts"].as_i64().unwrap() >= 3, "{found}");
    assert!(
        found["last_error"]
            .as_str()
            .unwrap()
            .contains("closed for maintenance"),
        "{found}"
    );

    sqlx::query("DROP TRIGGER closed ON stock.reservations")
        .execute(&app.db)
        .await?;
    app.wait_for_status(&id, "PAID").await?;
    assert_eq!(
        entry().await?,
        Value::Null,
        "a recovered step is no longer listed"
    );
    Ok(())
}

#[tokio::test]
async fn admin_cancels_racing_the_end_of_the_compensation_are_202_or_409_never_500()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    let path = format!("/admin/orders/{id}/cancel");
    // Cancels keep coming while the saga compensates and its workflow closes: each lands before
    // (202), while the workflow is closing (it was running when checked, gone when signalled), or
    // after (409); the one in between used to be a 500.
    let answers = std::sync::Mutex::new(Vec::new());
    let done = courier_tests::wait_until(courier_tests::DEADLINE, || {
        let (app, path, id, answers) = (&app, &path, &id, &answers);
        async move {
            let (status, body) = admin(
                app,
                reqwest::Method::POST,
                path,
                why("duplicate order, refund it"),
            )
            .await?;
            let sent = {
                let mut answers = answers.lock().unwrap();
                answers.push((status, body));
                answers.len()
            };
            Ok(app.order(id).await?["status"] == "CANCELLED" && sent > 1)
        }
    })
    .await?;
    let answers = answers.into_inner().unwrap();
    assert!(done, "the order was cancelled: {answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::ACCEPTED
                || (*status == StatusCode::CONFLICT
                    && body["error"]["code"] == "invalid_transition"),
            "{status} {body}"
        );
    }
    assert_eq!(app.amounts(&id, "refund").await?, [PIZZA_ORDER_TOTAL]);
    Ok(())
}
