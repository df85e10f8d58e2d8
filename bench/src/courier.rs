//! Drives Courier through its REST API as its users do: a customer places the order, the shop
//! accepts and cooks it (or turns it down), the rider picks it up and delivers it, or the customer
//! cancels. Every answer is timed; after each one that changes the order, the read model is read
//! until it shows the change (the read-model lag).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use courier_api::auth::Role;
use serde_json::{Value, json};

use crate::mix::Lifecycle;
use crate::stats::{Recorder, timed};

pub const SHOP: &str = "napoli-oven";
pub const ITEM: &str = "margherita";
pub const GOOD_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";

/// How long the bench waits for something the saga does on its own (a rider, a settled payment).
const PATIENCE: Duration = Duration::from_secs(120);

/// Courier's API, as the bench calls it: each call carries the token of who would make it (the
/// order's customer, the shop, the order's rider, an operator), as a real client's does.
#[derive(Clone)]
pub struct Courier {
    pub http: reqwest::Client,
    pub api: String,
    /// Sent as the bearer token of `/admin` calls (the stuck scan).
    pub operator_token: Option<String>,
    /// Signs the customers', shop's and riders' tokens (the API's `COURIER_JWT_SECRET`).
    pub jwt_secret: String,
    /// Distinguishes this run's customers from earlier runs'.
    pub run: String,
    /// Each order's customer and (once assigned) rider, by order id, as their apps would know them.
    parties: Arc<Mutex<HashMap<String, Parties>>>,
    /// Each caller's token, signed once (signing is not what the bench measures).
    tokens: Arc<Mutex<HashMap<(Role, String), String>>>,
}

/// Who acts on one order besides the shop.
#[derive(Clone)]
struct Parties {
    customer: String,
    rider: Option<String>,
}

/// How one order ended up in the run.
pub enum Outcome {
    /// The lifecycle ran as planned.
    Done,
    /// An answer was not the expected one; the order was left where it was.
    Failed,
}

impl Courier {
    pub fn new(
        http: reqwest::Client,
        api: &str,
        operator_token: Option<String>,
        jwt_secret: String,
        run: String,
    ) -> Self {
        Self {
            http,
            api: api.trim_end_matches('/').to_owned(),
            operator_token,
            jwt_secret,
            run,
            parties: Arc::default(),
            tokens: Arc::default(),
        }
    }

