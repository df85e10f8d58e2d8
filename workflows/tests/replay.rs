//! Replays recorded histories of real orders against today's workflow code: a change that would
//! break orders already in flight fails here, before it is deployed.
//!
//! The histories in `tests/histories/` were recorded from the end-to-end tests with
//! `COURIER_RECORD_HISTORIES=workflows/tests/histories scripts/test -p courier-tests`. Keep them;
//! add new ones when the saga gains a path, and version workflow changes with `ctx.patched(..)`
//! (see the README's developer section) so these keep replaying.

use std::path::PathBuf;

use courier_workflows::OrderWorkflow;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

fn histories() -> Vec<PathBuf> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("the recorded histories")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn recorded_orders_replay_against_the_current_workflow_code() {
    let files = histories();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    // Orders of the first saga (no patch marker), and of the saga since `saga-v2`: local status
    // recording, deadlines as timers, compensation that never leaves money behind.
    for expected in [
        "delivered",
        "cancelled_after_ready",
        "rejected_by_shop",
        "v2_delivered",
        "v2_cancelled_after_ready",
        "v2_rejected_shop_timeout",
        "v2_payout_refused_then_cancelled",
        "v2_paid_after_deadline",
        "v2_not_ready",
        "v2_delivered_late",
        // Since cards are tokenized: the input carries a payment method, never a card number.
        "v4_delivered",
        "v4_cancelled_after_ready",
        "v4_payment_declined",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "history {expected} is missing: {names:?}"
        );
    }
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<OrderWorkflow>()
            .expect("registering the workflow")
            .build(),
    )
    .expect("a replayer");
    for file in files {
        let json = std::fs::read(&file).expect("a history file");
        let history =
            WorkflowHistory::from_json(&json).expect("a history written by fetch_history");
        if let Err(err) = replayer.replay_workflow(history).await {
            panic!("{} no longer replays: {err}", file.display());
        }
    }
}
