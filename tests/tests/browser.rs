//! The web front end in a real browser (Debian's Chromium, headless, over WebDriver; see
//! `courier_tests::browser`): each role's screens against a live Courier, the same real servers as
//! the end-to-end tests. The customer, the shop and the rider are separate browsers, each signed
//! in as its role. The pages must move by themselves (server-sent events): no test reloads them,
//! and each checks that its pages never were. Every screen is saved as a screenshot
//! (`.data/screenshots`, or `COURIER_SCREENSHOTS_DIR`; the README shows `docs/screenshots`).

use courier_api::auth::Role;
use courier_tests::browser::{Browser, DESKTOP, PHONE, Page};
use courier_tests::{DELIVERY_FEE, GOOD_CARD, PIZZA_ORDER_TOTAL, TestApp, pizza_order};
use serde_json::{Value, json};

const CUSTOMER: &str = "minji";
const SHOP: &str = "napoli-oven";

/// A page of `size`, signed in as `role` `subject`, in `language`.
async fn signed_in(
    browser: &Browser,
    app: &TestApp,
    size: (u32, u32),
    language: &str,
    role: Role,
    subject: &str,
) -> anyhow::Result<Page> {
    let page = browser.page(size, language).await?;
    page.sign_in(app, role, subject).await?;
    page.set_language(language).await?;
    Ok(page)
}

