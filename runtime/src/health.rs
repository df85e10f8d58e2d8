//! Readiness of a Courier process: can it reach Postgres and Temporal? Shared by the worker's and
//! the API's `/readyz`, each check bounded in time so a probe never hangs.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use temporalio_client::Client;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `(ready, {"status", "checks": {"postgres", "temporal"}})`: each check is `"ok"` or its error.
pub async fn readiness(db: &PgPool, temporal: &Client) -> (bool, Value) {
    let postgres = async {
        sqlx::query("SELECT 1")
            .execute(db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let temporal = async {
        let mut service = temporal.connection().workflow_service();
        service
            .get_system_info(GetSystemInfoRequest::default().into_request())
            .await
            .map(|_| ())
            .map_err(|e| e.message().to_owned())
    };
    let bounded = |r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
    };
    let (postgres, temporal) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, postgres),
        tokio::time::timeout(CHECK_TIMEOUT, temporal)
    );
    let (postgres, temporal) = (bounded(postgres), bounded(temporal));
    let ready = postgres.is_none() && temporal.is_none();
    let show = |e: Option<String>| e.unwrap_or_else(|| "ok".to_owned());
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "postgres": show(postgres), "temporal": show(temporal) },
    });
    (ready, body)
}
