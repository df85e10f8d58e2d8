//! The live streams (server-sent events) the web front end follows: an order, a shop's board, a
//! rider's deliveries. They are fed by the read model's `LISTEN/NOTIFY` announcements and refuse
//! callers exactly as their `GET`s do.

use std::time::Duration;

use courier_api::auth::Role;
use courier_tests::{DEADLINE, GOOD_CARD, TestApp, pizza_order};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |order| order["status"] == status
}

fn lists(key: &'static str, order_id: String) -> impl Fn(&Value) -> bool {
    move |data| {
        data[key]
            .as_array()
            .is_some_and(|list| list.iter().any(|o| o["order_id"] == order_id.as_str()))
    }
}

#[tokio::test]
async fn an_orders_stream_follows_it_to_its_end_then_closes() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    let token = app.token(Role::Customer, "minji");
    let mut stream = app.stream(&format!("/orders/{id}/events"), &token).await?;
    // At once: the order as it is.
    let first = stream.until("order", DEADLINE, |_| true).await?;
    assert_eq!(
        (first["order_id"].as_str(), &first["status"]),
        (Some(id.as_str()), &json!("PAID"))
    );

    app.shop_action(&id, "accept").await?;
    stream
        .until("order", DEADLINE, status_is("ACCEPTED"))
        .await?;
    let (status, body) = app.cancel(&id, "plans changed").await?;
    assert!(status.is_success(), "{status}: {body}");
    let last = stream
        .until("order", DEADLINE, status_is("CANCELLED"))
        .await?;
    // The last snapshot is what GET shows, then `end`, then the server closes the stream.
    let mut shown = app.order(&id).await?;
    if let Some(shown) = shown.as_object_mut() {
        shown.remove("httpStatus");
    }
    assert_eq!(last, shown);
    let mut rest = Vec::new();
    while let Some((event, _)) = stream.next(DEADLINE).await? {
        rest.push(event);
    }
    assert_eq!(rest.last().map(String::as_str), Some("end"), "{rest:?}");
    assert!(
        rest[..rest.len() - 1].iter().all(|e| e == "order"),
        "{rest:?}"
    );
    Ok(())
}

