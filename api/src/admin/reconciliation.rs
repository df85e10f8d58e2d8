//! `GET /admin/reconciliation`: what the last reconciliation of the provider's books with the
//! orders found (and repaired); `POST /admin/reconciliation/run`: runs one now and answers it.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use courier_workflows::ReconciliationWorkflow;
use courier_workflows::reconciliation_workflow::ReconciliationReport;
use serde::Serialize;
use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use uuid::Uuid;

use super::audit::audited;
use super::intent;
use crate::AppState;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};

const RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Serialize, sqlx::FromRow)]
struct FindingRow {
    order_id: Uuid,
    kind: String,
    amount_minor: i64,
    detail: String,
    repaired: bool,
}

pub async fn latest(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let run: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT run_id, at FROM operations.reconciliation_runs ORDER BY run_id DESC LIMIT 1",
    )
    .fetch_optional(&state.db)
    .await?;
    let Some((run_id, at)) = run else {
        return Ok(Json(json!({ "run": null, "findings": [] })));
    };
    let findings: Vec<FindingRow> = sqlx::query_as(
        "SELECT order_id, kind, amount_minor, detail, repaired FROM operations.reconciliation_findings \
         WHERE run_id = $1 ORDER BY kind, order_id LIMIT 1000",
    )
    .bind(run_id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(json!({
        "run": { "run_id": run_id, "at": at },
        "findings": findings,
    })))
}

pub async fn run(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let intent = intent(&body)?;
    let (audit_id, report) = audited(&state, &intent, "reconcile", None, async {
        let workflow_id = format!(
            "reconcile-{}-now-{}",
            state.settings.task_queue,
            Uuid::new_v4().simple()
        );
        let handle = state
            .temporal
            .start_workflow(
                ReconciliationWorkflow::run,
                state.settings.reconcile.clone(),
                WorkflowStartOptions::new(state.settings.task_queue.clone(), workflow_id).build(),
            )
            .await
            .map_err(|e| ApiError::internal("starting a reconciliation", e))?;
        let report: ReconciliationReport = tokio::time::timeout(
            RUN_WAIT,
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                "reconciliation_running",
                "the reconciliation is still running; GET /admin/reconciliation later",
            )
        })?
        .map_err(|e| ApiError::internal("reconciling", e))?;
        let detail = json!({
            "run_id": report.run_id,
            "findings": report.findings.len(),
            "repaired": report.findings.iter().filter(|f| f.repaired).count(),
        });
        Ok((report, detail))
    })
    .await?;
    Ok(Json(json!({
        "audit_id": audit_id,
        "run": { "run_id": report.run_id },
        "findings": report.findings,
    })))
}
