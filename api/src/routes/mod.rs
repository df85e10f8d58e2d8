//! The REST routes, one module per resource, and the OpenAPI description generated from them:
//! each handler carries its `#[utoipa::path]`, and the router is built from those handlers
//! (`routes!`), so a route cannot exist without its description.

mod customers;
mod deliveries;
pub(crate) mod orders;
mod riders;
mod shops;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use courier_workflows::codes::ErrorCode;
use courier_workflows::order::OrderStatus;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;

/// The description's frame: what the API is, its tags and its security scheme; the paths and
/// schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Courier API",
        description = "Delivery-order fulfilment on Temporal: customers order, shops and riders \
move orders along, operators repair them.\n\nEach order is one Temporal workflow \
(`order-{order_id}`), a saga that reserves stock, charges the card, hands the order to the shop, \
dispatches a rider, and compensates in reverse when the order is cancelled or fails. Every answer \
about an order comes from the Postgres read model (CQRS); shop and rider actions are Temporal \
updates whose validators refuse transitions the order does not allow (`409 invalid_transition`).\
\n\nJSON everywhere. Money is in integer minor units of `KRW` (one unit is one won). Every error \
answers `{\"error\": {\"code\", \"message\", ...}}` (see `ErrorBody`; the codes are `ErrorCode`); \
a path Courier does not serve answers `404 not_found`, a method it does not take \
`405 method_not_allowed`. Request bodies that are not JSON, or not a JSON object where one is \
expected, answer `422 invalid_request` with `field: body`. Every route but the catalog, health, readiness, metrics and these docs needs a bearer token \
(`bearerToken`): a missing or invalid one is `401` with `WWW-Authenticate`, one of the wrong role \
or of another customer, shop or rider `403` (or `404` where an order's existence must not leak).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "orders", description = "Customers place, follow and cancel orders."),
        (name = "customers", description = "A customer's orders."),
        (name = "shops", description = "The catalog customers browse, and the board and actions of shop owners."),
        (name = "deliveries", description = "Riders pick orders up and deliver them."),
        (name = "operations", description = "Health, readiness and metrics."),
        (name = "admin", description = "Operators repair orders. Every action needs \
`Authorization: Bearer <operator token>`, names the operator and the reason, and is recorded in \
the audit log."),
    ),
    components(schemas(ErrorCode)),
    modifiers(&BearerToken),
)]
pub struct ApiDoc;

/// The `bearerToken` scheme every route but the catalog, health and docs requires.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT whose `role` is `customer`, `shop`, `rider` or `operator` and whose \
                         `sub` is the customer, shop, rider or operator it speaks for (see the \
                         README). Operators may also use `COURIER_OPERATOR_TOKEN`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The public routes: orders, customers, shops, deliveries, operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orders::show))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::notifications))
        .routes(routes!(orders::events))
        .routes(routes!(customers::orders))
        .routes(routes!(shops::list))
        .routes(routes!(shops::menu))
        .routes(routes!(shops::stock))
        .routes(routes!(shops::board))
        .routes(routes!(shops::board_events))
        .routes(routes!(shops::accept))
        .routes(routes!(shops::reject))
        .routes(routes!(shops::ready))
        .routes(routes!(deliveries::pickup))
        .routes(routes!(deliveries::deliver))
        .routes(routes!(riders::deliveries))
        .routes(routes!(riders::delivery_events))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(crate::metrics::render))
}

/// `POST /orders`, on its own so that it can carry the rate limit.
pub fn placement() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(orders::place))
}

/// What the API answers for paths and methods it does not serve.
pub fn fallbacks(router: axum::Router<AppState>) -> axum::Router<AppState> {
    router
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "this route does not take that method",
            )
        })
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
        })
}

/// A shop's or rider's step moved the order: its new status.
#[derive(Serialize, ToSchema)]
pub struct StatusChange {
    pub order_id: uuid::Uuid,
    pub status: OrderStatus,
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "getHealth",
    responses((status = 200, description = "Alive.", body = String, content_type = "text/plain"))
)]
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: `ready` when every check is `ok`.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(pattern = "^(ready|not_ready)$")]
    pub status: String,
    pub checks: ReadinessChecks,
}

/// Each check: `ok`, or why not.
#[derive(Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub postgres: String,
    pub temporal: String,
}

/// Readiness: whether Postgres and Temporal answer (a load balancer's probe).
#[utoipa::path(
    get, path = "/readyz", tag = "operations", operation_id = "getReadiness",
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "A dependency does not answer.", body = Readiness),
    )
)]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (ready, body) = courier_runtime::health::readiness(&state.db, &state.temporal).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// `GET /openapi.json` (the description generated here) and the interactive page at `/docs`
/// (Swagger UI, served from this binary).
pub fn docs<S: Clone + Send + Sync + 'static>(
    openapi: utoipa::openapi::OpenApi,
) -> axum::Router<S> {
    axum::Router::from(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", openapi))
}
