//! The whole life of a paid order, from `POST /orders` to `DELIVERED`.

use courier_tests::{
    DEADLINE, DELIVERY_FEE, GOOD_CARD, PIZZA_ORDER_TOTAL, TestApp, pizza_order, wait_until,
};
use courier_workflows::OrderWorkflow;
use courier_workflows::order::OrderView;
use reqwest::StatusCode;
use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions};

fn statuses(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|e| e["status"].as_str().expect("a status").to_owned())
        .collect()
}

#[tokio::test]
async fn a_paid_order_goes_all_the_way_to_delivered() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let margherita_before = app.stock("margherita").await?;
    let cola_before = app.stock("cola-500").await?;

    let (status, order) = app.place_order(&pizza_order("minji", GOOD_CARD)).await?;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["status"], "PAID");
    assert_eq!(order["total_minor"], PIZZA_ORDER_TOTAL);
    assert_eq!(order["currency"], "KRW");
    let id = order["order_id"].as_str().expect("an order id").to_owned();
    assert_eq!(statuses(&order), ["PAYMENT_PENDING", "PAID"]);

    // The shop sees it on its board, then accepts and cooks it.
    let on_board = wait_until(DEADLINE, || async {
        let (_, board) = app.get("/shops/napoli-oven/orders?status=PAID").await?;
        Ok(board["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == id.as_str()))
    })
    .await?;
    assert!(on_board, "the paid order reaches the shop's board");
    let (status, body) = app
        .post(
            &format!("/shops/napoli-oven/orders/{id}/accept"),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("ACCEPTED")),
        "{body}"
    );
    let (status, body) = app
        .post(&format!("/shops/napoli-oven/orders/{id}/ready"), &json!({}))
        .await?;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("READY")),
        "{body}"
    );

    // A rider is dispatched once the shop accepts, and paid before setting off.
    let order = app
        .wait_for_order(&id, "a rider", |o| {
            o["rider"].is_object() && statuses(o).contains(&"RIDER_ASSIGNED".to_owned())
        })
        .await?;
    let rider_id = order["rider"]["rider_id"]
        .as_str()
        .expect("a rider id")
        .to_owned();
    assert!(
        !app.rider_available(&rider_id).await?,
        "an assigned rider is busy"
    );

    let (status, body) = app
        .post(
            &format!("/deliveries/{id}/pickup"),
            &json!({ "rider_id": rider_id }),
        )
        .await?;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("PICKED_UP")),
        "{body}"
    );
    let (status, body) = app
        .post(&format!("/deliveries/{id}/deliver"), &json!({}))
        .await?;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("DELIVERED")),
        "{body}"
    );

    // The read model has the final view and the whole timeline.
    let order = app.order(&id).await?;
    assert_eq!(order["status"], "DELIVERED");
    assert_eq!(order["customer_id"], "minji");
    assert_eq!(order["shop_id"], "napoli-oven");
    assert_eq!(order["items"][0]["name"], "Margherita pizza");
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["items"][0]["unit_price_minor"], 18_900);
    let timeline = statuses(&order);
    assert_eq!(&timeline[..3], ["PAYMENT_PENDING", "PAID", "ACCEPTED"]);
    let mut middle = timeline[3..5].to_vec();
    middle.sort();
    assert_eq!(middle, ["READY", "RIDER_ASSIGNED"]);
    assert_eq!(&timeline[5..], ["PICKED_UP", "DELIVERED"]);

    // Exactly one charge of the total and one delivery-fee payout to the rider.
    let ledger = app.ledger(&id).await?;
    let charges: Vec<_> = ledger.iter().filter(|e| e["kind"] == "charge").collect();
    let payouts: Vec<_> = ledger.iter().filter(|e| e["kind"] == "payout").collect();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!((charges.len(), payouts.len()), (1, 1));
    assert_eq!(charges[0]["amount"], PIZZA_ORDER_TOTAL);
    assert_eq!(charges[0]["status"], "succeeded");
    assert_eq!(payouts[0]["amount"], DELIVERY_FEE);
    assert_eq!(payouts[0]["destination"], rider_id.as_str());

    // Stock went down by what was ordered; the shop got one ticket.
    assert_eq!(app.stock("margherita").await?, margherita_before - 2);
    assert_eq!(app.stock("cola-500").await?, cola_before - 1);
    let tickets = app
        .count(
            "SELECT count(*) FROM shop_board.tickets WHERE order_id = $1::uuid",
            &id,
        )
        .await?;
    assert_eq!(tickets, 1);

    // An SMS and an email are owed for every status the order went through.
    let mut notified = app.notifications(&id).await?;
    notified.sort();
    let mut expected: Vec<(String, String)> = timeline
        .iter()
        .flat_map(|s| {
            [
                (s.clone(), "email".to_owned()),
                (s.clone(), "sms".to_owned()),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(notified, expected);

    // The workflow ends with the same view, and frees the rider.
    let handle = app
        .temporal
        .get_workflow_handle::<OrderWorkflow>(format!("order-{id}"));
    let result: OrderView = handle
        .get_result(WorkflowGetResultOptions::default())
        .await?;
    assert_eq!(result.status.as_str(), "DELIVERED");
    assert_eq!(result.timeline.len(), timeline.len());
    let view: OrderView = handle
        .query(OrderWorkflow::status, (), WorkflowQueryOptions::default())
        .await?;
    assert_eq!(view.seq, result.seq);
    assert!(
        app.rider_available(&rider_id).await?,
        "the rider is free after delivering"
    );
    app.record_history(&id, "delivered").await?;
    Ok(())
}
