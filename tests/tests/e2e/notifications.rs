//! Notifications delivered for real: SMS through Twilio's API (Prism validating every request
//! against Twilio's official description), email through a real SMTP server (Mailpit).

use courier_tests::{
    DEADLINE, GOOD_CARD, TWILIO_FROM, TestApp, TestOptions, pizza_order, wait_until,
};
use serde_json::{Value, json};

/// Walks an order to DELIVERED through the API and returns its id.
async fn deliver_an_order(app: &TestApp, order: &Value) -> anyhow::Result<String> {
    let id = app.paid_order_with(order).await?;
    app.shop_action(&id, "accept").await?;
    app.shop_action(&id, "ready").await?;
    app.wait_for_order(&id, "a rider", |o| o["rider"].is_object())
        .await?;
    app.pickup_and_deliver(&id).await?;
    Ok(id)
}

/// Waits until every logged notification of the order has left `pending`/`sending`.
async fn wait_until_settled(
    app: &TestApp,
    id: &str,
    expected: usize,
) -> anyhow::Result<Vec<Value>> {
    let settled = wait_until(DEADLINE, || async {
        let log = app.notification_log(id).await?;
        Ok(log.len() >= expected
            && log
                .iter()
                .all(|n| !matches!(n["state"].as_str(), Some("pending" | "sending"))))
    })
    .await?;
    let log = app.notification_log(id).await?;
    anyhow::ensure!(settled, "notifications never settled: {log:#?}");
    Ok(log)
}

const DELIVERED_STATUSES: [&str; 7] = [
    "PAYMENT_PENDING",
    "PAID",
    "ACCEPTED",
    "RIDER_ASSIGNED",
    "READY",
    "PICKED_UP",
    "DELIVERED",
];

#[tokio::test]
async fn a_delivered_order_sends_an_sms_and_an_email_at_every_status_change() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let mut order = pizza_order("minji", GOOD_CARD);
    order["language"] = json!("en");
    let id = deliver_an_order(&app, &order).await?;
    // 7 statuses × (SMS + email) for the customer, and the shop's SMS + email for the new order.
    let log = wait_until_settled(&app, &id, 16).await?;
    assert_eq!(log.len(), 16, "{log:#?}");
    for n in &log {
        assert_eq!(n["state"], "sent", "{n}");
        assert_eq!(n["attempts"], 1, "{n}");
    }
    let sms_ids: Vec<_> = log
        .iter()
        .filter(|n| n["channel"] == "sms")
        .map(|n| n["provider_id"].as_str().unwrap())
        .collect();
    assert!(
        sms_ids.iter().all(|sid| sid.starts_with("SM")),
        "Twilio's message SIDs are recorded: {sms_ids:?}"
    );

    // Twilio received one valid request per SMS (each status's own workflow sends it, so they
    // may arrive in any order).
    let twilio = app.twilio.as_ref().unwrap();
    let to_customer: Vec<_> = twilio
        .requests()
        .into_iter()
        .filter(|r| r.to == "+821012345678")
        .collect();
    assert_eq!(to_customer.len(), 7, "{to_customer:#?}");
    assert!(
        to_customer
            .iter()
            .all(|r| r.status == 201 && r.from == TWILIO_FROM),
        "{to_customer:#?}"
    );
    let paid = to_customer
        .iter()
        .find(|r| r.body.contains("Paid"))
        .expect("the PAID SMS");
    assert!(paid.body.contains("Napoli Oven Pizza"), "{}", paid.body);
    assert!(paid.body.contains("₩40,300"), "{}", paid.body);
    assert!(
        paid.body
            .contains(&format!("http://courier.test/orders/{id}")),
        "{}",
        paid.body
    );
    assert!(
        to_customer.iter().any(|r| r.body.contains("was delivered")),
        "{to_customer:#?}"
    );
    let to_shop: Vec<_> = twilio
        .requests()
        .into_iter()
        .filter(|r| r.to == "+8227900202")
        .collect();
    assert_eq!(to_shop.len(), 1, "the shop hears of the new order once");

    // One email per status, with the order id in the subject, text and HTML, a derived Message-ID.
    let emails = app.emails_for(&id).await?;
    let to_customer: Vec<_> = emails
        .iter()
        .filter(|e| e.to == ["minji@example.kr"])
        .collect();
    assert_eq!(to_customer.len(), 7, "{emails:#?}");
    let mut message_ids: Vec<_> = to_customer.iter().map(|e| e.message_id.clone()).collect();
    message_ids.sort();
    let mut expected: Vec<_> = DELIVERED_STATUSES
        .iter()
        .map(|status| format!("order-{id}.{}.customer@courier.test", status.to_lowercase()))
        .collect();
    expected.sort();
    assert_eq!(message_ids, expected);
    assert!(
        to_customer
            .iter()
            .all(|e| e.subject.starts_with(&format!("[Courier] Order {id}: "))),
        "{to_customer:#?}"
    );
    let delivered = to_customer
        .iter()
        .find(|e| e.subject.ends_with(": Delivered"))
        .expect("the DELIVERED email");
    let delivered = app.email(&delivered.id).await?;
    assert!(
        delivered["Text"]
            .as_str()
            .unwrap()
            .contains("was delivered"),
        "{delivered}"
    );
    assert!(
        delivered["HTML"]
            .as_str()
            .unwrap()
            .contains(&format!("href=\"http://courier.test/orders/{id}\"")),
        "{delivered}"
    );
    assert!(
        emails.iter().any(|e| e.to == ["orders@napolioven.example"]),
        "the shop gets an email of the new order"
    );
    Ok(())
}