/// The order id the tracking page shows (`#/customer/orders/{id}`).
async fn tracked_order(page: &Page) -> anyhow::Result<String> {
    page.wait_until(
        "the tracking page",
        "location.hash.startsWith('#/customer/orders/') && document.querySelector('#order-status[data-status]')",
    )
    .await?;
    let hash = page.run("return location.hash").await?;
    Ok(hash
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("#/customer/orders/")
        .to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_orders_and_watches_it_delivered_while_the_shop_and_rider_act()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let browser = Browser::start().await?;
    // The shop's board is open before the order exists: it must appear there by itself.
    let shop = signed_in(&browser, &app, PHONE, "en", Role::Shop, SHOP).await?;
    shop.wait_for("#live-state[data-state='live']").await?;
    shop.mark().await?;

    let customer = signed_in(&browser, &app, PHONE, "en", Role::Customer, CUSTOMER).await?;
    customer.screenshot("customer-shops").await?;
    customer
        .click(&format!("a[href='#/customer/shops/{SHOP}']"))
        .await?;
    customer.fill("input[data-item='margherita']", "2").await?;
    customer.fill("input[data-item='cola-500']", "1").await?;
    customer
        .fill(
            "input[name='delivery_address']",
            "101-1203, 25 Olympic-ro, Songpa-gu, Seoul",
        )
        .await?;
    customer
        .fill("input[name='phone']", "+821012345678")
        .await?;
    customer
        .fill("input[name='email']", "minji@example.kr")
        .await?;
    customer
        .fill("input[name='card_number']", "4242 4242 4242 4242")
        .await?;
    let total = customer.text("#order-total").await?;
    assert!(
        total
            .replace(',', "")
            .contains(&PIZZA_ORDER_TOTAL.to_string()),
        "the form adds the lines up: {total}"
    );
    customer.screenshot("customer-order").await?;
    customer.click("#pay").await?;
    let id = tracked_order(&customer).await?;
    customer.mark().await?;
    let order = app.order(&id).await?;
    assert_eq!(
        (order["customer_id"].as_str(), order["total_minor"].as_i64()),
        (Some(CUSTOMER), Some(PIZZA_ORDER_TOTAL)),
        "the order the page placed: {order}"
    );
    assert_eq!(app.amounts(&id, "charge").await?, [PIZZA_ORDER_TOTAL]);

    // The shop: the paid order arrives on the open board, flagged as new.
    let ticket = format!("li.ticket[data-order='{id}']");
    shop.wait_for(&format!("{ticket}.new")).await?;
    shop.wait_until(
        "the new-order cue",
        "!document.querySelector('#new-orders').hidden",
    )
    .await?;
    shop.screenshot("shop-board-new-order").await?;
    shop.click(&format!("{ticket} button[data-action='accept']"))
        .await?;
    shop.wait_for(&format!(
        "{ticket}[data-status='ACCEPTED'], {ticket}[data-status='RIDER_ASSIGNED']"
    ))
    .await?;
    shop.click(&format!("{ticket} button[data-action='ready']"))
        .await?;
    let ready = app
        .wait_for_order(&id, "ready with a rider", |o| {
            TestApp::timeline(o).iter().any(|s| s == "READY") && o["rider"].is_object()
        })
        .await?;
    let rider_id = ready["rider"]["rider_id"].as_str().unwrap_or_default();
    let rider_name = ready["rider"]["name"].as_str().unwrap_or_default();
    // The customer sees the rider without reloading.
    customer
        .wait_until(
            "the rider's name",
            &format!(
                "document.querySelector('#rider').textContent.includes({})",
                json!(rider_name)
            ),
        )
        .await?;

    // The rider: picks it up and delivers it from their list.
    let rider = signed_in(&browser, &app, PHONE, "en", Role::Rider, rider_id).await?;
    let card = format!("li[data-order='{id}']");
    rider.screenshot("rider-deliveries").await?;
    rider
        .click(&format!("{card} button[data-action='pickup']"))
        .await?;
    customer
        .wait_for("#order-status[data-status='PICKED_UP']")
        .await?;
    // Once the rider has it, the page says it can no longer be cancelled.
    customer.wait_for("#cancel-box .notice.info").await?;
    assert!(
        customer
            .run("return document.querySelector('#cancel') === null")
            .await?
            == json!(true),
        "no cancel button after pickup"
    );
    rider
        .click(&format!("{card} button[data-action='deliver']"))
        .await?;
    customer
        .wait_for("#order-status[data-status='DELIVERED']")
        .await?;
    customer.wait_for("#live-state[data-state='ended']").await?;
    let timeline: Value = customer
        .run("return [...document.querySelectorAll('#timeline li')].map((li) => li.dataset.status)")
        .await?;
    let recorded = TestApp::timeline(&app.order(&id).await?);
    assert_eq!(
        timeline,
        json!(recorded),
        "every step, in order, as it happened"
    );
    // The rider may be found before or after the shop is ready.
    let mut sorted = recorded.clone();
    sorted[3..5].sort();
    assert_eq!(
        sorted,
        [
            "PAYMENT_PENDING",
            "PAID",
            "ACCEPTED",
            "READY",
            "RIDER_ASSIGNED",
            "PICKED_UP",
            "DELIVERED"
        ],
        "{recorded:?}"
    );
    // The notification log: every message of the order was sent by the time the stream ended,
    // and the page lists them all (its last read of the log may land just after the end).
    let sent = app.notification_log(&id).await?;
    assert!(
        !sent.is_empty() && sent.iter().all(|m| m["state"] == "sent"),
        "{sent:?}"
    );
    customer
        .wait_until(
            "every message sent",
            &format!(
                "[...document.querySelectorAll('#notifications li')].filter((li) => li.dataset.state === 'sent').length === {}",
                sent.len()
            ),
        )
        .await?;
    customer.screenshot("customer-tracking-delivered").await?;
    rider
        .wait_for(&format!(
            "#done-deliveries li[data-order='{id}'][data-status='DELIVERED']"
        ))
        .await?;
    shop.wait_for(&format!("{ticket}[data-status='DELIVERED']"))
        .await?;
    assert!(
        customer.still_marked().await? && shop.still_marked().await?,
        "no page was reloaded"
    );
    assert_eq!(app.amounts(&id, "payout").await?, [DELIVERY_FEE]);

    // My orders lists it.
    customer.open("#/customer/orders").await?;
    customer
        .wait_for(&format!("#my-orders a[href='#/customer/orders/{id}']"))
        .await?;
    customer.screenshot("customer-my-orders").await?;
    for page in [customer, shop, rider] {
        page.close().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancellation_from_the_tracking_page_ends_cancelled_and_refunded() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let browser = Browser::start().await?;
    let id = app.paid_order(CUSTOMER).await?;
    let customer = signed_in(&browser, &app, PHONE, "ko", Role::Customer, CUSTOMER).await?;
    customer.open(&format!("#/customer/orders/{id}")).await?;
    customer
        .wait_for("#order-status[data-status='PAID']")
        .await?;
    customer.mark().await?;
    customer.screenshot("customer-tracking-ko").await?;
    customer
        .fill("#cancel-box input[name='reason']", "일정이 바뀌었어요")
        .await?;
    customer.click("#cancel").await?;
    customer
        .wait_for("#order-status[data-status='CANCELLED']")
        .await?;
    assert!(customer.still_marked().await?, "the page was not reloaded");
    let order = app.order(&id).await?;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        order["reason"]
            .as_str()
            .map(|r| r.contains("일정이 바뀌었어요")),
        Some(true),
        "{order}"
    );
    assert_eq!(app.amounts(&id, "refund").await?, [PIZZA_ORDER_TOTAL]);
    // The page shows the end of the story: no cancel button, the refund's status.
    assert!(
        customer
            .run("return document.querySelector('#cancel') === null")
            .await?
            == json!(true)
    );
    customer.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_retries_a_needs_attention_order_with_a_reason() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let browser = Browser::start().await?;
    // A refund that failed after its retries: the order waits for an operator.
    let id = app.paid_order(CUSTOMER).await?;
    app.set_provider_down(true).await?;
    app.cancel(&id, "changed my mind").await?;
    app.wait_for_status(&id, "NEEDS_ATTENTION").await?;
    app.set_provider_down(false).await?;

    let operator = signed_in(&browser, &app, DESKTOP, "en", Role::Operator, "ops-lee").await?;
    let row = format!("li[data-order='{id}'][data-kind='needs_attention']");
    operator.wait_for(&row).await?;
    let link = operator
        .wait_for(&format!("{row} a[target='_blank']"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(
        link.contains(&format!("order-{id}")),
        "a link to the workflow: {link}"
    );
    operator.screenshot("operator-stuck").await?;
    // No reason: refused by the page, nothing sent.
    operator
        .click(&format!("{row} button[type='submit']"))
        .await?;
    operator
        .wait_for(&format!("{row} textarea[aria-invalid='true']"))
        .await?;
    assert_eq!(app.order(&id).await?["status"], "NEEDS_ATTENTION");
    operator
        .fill(
            &format!("{row} textarea[name='reason']"),
            "payment provider back up",
        )
        .await?;
    operator
        .wait_for(&format!("{row} select[name='action']"))
        .await?
        .select_by_value("retry")
        .await?;
    operator
        .click(&format!("{row} button[type='submit']"))
        .await?;
    operator.wait_for("#stuck .notice.ok").await?;
    app.wait_for_status(&id, "CANCELLED").await?;
    assert_eq!(app.amounts(&id, "refund").await?, [PIZZA_ORDER_TOTAL]);

    operator.open("#/operator/audit").await?;
    operator
        .wait_until(
            "the retry in the audit trail",
            "[...document.querySelectorAll('#audit tbody tr')].some((tr) => tr.textContent.includes('payment provider back up') && tr.textContent.includes('ops-lee'))",
        )
        .await?;
    operator.screenshot("operator-audit").await?;
    operator.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shop_sets_and_adds_stock_from_its_menu_screen() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let browser = Browser::start().await?;
    let shop = signed_in(&browser, &app, PHONE, "ko", Role::Shop, SHOP).await?;
    shop.open("#/shop/menu").await?;
    let row = "#stock tr[data-item='diavola']";
    shop.fill(&format!("{row} input[name='amount']"), "7")
        .await?;
    shop.click(&format!("{row} button[data-how='set']")).await?;
    shop.wait_until(
        "the new stock",
        &format!("document.querySelector(\"{row} .stock\").textContent === '7'"),
    )
    .await?;
    shop.fill(&format!("{row} input[name='amount']"), "5")
        .await?;
    shop.click(&format!("{row} button[data-how='add']")).await?;
    shop.wait_until(
        "the added stock",
        &format!("document.querySelector(\"{row} .stock\").textContent === '12'"),
    )
    .await?;
    assert_eq!(app.stock("diavola").await?, 12);
    shop.screenshot("shop-menu-ko").await?;
    shop.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_is_labelled_readable_and_fits_a_phone_in_both_languages() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let browser = Browser::start().await?;
    let id = app.paid_order(CUSTOMER).await?;
    let tracking = format!("#/customer/orders/{id}");
    let screens: [(Role, &str, &[&str]); 4] = [
        (
            Role::Customer,
            CUSTOMER,
            &[
                "#/customer",
                "#/customer/shops/napoli-oven",
                "#/customer/orders",
                &tracking,
            ],
        ),
        (Role::Shop, SHOP, &["#/shop", "#/shop/menu"]),
        (Role::Rider, "rider-jiwoo", &["#/rider"]),
        (
            Role::Operator,
            "ops-lee",
            &["#/operator", "#/operator/audit"],
        ),
    ];
    for language in ["en", "ko"] {
        let page = browser.page(PHONE, language).await?;
        // Signed out: the sign-in form.
        page.client.goto(&format!("{}/app/", app.api)).await?;
        page.wait_for("textarea#token").await?;
        page.set_language(language).await?;
        let problems = page.accessibility_problems().await?;
        assert!(problems.is_empty(), "sign-in ({language}): {problems:#?}");
        if language == "en" {
            page.screenshot("sign-in").await?;
        }
        for (role, subject, hashes) in &screens {
            page.sign_in(&app, *role, subject).await?;
            for hash in *hashes {
                page.open(hash).await?;
                page.wait_until(
                    hash,
                    "!document.querySelector('main').textContent.includes('…')",
                )
                .await?;
                let lang = page.run("return document.documentElement.lang").await?;
                assert_eq!(lang, json!(language), "{hash}");
                let problems = page.accessibility_problems().await?;
                assert!(problems.is_empty(), "{hash} ({language}): {problems:#?}");
            }
        }
        // Keyboard: the first Tab reaches the skip link, which leads to the content.
        page.client
            // A new load (another address than the page's), not a move within it.
            .goto(&format!("{}/app/?keyboard#/operator", app.api))
            .await?;
        page.wait_for("#stuck").await?;
        page.client
            .find(fantoccini::Locator::Css("body"))
            .await?
            .send_keys("\u{E004}")
            .await?;
        assert_eq!(
            page.run("return document.activeElement.id").await?,
            json!("skip")
        );
        // Both dictionaries have every text.
        let missing = page
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; import('/app/js/i18n.js').then((m) => done(m.missingKeys()))",
                vec![],
            )
            .await?;
        assert_eq!(missing, json!([]), "texts missing in a language");
        page.close().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_card_is_shown_on_the_form_and_nothing_is_charged() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let browser = Browser::start().await?;
    let customer = signed_in(&browser, &app, PHONE, "en", Role::Customer, CUSTOMER).await?;
    customer.open(&format!("#/customer/shops/{SHOP}")).await?;
    customer.fill("input[data-item='margherita']", "1").await?;
    let order = pizza_order(CUSTOMER, GOOD_CARD);
    customer
        .fill(
            "input[name='delivery_address']",
            order["delivery_address"].as_str().unwrap_or_default(),
        )
        .await?;
    customer
        .fill("input[name='phone']", "+821012345678")
        .await?;
    customer
        .fill("input[name='email']", "minji@example.kr")
        .await?;
    customer
        .fill("input[name='card_number']", "4000 0000 0000 0002")
        .await?;
    customer.click("#pay").await?;
    customer.wait_for(".form-status .notice.error").await?;
    let shown = customer.text(".form-status").await?;
    assert!(shown.contains("declined"), "{shown}");
    assert!(
        customer.run("return location.hash").await? == json!(format!("#/customer/shops/{SHOP}")),
        "the customer stays on the form"
    );
    // A wrong card number is named on its field.
    customer.fill("input[name='card_number']", "1234").await?;
    customer.click("#pay").await?;
    customer
        .wait_for("input[name='card_number'][aria-invalid='true']")
        .await?;
    // Nothing was charged for any order the page tried.
    let tried: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT order_id FROM orders.orders WHERE customer_id = $1")
            .bind(CUSTOMER)
            .fetch_all(&app.db)
            .await?;
    assert!(!tried.is_empty(), "the declined order is in the read model");
    for id in tried {
        assert_eq!(
            app.amounts(&id.to_string(), "charge").await?,
            Vec::<i64>::new()
        );
    }
    customer.close().await?;
    Ok(())
}
