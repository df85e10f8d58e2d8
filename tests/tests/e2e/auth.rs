//! Who may call what: every protected route tried with no token, broken and expired tokens,
//! tokens signed with another key, each wrong role and another subject's token, and nothing
//! changes (read back from Courier's tables and the provider's ledger).

use courier_api::auth::{Claims, Role};
use courier_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A token the API must refuse with `401`, and why.
fn bad_tokens() -> Vec<(&'static str, Option<String>)> {
    let now = chrono::Utc::now().timestamp();
    let sign = |secret: &str, exp: i64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &Claims {
                sub: "minji".to_owned(),
                role: Role::Customer,
                exp,
                iat: None,
                iss: None,
            },
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("signing")
    };
    vec![
        ("no token", None),
        ("an expired token", Some(sign(JWT_SECRET, now - 3600))),
        (
            "a token signed with another key",
            Some(sign(
                "another-secret-that-is-long-enough-0123456789",
                now + 3600,
            )),
        ),
        ("a token that is not a JWT", Some("not-a-jwt".to_owned())),
        (
            "a token with its signature cut off",
            Some({
                let token = sign(JWT_SECRET, now + 3600);
                token[..token.rfind('.').expect("a JWT has dots") + 1].to_owned()
            }),
        ),
    ]
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> anyhow::Result<(StatusCode, Value, Option<String>)> {
    let mut request = app
        .http
        .request(method.clone(), format!("{}{path}", app.api));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        challenge,
    ))
}

/// What a refused call could have changed: orders, their statuses and timelines, stock, money at
/// the provider, the audit trail, reconciliation runs.
async fn snapshot(app: &TestApp, orders: &[&str]) -> anyhow::Result<Value> {
    let mut states = Vec::new();
    for id in orders {
        let order = app.order(id).await?;
        states.push(json!([order["status"], TestApp::timeline(&order)]));
    }
    let count = |sql: &'static str| {
        let db = app.db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await }
    };
    let money: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM ledger WHERE kind IN ('charge', 'refund') GROUP BY kind ORDER BY kind",
    )
    .fetch_all(&app.sandbox_db)
    .await?;
    Ok(json!({
        "orders": count("SELECT count(*) FROM orders.orders").await?,
        "states": states,
        "stock": count("SELECT sum(on_hand)::bigint FROM stock.levels").await?,
        "audit": count("SELECT count(*) FROM operations.audit").await?,
        "reconciliations": count("SELECT count(*) FROM operations.reconciliation_runs").await?,
        "money": money,
    }))
}

/// Each protected route: who may call it, and what each wrong caller gets.
struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    /// `(caller, role, subject, expected status)` for every caller who must be refused.
    refused: Vec<(Role, String, StatusCode)>,
}

