//! Who is calling, and what they may do.
//!
//! Every route but the catalog, health, readiness, metrics and the docs takes a bearer token: a
//! JWT (verified with `jsonwebtoken`; no crypto is written here) whose `role` is `customer`, `shop`,
//! `rider` or `operator` and whose `sub` is the customer, shop, rider or operator it speaks for.
//! Keys come from configuration: a shared secret (`COURIER_JWT_SECRET`, HS256, for development), or
//! a JWKS (`COURIER_JWKS_FILE` or `COURIER_JWKS_URL`, RS256/ES256/EdDSA, for production; the URL is
//! fetched at start and again every ten minutes). `COURIER_OPERATOR_TOKEN` stays a development
//! fallback for operators. A missing or invalid token is `401` with `WWW-Authenticate`; a valid
//! token of the wrong role or of another subject is `403` (or `404` where an order's existence must
//! not leak).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use courier_workflows::codes::ErrorCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::read_model::OrderDetails;

/// What a token lets its bearer act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Shop,
    Rider,
    Operator,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Shop => "shop",
            Self::Rider => "rider",
            Self::Operator => "operator",
        }
    }
}

/// The claims Courier reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The customer, shop, rider or operator the token speaks for.
    pub sub: String,
    pub role: Role,
    /// Expiry, in seconds since the epoch (required).
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// The keys tokens are verified with.
#[derive(Clone)]
pub enum Keys {
    /// HS256 with a shared secret.
    Secret(Arc<DecodingKey>),
    /// The keys of a JWKS, by key id (a URL's set is refreshed in the background).
    Jwks(Arc<RwLock<PublishedKeys>>),
}

/// The verifying keys of a JWKS, parsed once when the set is loaded (not on every request).
pub struct PublishedKeys(Vec<PublishedKey>);

struct PublishedKey {
    kid: Option<String>,
    key: DecodingKey,
    /// The key's own algorithm; when the JWK names none, the token's, if asymmetric.
    algorithm: Option<Algorithm>,
}

fn symmetric(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

impl PublishedKeys {
    /// The set's asymmetric keys; a symmetric one is left out (it could never be trusted: its
    /// "secret" is published).
    pub fn from_set(set: &JwkSet) -> anyhow::Result<Self> {
        let mut keys = Vec::with_capacity(set.keys.len());
        for jwk in &set.keys {
            let algorithm = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            if matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
            ) || algorithm.is_some_and(symmetric)
            {
                tracing::warn!(kid = ?jwk.common.key_id, "left a symmetric key of the JWKS out");
                continue;
            }
            keys.push(PublishedKey {
                kid: jwk.common.key_id.clone(),
                key: DecodingKey::from_jwk(jwk)?,
                algorithm,
            });
        }
        anyhow::ensure!(!keys.is_empty(), "the JWKS has no asymmetric key");
        Ok(Self(keys))
    }

    /// The key named `kid`, or the only key when the token names none.
    fn find(&self, kid: Option<&str>) -> Option<&PublishedKey> {
        match kid {
            Some(kid) => self.0.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.0.len() == 1 => self.0.first(),
            None => None,
        }
    }
}

/// How the API verifies tokens: its keys, the issuer it expects (if any), and the static operator
/// token kept for development.
#[derive(Clone)]
pub struct AuthSettings {
    pub keys: Option<Keys>,
    pub issuer: Option<String>,
    pub operator_token: Option<String>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "keys",
                &match &self.keys {
                    None => "none",
                    Some(Keys::Secret(_)) => "shared secret",
                    Some(Keys::Jwks(_)) => "JWKS",
                },
            )
            .field("issuer", &self.issuer)
            .field(
                "operator_token",
                &self.operator_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// A JWKS read from a file, or fetched from a URL, with its keys parsed.
pub async fn load_jwks(source: &str) -> anyhow::Result<PublishedKeys> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        reqwest::get(source)
            .await?
            .error_for_status()?
            .text()
            .await?
    } else {
        std::fs::read_to_string(source)?
    };
    PublishedKeys::from_set(&serde_json::from_str(&text)?)
}

/// Refetches a JWKS URL every ten minutes, keeping the last good set when a fetch fails.
pub fn refresh_jwks(url: String, keys: Arc<RwLock<PublishedKeys>>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        every.tick().await;
        loop {
            every.tick().await;
            match load_jwks(&url).await {
                Ok(set) => *keys.write().unwrap_or_else(|e| e.into_inner()) = set,
                Err(err) => tracing::warn!(error = %err, "refreshing the JWKS failed"),
            }
        }
    });
}

