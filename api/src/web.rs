//! The browser front end: the customer's, shop's, rider's and operator's screens, a small
//! single-page app in plain JavaScript modules (`api/web/`), embedded in this binary at build time
//! and served at `/app/`. No build step, no CDN, nothing fetched from elsewhere: the pages talk to
//! the same REST API as every other client, with the bearer token of the role they sign in as.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use courier_workflows::codes::ErrorCode;

use crate::error::ApiError;

/// Every file of the front end: its name under `/app/`, its type and its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/style.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../web/icon.svg"),
    ),
    ("js/app.js", JS, include_bytes!("../web/js/app.js")),
    ("js/api.js", JS, include_bytes!("../web/js/api.js")),
    ("js/dom.js", JS, include_bytes!("../web/js/dom.js")),
    ("js/i18n.js", JS, include_bytes!("../web/js/i18n.js")),
    (
        "js/customer.js",
        JS,
        include_bytes!("../web/js/customer.js"),
    ),
    ("js/shop.js", JS, include_bytes!("../web/js/shop.js")),
    ("js/rider.js", JS, include_bytes!("../web/js/rider.js")),
    (
        "js/operator.js",
        JS,
        include_bytes!("../web/js/operator.js"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

/// Scripts and styles from this origin only, and requests to it only: an injected script could
/// read the tab's token, so none may run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; media-src 'self' data:; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// `/` and `/app` lead to the app; `/app/` is its page, `/app/{file}` its files.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app/") }))
        .route("/app", get(|| async { Redirect::to("/app/") }))
        .route("/app/", get(|| async { asset("index.html") }))
        .route(
            "/app/{*file}",
            get(|Path(file): Path<String>| async move { asset(&file) }),
        )
}

fn asset(name: &str) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such file")
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            // Always asked again (a new deploy shows at once); cheap, they are small.
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        *bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file a page or script names (`src="..."`, `href="..."`, `from "./x.js"`) is embedded,
    /// so a new module cannot be forgotten here.
    #[test]
    fn every_file_the_app_names_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|(name, _, _)| *name).collect();
        for (name, _, bytes) in ASSETS {
            let text = std::str::from_utf8(bytes).expect("text assets");
            let dir = name.rsplit_once('/').map_or("", |(dir, _)| dir);
            for quote in ['"', '\''] {
                for piece in text.split(quote).skip(1).step_by(2) {
                    let target = if let Some(module) = piece.strip_prefix("./") {
                        if dir.is_empty() {
                            module.to_owned()
                        } else {
                            format!("{dir}/{module}")
                        }
                    } else if name.ends_with(".html")
                        && (piece.ends_with(".js")
                            || piece.ends_with(".css")
                            || piece.ends_with(".svg"))
                    {
                        piece.to_owned()
                    } else {
                        continue;
                    };
                    if target.ends_with(".js")
                        || target.ends_with(".css")
                        || target.ends_with(".svg")
                    {
                        assert!(
                            served.contains(&target.as_str()),
                            "{name} names {target}, which is not served"
                        );
                    }
                }
            }
        }
        assert!(served.contains(&"index.html"));
    }

    #[test]
    fn a_file_that_is_not_the_apps_is_not_found() {
        let response = asset("../Cargo.toml");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = asset("js/app.js");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JS);
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
    }
}