fn route(
    method: Method,
    path: String,
    body: Option<Value>,
    refused: &[(Role, &str, u16)],
) -> Route {
    Route {
        method,
        path,
        body,
        refused: refused
            .iter()
            .map(|(role, subject, status)| {
                (
                    *role,
                    (*subject).to_owned(),
                    StatusCode::from_u16(*status).expect("a status"),
                )
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_missing_bad_and_foreign_tokens_and_nothing_changes()
-> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let paid = app.paid_order("minji").await?;
    let (ready, rider) = app.ready_order_with_rider("minji").await?;
    let other_rider = "rider-somebody-else";
    use Role::*;
    let (forbidden, hidden) = (403, 404);
    let staff = |extra: &[(Role, &'static str, u16)]| {
        let mut all = vec![
            (Customer, "minji", forbidden),
            (Rider, "rider-x", forbidden),
        ];
        all.extend_from_slice(extra);
        all
    };
    let shop_step = |action: &str, body: Value| {
        route(
            Method::POST,
            format!("/shops/napoli-oven/orders/{paid}/{action}"),
            Some(body),
            &[
                (Customer, "minji", forbidden),
                (Rider, "rider-x", forbidden),
                (Operator, "ops", forbidden),
                (Shop, "seoul-bloom", forbidden),
            ],
        )
    };
    let rider_step = |action: &str| {
        route(
            Method::POST,
            format!("/deliveries/{ready}/{action}"),
            Some(json!({})),
            &[
                (Customer, "minji", forbidden),
                (Shop, "napoli-oven", forbidden),
                (Operator, "ops", forbidden),
                (Rider, other_rider, forbidden),
            ],
        )
    };
    let mut routes = vec![
        route(
            Method::POST,
            "/orders".to_owned(),
            Some(pizza_order("minji", GOOD_CARD)),
            &[
                (Shop, "napoli-oven", forbidden),
                (Rider, "rider-x", forbidden),
                (Operator, "ops", forbidden),
                (Customer, "junho", forbidden),
            ],
        ),
        // An order's existence does not leak to those who may not read it.
        route(
            Method::GET,
            format!("/orders/{paid}"),
            None,
            &[
                (Customer, "junho", hidden),
                (Shop, "seoul-bloom", hidden),
                (Rider, "rider-x", hidden),
            ],
        ),
        route(
            Method::POST,
            format!("/orders/{paid}/cancel"),
            Some(json!({ "reason": "changed my mind" })),
            &[
                (Shop, "napoli-oven", forbidden),
                (Rider, "rider-x", forbidden),
                (Operator, "ops", forbidden),
                (Customer, "junho", hidden),
            ],
        ),
        route(
            Method::GET,
            format!("/orders/{paid}/notifications"),
            None,
            &[
                (Shop, "napoli-oven", forbidden),
                (Rider, "rider-x", forbidden),
                (Customer, "junho", hidden),
            ],
        ),
        route(
            Method::GET,
            "/customers/minji/orders".to_owned(),
            None,
            &[
                (Shop, "napoli-oven", forbidden),
                (Rider, "rider-x", forbidden),
                (Customer, "junho", forbidden),
            ],
        ),
        route(
            Method::GET,
            "/shops/napoli-oven/orders".to_owned(),
            None,
            &staff(&[(Shop, "seoul-bloom", forbidden)]),
        ),
        route(
            Method::POST,
            "/shops/napoli-oven/menu/margherita/stock".to_owned(),
            Some(json!({ "add": 5 })),
            &staff(&[
                (Operator, "ops", forbidden),
                (Shop, "seoul-bloom", forbidden),
            ]),
        ),
        shop_step("accept", json!({})),
        shop_step("reject", json!({ "reason": "closed" })),
        shop_step("ready", json!({})),
        rider_step("pickup"),
        rider_step("deliver"),
    ];
    let admin_order_actions = ["retry", "restart", "cancel", "terminate", "compensate"];
    for action in admin_order_actions {
        routes.push(route(
            Method::POST,
            format!("/admin/orders/{paid}/{action}"),
            Some(json!({ "reason": "checking who may" })),
            &staff(&[(Shop, "napoli-oven", forbidden)]),
        ));
    }
    for (method, path) in [
        (Method::GET, "/admin/orders/stuck"),
        (Method::GET, "/admin/audit"),
        (Method::GET, "/admin/reconciliation"),
        (Method::POST, "/admin/reconciliation/run"),
        (Method::POST, "/admin/read-model/rebuild"),
    ] {
        let body = (method == Method::POST).then(|| json!({ "reason": "checking who may" }));
        routes.push(route(
            method,
            path.to_owned(),
            body,
            &staff(&[(Shop, "napoli-oven", forbidden)]),
        ));
    }

    let orders = [paid.as_str(), ready.as_str()];
    let before = snapshot(&app, &orders).await?;
    let mut tried = 0;
    for route in &routes {
        let what = format!("{} {}", route.method, route.path);
        for (why, token) in bad_tokens() {
            let (status, body, challenge) = call(
                &app,
                &route.method,
                &route.path,
                route.body.as_ref(),
                token.as_deref(),
            )
            .await?;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{what} with {why}: {body}"
            );
            assert_eq!(body["error"]["code"], "unauthorized", "{what} with {why}");
            let challenge = challenge.unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer realm=\"courier\""),
                "{what} with {why}: WWW-Authenticate {challenge:?}"
            );
            tried += 1;
        }
        for (role, subject, expected) in &route.refused {
            let token = app.token(*role, subject);
            let (status, body, _) = call(
                &app,
                &route.method,
                &route.path,
                route.body.as_ref(),
                Some(&token),
            )
            .await?;
            let who = format!("{} {subject}", role.as_str());
            assert_eq!(status, *expected, "{what} as {who}: {body}");
            let code = if *expected == StatusCode::NOT_FOUND {
                "order_not_found"
            } else {
                "forbidden"
            };
            // A rider acting on another rider's delivery is told so by the order itself.
            let code = if route.path.starts_with("/deliveries") && *role == Rider {
                "wrong_rider"
            } else {
                code
            };
            assert_eq!(body["error"]["code"], code, "{what} as {who}: {body}");
            tried += 1;
        }
    }
    assert!(tried > 150, "only {tried} refusals were tried");
    // The rider's own token and the order's own readers are let through (the rest of the suite
    // drives every action with its rightful caller).
    for (role, subject) in [
        (Customer, "minji"),
        (Shop, "napoli-oven"),
        (Operator, "ops"),
    ] {
        let token = app.token(role, subject);
        let (status, body, _) = call(
            &app,
            &Method::GET,
            &format!("/orders/{paid}"),
            None,
            Some(&token),
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "GET the order as {subject}: {body}");
    }
    let token = app.token(Rider, &rider);
    let (status, _, _) = call(
        &app,
        &Method::GET,
        &format!("/orders/{ready}"),
        None,
        Some(&token),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "the assigned rider reads the order");

    assert_eq!(
        snapshot(&app, &orders).await?,
        before,
        "a refused call changed something"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_routes_need_no_token() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs/",
        "/shops",
        "/shops/napoli-oven/menu",
    ] {
        let response = app.http.get(format!("{}{path}", app.api)).send().await?;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_records_the_operator_of_the_token_not_of_the_body() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let paid = app.paid_order("minji").await?;
    let token = app.token(Role::Operator, "seo-yeon");
    let (status, body, _) = call(
        &app,
        &Method::POST,
        &format!("/admin/orders/{paid}/cancel"),
        Some(&json!({ "reason": "customer phoned", "operator": "somebody-else" })),
        Some(&token),
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let operators: Vec<String> =
        sqlx::query_scalar("SELECT operator FROM operations.audit WHERE order_id::text = $1")
            .bind(&paid)
            .fetch_all(&app.db)
            .await?;
    assert_eq!(operators, ["seo-yeon"]);
    Ok(())
}