impl AuthSettings {
    /// `COURIER_JWT_SECRET` (HS256), or `COURIER_JWKS_FILE` / `COURIER_JWKS_URL`;
    /// `COURIER_JWT_ISSUER` (optional); `COURIER_OPERATOR_TOKEN` (optional, development).
    pub async fn from_env() -> anyhow::Result<Self> {
        use courier_runtime::settings::secret;
        let keys = match (
            secret("COURIER_JWT_SECRET")?,
            std::env::var("COURIER_JWKS_FILE").ok(),
            std::env::var("COURIER_JWKS_URL").ok(),
        ) {
            (Some(secret), None, None) => {
                anyhow::ensure!(
                    secret.len() >= 32,
                    "COURIER_JWT_SECRET must be at least 32 bytes"
                );
                Some(Keys::Secret(Arc::new(DecodingKey::from_secret(
                    secret.as_bytes(),
                ))))
            }
            (None, Some(file), None) => {
                Some(Keys::Jwks(Arc::new(RwLock::new(load_jwks(&file).await?))))
            }
            (None, None, Some(url)) => {
                let set = Arc::new(RwLock::new(load_jwks(&url).await?));
                refresh_jwks(url, set.clone());
                Some(Keys::Jwks(set))
            }
            (None, None, None) => None,
            _ => anyhow::bail!(
                "set one of COURIER_JWT_SECRET, COURIER_JWKS_FILE and COURIER_JWKS_URL"
            ),
        };
        Ok(Self {
            keys,
            issuer: std::env::var("COURIER_JWT_ISSUER").ok(),
            operator_token: secret("COURIER_OPERATOR_TOKEN")?,
        })
    }

    /// Verifies `token` and answers its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let keys = self
            .keys
            .as_ref()
            .ok_or("no token keys are configured (COURIER_JWT_SECRET or COURIER_JWKS_*)")?;
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        match keys {
            Keys::Secret(key) => self.decode(token, key, Algorithm::HS256),
            Keys::Jwks(set) => {
                let set = set.read().unwrap_or_else(|e| e.into_inner());
                let published = set
                    .find(header.kid.as_deref())
                    .ok_or("the token's key is not in the JWKS")?;
                // The key decides the algorithm, never the token (no `alg` confusion).
                let algorithm = published.algorithm.unwrap_or(header.alg);
                if symmetric(algorithm) {
                    return Err("a JWKS key must be asymmetric".to_owned());
                }
                self.decode(token, &published.key, algorithm)
            }
        }
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
    ) -> Result<Claims, String> {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        if let Some(issuer) = &self.issuer {
            // Required, not only checked when present (jsonwebtoken's default).
            validation.set_required_spec_claims(&["exp", "sub", "iss"]);
            validation.set_issuer(&[issuer]);
        }
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }
}

/// Issues a development token signed with the shared secret (`courier-admin token`, the tests).
pub fn issue(secret: &str, role: Role, subject: &str, ttl: Duration) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: subject.to_owned(),
        role,
        exp: now + ttl.as_secs() as i64,
        iat: Some(now),
        iss: None,
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    pub subject: String,
}

fn unauthorized(error: Option<&str>, message: impl Into<String>) -> ApiError {
    let challenge = match error {
        Some(error) => format!("Bearer realm=\"courier\", error=\"{error}\""),
        None => "Bearer realm=\"courier\"".to_owned(),
    };
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message).challenge(challenge)
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// `403`: the token is valid, but not for this.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = &state.settings.auth;
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(unauthorized(None, "a bearer token is required"));
        }
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            unauthorized(
                Some("invalid_request"),
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
        if let Some(static_token) = &auth.operator_token
            && constant_time_eq(token.as_bytes(), static_token.as_bytes())
        {
            return Ok(Caller {
                role: Role::Operator,
                subject: "operator-token".to_owned(),
            });
        }
        let claims = auth.verify(token).map_err(|why| {
            tracing::info!(why, "refused a token");
            unauthorized(Some("invalid_token"), "the token is invalid or has expired")
        })?;
        if courier_workflows::domain::CustomerId::parse(&claims.sub).is_err() {
            return Err(unauthorized(
                Some("invalid_token"),
                "the token's subject is not a valid id",
            ));
        }
        Ok(Caller {
            role: claims.role,
            subject: claims.sub,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Caller {
    pub fn is(&self, role: Role, subject: &str) -> bool {
        self.role == role && self.subject == subject
    }

    /// Whether the caller may read an order: its customer, its shop, its rider, or an operator.
    pub fn may_read(&self, order: &OrderDetails) -> bool {
        match self.role {
            Role::Operator => true,
            Role::Customer => self.subject == order.customer_id,
            Role::Shop => self.subject == order.shop_id,
            Role::Rider => order
                .rider
                .as_ref()
                .is_some_and(|r| r.rider_id == self.subject),
        }
    }

    /// The order's customer acting on it: another customer's order does not exist for them
    /// (`404`); another role is `403`.
    pub fn require_owner(&self, order: &OrderDetails) -> Result<(), ApiError> {
        self.require(Role::Customer)?;
        if self.subject == order.customer_id {
            Ok(())
        } else {
            Err(ApiError::order_not_found())
        }
    }

    /// A listing `role`'s `subject` may read: theirs, or an operator's (who reads everything).
    pub fn require_reader(&self, role: Role, subject: &str) -> Result<(), ApiError> {
        if self.role == Role::Operator {
            return Ok(());
        }
        self.require_subject(role, subject)
    }

    /// The caller must have `role` (any subject).
    pub fn require(&self, role: Role) -> Result<&str, ApiError> {
        if self.role == role {
            Ok(&self.subject)
        } else {
            Err(forbidden(format!(
                "this needs a {} token, not a {} token",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// The caller must be `role` speaking for `subject`.
    pub fn require_subject(&self, role: Role, subject: &str) -> Result<(), ApiError> {
        self.require(role)?;
        if self.subject == subject {
            Ok(())
        } else {
            Err(forbidden(format!(
                "this {} token speaks for another {}",
                role.as_str(),
                role.as_str()
            )))
        }
    }
}
