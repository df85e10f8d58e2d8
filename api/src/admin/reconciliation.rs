//! `GET /admin/reconciliation`: what the last reconciliation of the provider's books with the
//! orders found (and repaired); `POST /admin/reconciliation/run`: runs one now and answers it.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use courier_workflows::ReconciliationWorkflow;
use courier_workflows::contracts::Finding;
use courier_workflows::reconciliation_workflow::ReconciliationReport;
use serde::Serialize;
use serde_json::json;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::audited;
use super::{AdminActionRequest, Intent, Operator};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use courier_workflows::codes::ErrorCode;

const RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// One disagreement between the provider's books and the orders, and whether it was repaired.
#[derive(Serialize, sqlx::FromRow, ToSchema)]
pub struct ReconciliationFinding {
    order_id: Uuid,
    /// What disagrees (e.g. `charged_not_refunded`).
    kind: String,
    amount_minor: i64,
    detail: String,
    repaired: bool,
}

impl From<Finding> for ReconciliationFinding {
    fn from(f: Finding) -> Self {
        Self {
            order_id: f.order_id.uuid(),
            kind: f.kind.as_str().to_owned(),
            amount_minor: f.amount_minor,
            detail: f.detail,
            repaired: f.repaired,
        }
    }
}

/// A reconciliation run.
#[derive(Serialize, ToSchema)]
pub struct ReconciliationRunRef {
    pub run_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// `GET /admin/reconciliation`.
#[derive(Serialize, ToSchema)]
pub struct ReconciliationLatest {
    /// `null` before the first run.
    pub run: Option<ReconciliationRunRef>,
    /// At most 1000.
    pub findings: Vec<ReconciliationFinding>,
}

/// What the last reconciliation of the provider's books with the orders found and repaired.
#[utoipa::path(
    get, path = "/admin/reconciliation", tag = "admin", operation_id = "latestReconciliation",
    security(("bearerToken" = [])),
    responses(
        (status = 200, description = "The last run and its findings.", body = ReconciliationLatest),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an operator's token.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn latest(State(state): State<AppState>) -> ApiResult<Json<ReconciliationLatest>> {
    let run: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT run_id, at FROM operations.reconciliation_runs ORDER BY run_id DESC LIMIT 1",
    )
    .fetch_optional(&state.db)
    .await?;
    let Some((run_id, at)) = run else {
        return Ok(Json(ReconciliationLatest {
            run: None,
            findings: Vec::new(),
        }));
    };
    let findings: Vec<ReconciliationFinding> = sqlx::query_as(
        "SELECT order_id, kind, amount_minor, detail, repaired FROM operations.reconciliation_findings \
         WHERE run_id = $1 ORDER BY kind, order_id LIMIT 1000",
    )
    .bind(run_id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(ReconciliationLatest {
        run: Some(ReconciliationRunRef {
            run_id,
            at: Some(at),
        }),
        findings,
    }))
}

/// `POST /admin/reconciliation/run`.
#[derive(Serialize, ToSchema)]
pub struct ReconciliationRun {
    pub audit_id: i64,
    pub run: ReconciliationRunRef,
    pub findings: Vec<ReconciliationFinding>,
}

/// Reconcile now: compares the provider's books with the orders, refunds what is owed, and
/// answers what it found.
#[utoipa::path(
    post, path = "/admin/reconciliation/run", tag = "admin", operation_id = "runReconciliation",
    security(("bearerToken" = [])),
    request_body = AdminActionRequest,
    responses(
        (status = 200, description = "The run and its findings.", body = ReconciliationRun),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an operator's token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: no reason.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 504, description = "`reconciliation_running`: still running after two minutes.", body = ErrorBody),
    )
)]
pub async fn run(
    State(state): State<AppState>,
    operator: Operator,
    Body(body): Body<AdminActionRequest>,
) -> ApiResult<Json<ReconciliationRun>> {
    let intent = Intent::new(operator, body)?;
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
                ErrorCode::ReconciliationRunning,
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
    Ok(Json(ReconciliationRun {
        audit_id,
        run: ReconciliationRunRef {
            run_id: report.run_id,
            at: None,
        },
        findings: report.findings.into_iter().map(Into::into).collect(),
    }))
}