    /// The token of whoever would call `path` (with `body`).
    fn token(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Option<String>> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let party = |id: &str, rider: bool| {
            let parties = self.parties.lock().unwrap_or_else(|e| e.into_inner());
            parties.get(id).and_then(|p| {
                if rider {
                    p.rider.clone()
                } else {
                    Some(p.customer.clone())
                }
            })
        };
        let (role, subject) = match segments.as_slice() {
            ["admin", ..] => return Ok(self.operator_token.clone()),
            ["orders"] => (
                Role::Customer,
                body.and_then(|b| b["customer_id"].as_str())
                    .map(str::to_owned),
            ),
            ["orders", id, ..] => (Role::Customer, party(id, false)),
            ["customers", customer, ..] => (Role::Customer, Some((*customer).to_owned())),
            ["shops", shop, ..] => (Role::Shop, Some((*shop).to_owned())),
            ["deliveries", id, ..] => (Role::Rider, party(id, true)),
            _ => return Ok(None),
        };
        let subject = subject.with_context(|| format!("no caller known for {path}"))?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = tokens.get(&(role, subject.clone())) {
            return Ok(Some(token.clone()));
        }
        // Long enough for the longest run (the soak of open orders included).
        let token = courier_api::auth::issue(
            &self.jwt_secret,
            role,
            &subject,
            Duration::from_secs(12 * 3600),
        )?;
        tokens.insert((role, subject), token.clone());
        Ok(Some(token))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = self.token(path, body)? {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| path.to_owned())?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Makes the shop able to serve the whole run: plenty of stock, and riders for every client.
    pub async fn prepare(&self, db: &sqlx::PgPool, riders: usize) -> anyhow::Result<()> {
        let (status, body) = self
            .post(
                &format!("/shops/{SHOP}/menu/{ITEM}/stock"),
                &json!({ "set": 1_000_000 }),
            )
            .await?;
        if status != 200 {
            bail!("setting the stock answered {status}: {body}");
        }
        for n in 0..riders {
            sqlx::query(
                "INSERT INTO dispatch.riders (rider_id, name, phone) VALUES ($1, $2, $3) \
                 ON CONFLICT (rider_id) DO NOTHING",
            )
            .bind(format!("bench-rider-{n:04}"))
            .bind(format!("Bench Rider {n}"))
            .bind(format!("+8210{:08}", 55_000_000 + n))
            .execute(db)
            .await?;
        }
        Ok(())
    }

    /// The customer who places order `i` of the run.
    pub fn customer(&self, i: usize) -> String {
        format!("bench-{}-{i}", self.run)
    }

    fn order_body(&self, i: usize, card: &str) -> Value {
        json!({
            "customer_id": self.customer(i),
            "shop_id": SHOP,
            "items": [{ "menu_item_id": ITEM, "quantity": 1 }],
            "delivery_address": "25 Olympic-ro, Songpa-gu, Seoul",
            "phone": "+821012345678",
            "email": "bench@example.kr",
            "payment": { "card_number": card }
        })
    }

    /// Places order `i`; answers its id once it is paid (or `None` if it was declined or failed).
    pub async fn place(&self, i: usize, card: &str, rec: &Recorder) -> Option<String> {
        let body = self.order_body(i, card);
        let (answer, took) = timed(self.post("/orders", &body)).await;
        let (status, body) = match answer {
            Ok(answer) => answer,
            Err(err) => {
                rec.error("place", took, format!("{err:#}"));
                return None;
            }
        };
        let answered = Instant::now();
        let id = body["order_id"].as_str().map(str::to_owned);
        if let Some(id) = &id {
            let customer = self.customer(i);
            self.parties
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    id.clone(),
                    Parties {
                        customer,
                        rider: None,
                    },
                );
        }
        match (card == DECLINED_CARD, status) {
            (true, 402) => {
                rec.ok("place", took);
                None
            }
            (false, 201) => {
                rec.ok("place", took);
                let id = id?;
                self.lag(rec, "place", &id, "PAID", answered).await;
                Some(id)
            }
            (false, 202) => {
                rec.pending("place", took);
                let id = id?;
                match self.wait(&id, |o| timeline_has(o, "PAID")).await {
                    Ok(_) => Some(id),
                    Err(err) => {
                        rec.error("place", took, format!("202, then {err:#}"));
                        None
                    }
                }
            }
            (_, status) => {
                rec.error("place", took, format!("{status} {body}"));
                None
            }
        }
    }

    /// One order's whole life, as planned.
    pub async fn lifecycle(&self, i: usize, kind: Lifecycle, rec: &Recorder) -> Outcome {
        match self.run_lifecycle(i, kind, rec).await {
            Ok(()) => Outcome::Done,
            Err(_) => Outcome::Failed,
        }
    }

