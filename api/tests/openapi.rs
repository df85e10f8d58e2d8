//! The OpenAPI description covers every route the API serves, and describes nothing it does not.

use std::collections::BTreeSet;

/// `(method, path)` of every `.route("path", method(...))` in the router sources.
fn routes_in_code() -> BTreeSet<(String, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut routes = BTreeSet::new();
    for file in ["src/routes/mod.rs", "src/admin/mod.rs"] {
        let source = std::fs::read_to_string(format!("{root}/{file}")).expect("a router source");
        let flat: String = source.split_whitespace().collect::<Vec<_>>().join(" ");
        for call in flat.split(".route(").skip(1) {
            let call = call.trim_start();
            let Some(path) = call
                .strip_prefix('"')
                .and_then(|rest| rest.split('"').next())
            else {
                continue;
            };
            let after = &call[path.len() + 2..];
            for method in ["get", "post", "put", "delete", "patch"] {
                let handlers = after.split(".route(").next().unwrap_or_default();
                if handlers.contains(&format!(" {method}("))
                    || handlers.contains(&format!(".{method}("))
                {
                    routes.insert((method.to_owned(), path.to_owned()));
                }
            }
        }
    }
    routes
}

fn routes_in_spec() -> BTreeSet<(String, String)> {
    let spec: serde_json::Value =
        serde_json::from_str(courier_api::routes::OPENAPI).expect("openapi.json is JSON");
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.insert((method.clone(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn every_route_is_described_and_every_description_is_a_route() {
    let code = routes_in_code();
    let spec = routes_in_spec();
    assert!(
        code.len() >= 20,
        "the route scan found too little: {code:?}"
    );
    let undocumented: Vec<_> = code.difference(&spec).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from api/openapi.json: {undocumented:?}"
    );
    // The spec also describes the pages the docs router serves.
    let served_elsewhere = [("get", "/openapi.json"), ("get", "/docs")];
    let phantom: Vec<_> = spec
        .difference(&code)
        .filter(|(m, p)| !served_elsewhere.contains(&(m.as_str(), p.as_str())))
        .collect();
    assert!(phantom.is_empty(), "described but not served: {phantom:?}");
}

#[test]
fn the_description_declares_its_version_and_the_operator_token() {
    let spec: serde_json::Value = serde_json::from_str(courier_api::routes::OPENAPI).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        spec["components"]["securitySchemes"]["operatorToken"]["scheme"],
        "bearer"
    );
}
