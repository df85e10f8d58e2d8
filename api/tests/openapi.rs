//! The OpenAPI description is generated from the handlers and their types; `api/openapi.json` is
//! its committed snapshot, so a change to the contract shows in review. After an intended change,
//! `COURIER_UPDATE_OPENAPI=1 cargo test -p courier-api --test openapi` rewrites the snapshot.

use std::collections::BTreeSet;

fn generated() -> serde_json::Value {
    serde_json::to_value(courier_api::openapi()).expect("the description serializes")
}

#[test]
fn the_committed_description_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let generated = generated();
    let pretty = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("COURIER_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &pretty).expect("writing api/openapi.json");
    }
    let committed = std::fs::read_to_string(path).expect("api/openapi.json");
    assert!(
        committed == pretty,
        "api/openapi.json differs from the description the code generates; if the change is \
         intended, run COURIER_UPDATE_OPENAPI=1 cargo test -p courier-api --test openapi and \
         review the diff"
    );
}

#[test]
fn every_operation_is_tagged_identified_and_answers_errors_as_described() {
    let spec = generated();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(
        spec["info"]["license"]["identifier"],
        env!("CARGO_PKG_LICENSE")
    );
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.to_owned()), "{id} is used twice");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty())
                );
                if status.starts_with('4') || status.starts_with('5') {
                    if path == "/readyz" {
                        continue;
                    }
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{id} {status} is not described as an ErrorBody"
                    );
                }
            }
            // Every route but the open ones says it takes a bearer token and answers 401.
            let open = [
                "/healthz",
                "/readyz",
                "/metrics",
                "/shops",
                "/shops/{shop_id}/menu",
            ];
            if open.contains(&path.as_str()) {
                assert!(
                    op["security"].is_null(),
                    "{id} is open but asks for a token"
                );
            } else {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{ "bearerToken": [] }]),
                    "{id}"
                );
                assert!(
                    op["responses"]["401"].is_object(),
                    "{id} does not describe 401"
                );
            }
        }
    }
    assert_eq!(ids.len(), 31, "the API has 31 operations: {ids:?}");
}

#[test]
fn the_live_streams_are_described_as_event_streams() {
    let spec = generated();
    let streams: Vec<&String> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.ends_with("/events"))
        .collect();
    assert_eq!(streams.len(), 3, "{streams:?}");
    for path in streams {
        let ok = &spec["paths"][path]["get"]["responses"]["200"];
        assert!(
            ok["content"]["text/event-stream"].is_object(),
            "{path}: {ok}"
        );
    }
}

#[test]
fn the_board_filter_is_described_as_exactly_the_statuses_the_board_shows() {
    let spec = generated();
    let params = spec["paths"]["/shops/{shop_id}/orders"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let status = params.iter().find(|p| p["name"] == "status").unwrap();
    let on_board: Vec<&str> = courier_workflows::order::OrderStatus::ALL
        .iter()
        .filter(|s| s.is_on_shop_board())
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        status["schema"]["pattern"],
        format!("^({})?$", on_board.join("|")),
        "the pattern in api/src/routes/shops.rs must list OrderStatus::is_on_shop_board"
    );
}