#[tokio::test]
async fn streams_refuse_callers_as_their_gets_do() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (id, rider) = app.ready_order_with_rider("minji").await?;
    let refused = |status: StatusCode, code: &'static str| {
        move |r: Result<_, (StatusCode, Value)>| match r {
            Err((s, body)) => s == status && body["error"]["code"] == code,
            Ok(_) => false,
        }
    };
    let cases = [
        (
            format!("/orders/{id}/events"),
            "not-a-token".to_owned(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            format!("/orders/{id}/events"),
            app.token(Role::Customer, "junho"),
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            format!("/orders/{id}/events"),
            app.token(Role::Shop, "seoul-bloom"),
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            "/orders/8d3e5f0a-1b2c-4d5e-8f90-123456789abc/events".to_owned(),
            app.token(Role::Customer, "minji"),
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            "/shops/napoli-oven/orders/events".to_owned(),
            app.token(Role::Shop, "seoul-bloom"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/shops/napoli-oven/orders/events".to_owned(),
            app.token(Role::Customer, "minji"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/shops/no-such-shop/orders/events".to_owned(),
            app.token(Role::Shop, "no-such-shop"),
            StatusCode::NOT_FOUND,
            "unknown_shop",
        ),
        (
            format!("/riders/{rider}/deliveries/events"),
            app.token(Role::Rider, "rider-someone-else"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            format!("/riders/{rider}/deliveries"),
            app.token(Role::Customer, "minji"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ];
    for (path, token, status, code) in cases {
        let answer = app.open_stream(&path, &token).await?;
        let shown = format!("{:?}", answer.as_ref().err());
        assert!(
            refused(status, code)(answer),
            "{path}: wanted {status} {code}, got {shown}"
        );
    }
    // Its rider, its shop and operators may follow it.
    for token in [
        app.token(Role::Rider, &rider),
        app.token(Role::Shop, "napoli-oven"),
        app.token(Role::Operator, "ops-lee"),
    ] {
        let mut stream = app.stream(&format!("/orders/{id}/events"), &token).await?;
        let order = stream.until("order", DEADLINE, |_| true).await?;
        assert_eq!(order["order_id"].as_str(), Some(id.as_str()));
    }
    Ok(())
}

#[tokio::test]
async fn a_shops_board_stream_shows_a_new_paid_order_as_it_arrives() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut board = app
        .stream(
            "/shops/napoli-oven/orders/events",
            &app.token(Role::Shop, "napoli-oven"),
        )
        .await?;
    let empty = board.until("board", DEADLINE, |_| true).await?;
    assert_eq!(empty["orders"], json!([]));
    let id = app.paid_order("minji").await?;
    let shown = board
        .until("board", DEADLINE, lists("orders", id.clone()))
        .await?;
    assert_eq!(shown["orders"][0]["status"], "PAID", "{shown}");
    // Another shop's order does not touch this board; its next event is about its own order.
    let mut roses = pizza_order("junho", GOOD_CARD);
    roses["shop_id"] = json!("seoul-bloom");
    roses["items"] = json!([{ "menu_item_id": "rose-bouquet-12", "quantity": 1 }]);
    app.paid_order_with(&roses).await?;
    app.shop_action(&id, "accept").await?;
    let next = board.until("board", DEADLINE, |_| true).await?;
    assert_eq!(next["orders"][0]["status"], "ACCEPTED", "{next}");
    assert_eq!(next["orders"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn a_ticket_posted_after_the_order_turned_paid_reaches_the_open_board() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    // The saga posts the shop's ticket after the read model says PAID: replay that order of
    // writes by hand, with the board open in between.
    let ticket: Vec<u8> = sqlx::query_scalar(
        "DELETE FROM shop_board.tickets WHERE order_id = $1::uuid RETURNING convert_to(row_to_json(tickets)::text, 'UTF8')",
    )
    .bind(&id)
    .fetch_one(&app.db)
    .await?;
    let mut board = app
        .stream(
            "/shops/napoli-oven/orders/events",
            &app.token(Role::Shop, "napoli-oven"),
        )
        .await?;
    let without = board.until("board", DEADLINE, |_| true).await?;
    assert_eq!(without["orders"], json!([]), "no ticket, not on the board");
    sqlx::query(
        "INSERT INTO shop_board.tickets SELECT * FROM json_populate_record(NULL::shop_board.tickets, convert_from($1, 'UTF8')::json)",
    )
    .bind(&ticket)
    .execute(&app.db)
    .await?;
    board.until("board", DEADLINE, lists("orders", id)).await?;
    Ok(())
}

#[tokio::test]
async fn a_riders_deliveries_list_what_to_pick_up_where_and_follow_them() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (id, rider) = app.ready_order_with_rider("minji").await?;
    let (status, list) = app.get(&format!("/riders/{rider}/deliveries")).await?;
    assert_eq!(status, StatusCode::OK, "{list}");
    let delivery = &list["deliveries"][0];
    assert_eq!(
        (
            delivery["order_id"].as_str(),
            delivery["ready_for_pickup"].as_bool(),
            delivery["shop_address"].as_str()
        ),
        (
            Some(id.as_str()),
            Some(true),
            Some("45 Itaewon-ro, Yongsan-gu, Seoul")
        ),
        "{list}"
    );
    let mut stream = app
        .stream(
            &format!("/riders/{rider}/deliveries/events"),
            &app.token(Role::Rider, &rider),
        )
        .await?;
    stream
        .until("deliveries", DEADLINE, lists("deliveries", id.clone()))
        .await?;
    app.pickup_and_deliver(&id).await?;
    stream
        .until("deliveries", DEADLINE, |d| {
            d["deliveries"][0]["status"] == "DELIVERED"
        })
        .await?;
    // An operator may read any rider's list.
    let (status, _) = app
        .admin(
            reqwest::Method::GET,
            &format!("/riders/{rider}/deliveries"),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn streams_keep_up_after_the_api_loses_its_postgres_listener() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = app.paid_order("minji").await?;
    let mut stream = app
        .stream(
            &format!("/orders/{id}/events"),
            &app.token(Role::Customer, "minji"),
        )
        .await?;
    stream.until("order", DEADLINE, status_is("PAID")).await?;
    // Postgres drops the API's listening connection (a restart, a failover, a proxy's idle cut).
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&app.db)
    .await?;
    assert!(
        !killed.is_empty() && killed.iter().all(|k| *k),
        "the listener was found: {killed:?}"
    );
    // Changes made while it reconnects still reach the stream.
    app.shop_action(&id, "accept").await?;
    stream
        .until("order", DEADLINE, status_is("ACCEPTED"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_graceful_restart_of_the_api_ends_its_open_streams() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    let token = app.token(Role::Shop, "napoli-oven");
    let mut board = app
        .stream("/shops/napoli-oven/orders/events", &token)
        .await?;
    board.until("board", DEADLINE, |_| true).await?;
    // An open stream would hold the graceful shutdown forever.
    tokio::time::timeout(DEADLINE, app.restart_api()).await??;
    assert!(
        board.next(DEADLINE).await?.is_none(),
        "the stream was closed"
    );
    // The new server streams.
    let mut board = app
        .stream("/shops/napoli-oven/orders/events", &token)
        .await?;
    board.until("board", DEADLINE, |_| true).await?;
    let id = app.paid_order("minji").await?;
    board
        .until("board", Duration::from_secs(30), lists("orders", id))
        .await?;
    Ok(())
}
