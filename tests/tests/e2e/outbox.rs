//! The notification outbox on its own: dispatchers racing for the same rows, leases of dead
//! dispatchers, and messages given up at their deadline. Rows are logged straight into the table,
//! so each test sees only its own.

use std::sync::Arc;

use courier_activities::notifications::NotificationActivities;
use courier_activities::notifications::outbox::{Dispatcher, OutboxSettings};
use courier_tests::TestApp;
use futures::future::join_all;

/// A dispatcher like the worker's, on the test's database and notification peers.
fn dispatcher(app: &TestApp) -> anyhow::Result<Dispatcher> {
    Ok(Dispatcher {
        sender: Arc::new(NotificationActivities {
            db: app.db.clone(),
            channels: app.notification_channels()?,
        }),
        settings: OutboxSettings::default(),
    })
}

/// Logs one due message; `lease` is how many seconds from now another dispatcher holds it for
/// (negative: its lease ran out), `give_up` when the row is given up.
async fn log_row(
    app: &TestApp,
    channel: &str,
    recipient: &str,
    body: &str,
    lease_secs: Option<f64>,
    give_up_secs: f64,
) -> anyhow::Result<uuid::Uuid> {
    let order_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO notifications.messages (order_id, status, audience, channel, recipient, \
           language, subject, body, html, next_attempt_at, lease_until, retry_initial_ms, \
           retry_max_ms, give_up_at) \
         VALUES ($1, 'PAID', 'customer', $2, $3, 'en', $4, $4, $4, now(), \
           now() + make_interval(secs => $5), 100, 1000, now() + make_interval(secs => $6))",
    )
    .bind(order_id)
    .bind(channel)
    .bind(recipient)
    .bind(body)
    .bind(lease_secs)
    .bind(give_up_secs)
    .execute(&app.db)
    .await?;
    Ok(order_id)
}

async fn row_state(
    app: &TestApp,
    order_id: uuid::Uuid,
) -> anyhow::Result<(String, i32, Option<String>)> {
    Ok(sqlx::query_as(
        "SELECT state, attempts, last_error FROM notifications.messages WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_one(&app.db)
    .await?)
}

#[tokio::test]
async fn dispatchers_racing_for_the_same_rows_send_each_message_once() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut ids = Vec::new();
    for n in 0..40 {
        let body = format!("outbox race message {n}");
        ids.push(log_row(&app, "sms", "+821055500000", &body, None, 600.0).await?);
    }
    // Four dispatchers (and the worker's own) drain the same rows at once.
    let racers: Vec<Dispatcher> = (0..4).map(|_| dispatcher(&app)).collect::<Result<_, _>>()?;
    join_all(racers.iter().map(|d| async move {
        while d.dispatch_once().await? > 0 {}
        anyhow::Ok(())
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let sent = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        let mut all = true;
        for id in &ids {
            all &= row_state(&app, *id).await?.0 == "sent";
        }
        Ok(all)
    })
    .await?;
    assert!(sent, "every row was sent");
    let requests: Vec<String> = app
        .twilio
        .as_ref()
        .unwrap()
        .requests()
        .into_iter()
        .filter(|r| r.body.starts_with("outbox race message"))
        .map(|r| r.body)
        .collect();
    let mut unique = requests.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(requests.len(), 40, "one request per message: {requests:?}");
    assert_eq!(unique.len(), 40, "no message sent twice");
    for id in &ids {
        assert_eq!(row_state(&app, *id).await?.1, 1, "one attempt each");
    }
    Ok(())
}

#[tokio::test]
async fn a_row_held_by_another_dispatcher_waits_for_its_lease_to_run_out() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let held = log_row(
        &app,
        "email",
        "held@example.kr",
        "held by a live dispatcher",
        Some(3600.0),
        600.0,
    )
    .await?;
    let orphaned = log_row(
        &app,
        "email",
        "orphan@example.kr",
        "left by a dead dispatcher",
        Some(-1.0),
        600.0,
    )
    .await?;
    let outbox = dispatcher(&app)?;
    let sent = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        outbox.dispatch_once().await?;
        Ok(row_state(&app, orphaned).await?.0 == "sent")
    })
    .await?;
    assert!(sent, "the row whose lease ran out is taken and sent");
    assert_eq!(
        row_state(&app, held).await?.0,
        "pending",
        "the row another dispatcher holds is left to it"
    );
    Ok(())
}

#[tokio::test]
async fn a_message_that_cannot_go_out_before_its_give_up_time_is_marked_failed()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    app.smtp.as_ref().unwrap().set_open(false);
    let id = log_row(
        &app,
        "email",
        "late@example.kr",
        "never delivered",
        None,
        0.05,
    )
    .await?;
    let outbox = dispatcher(&app)?;
    let failed = courier_tests::wait_until(courier_tests::DEADLINE, || async {
        outbox.dispatch_once().await?;
        Ok(row_state(&app, id).await?.0 == "failed")
    })
    .await?;
    let (state, attempts, error) = row_state(&app, id).await?;
    assert!(failed, "given up: {state} {error:?}");
    assert!(attempts >= 1);
    assert!(error.unwrap_or_default().starts_with("given up: "));
    let due: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT next_attempt_at FROM notifications.messages WHERE order_id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await?;
    assert_eq!(due, None, "a row given up is no longer due");
    Ok(())
}