    async fn run_lifecycle(&self, i: usize, kind: Lifecycle, rec: &Recorder) -> Result<(), ()> {
        if kind == Lifecycle::Declined {
            self.place(i, DECLINED_CARD, rec).await;
            return Ok(());
        }
        let id = self.place(i, GOOD_CARD, rec).await.ok_or(())?;
        let shop = |action: &str| format!("/shops/{SHOP}/orders/{id}/{action}");
        match kind {
            Lifecycle::CancelPaid => return self.cancel(&id, rec).await,
            Lifecycle::Rejected => {
                let body = json!({ "reason": "the oven is broken" });
                return self
                    .act(rec, "reject", &shop("reject"), &body, "REJECTED")
                    .await;
            }
            _ => {}
        }
        let accepted = Instant::now();
        self.act(rec, "accept", &shop("accept"), &json!({}), "ACCEPTED")
            .await?;
        if kind == Lifecycle::CancelAccepted {
            return self.cancel(&id, rec).await;
        }
        self.act(rec, "ready", &shop("ready"), &json!({}), "READY")
            .await?;
        if kind == Lifecycle::CancelReady {
            return self.cancel(&id, rec).await;
        }
        match self.wait(&id, |o| o["rider"].is_object()).await {
            Ok(order) => {
                rec.ok("dispatch (accept to rider)", accepted.elapsed());
                let rider = order["rider"]["rider_id"].as_str().map(str::to_owned);
                if let Some(parties) = self
                    .parties
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&id)
                {
                    parties.rider = rider;
                }
            }
            Err(err) => {
                rec.error(
                    "dispatch (accept to rider)",
                    accepted.elapsed(),
                    format!("{err:#}"),
                );
                return Err(());
            }
        }
        let rider = |step: &str| format!("/deliveries/{id}/{step}");
        self.act(rec, "pickup", &rider("pickup"), &json!({}), "PICKED_UP")
            .await?;
        self.act(rec, "deliver", &rider("deliver"), &json!({}), "DELIVERED")
            .await
    }

    pub async fn cancel(&self, id: &str, rec: &Recorder) -> Result<(), ()> {
        let body = json!({ "reason": "changed my mind" });
        let path = format!("/orders/{id}/cancel");
        let (answer, took) = timed(self.post(&path, &body)).await;
        match answer {
            Ok((200, body)) => {
                rec.ok("cancel", took);
                let status = body["status"].as_str().unwrap_or("CANCELLING").to_owned();
                self.lag(rec, "cancel", id, &status, Instant::now()).await;
                Ok(())
            }
            Ok((status, body)) => {
                rec.error("cancel", took, format!("{status} {body}"));
                Err(())
            }
            Err(err) => {
                rec.error("cancel", took, format!("{err:#}"));
                Err(())
            }
        }
    }

    /// A shop's or rider's action that must answer `200` with `status`.
    async fn act(
        &self,
        rec: &Recorder,
        step: &str,
        path: &str,
        body: &Value,
        status: &str,
    ) -> Result<(), ()> {
        let (answer, took) = timed(self.post(path, body)).await;
        match answer {
            Ok((200, body)) if body["status"] == status => {
                rec.ok(step, took);
                if step != "reject" {
                    rec.ok(crate::stats::ACTIONS, took);
                }
                self.lag(
                    rec,
                    step,
                    body["order_id"].as_str().unwrap_or_default(),
                    status,
                    Instant::now(),
                )
                .await;
                Ok(())
            }
            Ok((code, body)) => {
                rec.error(step, took, format!("{code} {body}"));
                Err(())
            }
            Err(err) => {
                rec.error(step, took, format!("{err:#}"));
                Err(())
            }
        }
    }

    /// Reads the order until its timeline shows `status`: the time since `answered` is the lag.
    async fn lag(&self, rec: &Recorder, step: &str, id: &str, status: &str, answered: Instant) {
        if self.wait(id, |o| timeline_has(o, status)).await.is_ok() {
            rec.lag(step, answered.elapsed());
        }
    }

    /// Reads the order until `done` holds for it, or gives up after a while.
    pub async fn wait(&self, id: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let give_up = Instant::now() + PATIENCE;
        loop {
            let (status, order) = self.get(&format!("/orders/{id}")).await?;
            if status == 200 && done(&order) {
                return Ok(order);
            }
            if Instant::now() > give_up {
                bail!("order {id} not there after {PATIENCE:?}: {status} {order}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn timeline_has(order: &Value, status: &str) -> bool {
    order["timeline"]
        .as_array()
        .is_some_and(|t| t.iter().any(|e| e["status"] == status))
}