#[tokio::test]
async fn customers_who_chose_korean_are_written_to_in_korean() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut order = pizza_order("jisoo", GOOD_CARD);
    order["language"] = json!("ko");
    let id = app.paid_order_with(&order).await?;
    wait_until_settled(&app, &id, 6).await?;
    let paid = app
        .twilio
        .as_ref()
        .unwrap()
        .requests()
        .into_iter()
        .find(|r| r.to == "+821012345678" && r.body.contains("결제가 완료"))
        .expect("a Korean PAID SMS");
    assert!(
        paid.body
            .contains("Napoli Oven Pizza에 주문이 전달되었습니다"),
        "{}",
        paid.body
    );
    let emails = app.emails_for(&id).await?;
    assert!(
        emails
            .iter()
            .any(|e| e.subject == format!("[Courier] 주문 {id}: 결제 완료")),
        "{emails:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn twilio_failing_then_recovering_sends_each_sms_once() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let twilio = app.twilio.as_ref().unwrap();
    twilio.fail_next(3);
    let id = app.paid_order("junho").await?;
    let log = wait_until_settled(&app, &id, 6).await?;
    assert!(log.iter().all(|n| n["state"] == "sent"), "{log:#?}");
    let retried: i64 = log
        .iter()
        .filter(|n| n["channel"] == "sms")
        .map(|n| n["attempts"].as_i64().unwrap())
        .sum();
    let sms_rows = log.iter().filter(|n| n["channel"] == "sms").count() as i64;
    assert_eq!(
        retried,
        sms_rows + 3,
        "three failed attempts were retried: {log:#?}"
    );
    let accepted: Vec<_> = twilio
        .requests()
        .into_iter()
        .filter(|r| r.status == 201)
        .collect();
    let mut bodies: Vec<_> = accepted
        .iter()
        .map(|r| (r.to.clone(), r.body.clone()))
        .collect();
    let total = bodies.len();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), total, "no SMS accepted twice");
    assert_eq!(total as i64, sms_rows);
    Ok(())
}

#[tokio::test]
async fn an_invalid_number_is_recorded_and_not_retried_and_the_order_goes_on() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let twilio = app.twilio.as_ref().unwrap();
    twilio.refuse_number("+821099999999");
    let mut order = pizza_order("hana", GOOD_CARD);
    order["phone"] = json!("+821099999999");
    let id = deliver_an_order(&app, &order).await?;
    app.wait_for_status(&id, "DELIVERED").await?;
    let log = wait_until_settled(&app, &id, 16).await?;
    let sms: Vec<_> = log
        .iter()
        .filter(|n| n["channel"] == "sms" && n["audience"] == "customer")
        .collect();
    assert_eq!(sms.len(), 7);
    for n in &sms {
        assert_eq!(
            (n["state"].as_str(), n["attempts"].as_i64()),
            (Some("failed"), Some(1)),
            "{n}"
        );
        assert!(
            n["last_error"]
                .as_str()
                .unwrap()
                .contains("Invalid 'To' Phone Number"),
            "{n}"
        );
    }
    let asked = twilio
        .requests()
        .into_iter()
        .filter(|r| r.to == "+821099999999")
        .count();
    assert_eq!(asked, 7, "one request per status, none retried");
    let emails: Vec<_> = log.iter().filter(|n| n["channel"] == "email").collect();
    assert!(
        emails.iter().all(|n| n["state"] == "sent"),
        "emails are unaffected"
    );
    Ok(())
}

#[tokio::test]
async fn with_smtp_down_the_order_is_delivered_and_the_emails_arrive_when_it_returns()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let gate = app.smtp.as_ref().unwrap();
    gate.set_open(false);
    let id = deliver_an_order(&app, &pizza_order("doyun", GOOD_CARD)).await?;
    app.wait_for_status(&id, "DELIVERED").await?;
    let waiting = wait_until(DEADLINE, || async {
        let log = app.notification_log(&id).await?;
        Ok(log
            .iter()
            .filter(|n| n["channel"] == "email")
            .all(|n| n["state"] == "pending" && n["last_error"].is_string())
            && log.iter().filter(|n| n["channel"] == "email").count() == 8)
    })
    .await?;
    assert!(
        waiting,
        "emails wait, with the error logged: {:#?}",
        app.notification_log(&id).await?
    );
    assert!(app.emails_for(&id).await?.is_empty());

    gate.set_open(true);
    let log = wait_until_settled(&app, &id, 16).await?;
    assert!(log.iter().all(|n| n["state"] == "sent"), "{log:#?}");
    let emails = app.emails_for(&id).await?;
    assert_eq!(emails.len(), 8, "each email arrives once: {emails:#?}");
    Ok(())
}

#[tokio::test]
async fn without_credentials_sms_and_email_are_skipped_with_a_reason() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(TestOptions {
        twilio: false,
        smtp: false,
        ..TestOptions::default()
    })
    .await?;
    let id = app.paid_order("seoyeon").await?;
    let log = wait_until_settled(&app, &id, 6).await?;
    for n in &log {
        assert_eq!(n["state"], "skipped", "{n}");
        let reason = n["last_error"].as_str().unwrap();
        let expected = if n["channel"] == "sms" {
            "TWILIO_ACCOUNT_SID"
        } else {
            "SMTP_HOST"
        };
        assert!(reason.contains(expected), "{reason}");
    }
    Ok(())
}
