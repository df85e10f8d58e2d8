//! How the API verifies bearer tokens with each kind of key it can be given: the development
//! secret, and a JWKS (from a file, or fetched from a URL) as an identity provider publishes it.
//! The keys below are test keys made for this file (`openssl genpkey -algorithm ed25519`).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use courier_api::auth::{AuthSettings, Claims, Keys, PublishedKeys, Role, issue, load_jwks};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The identity provider's signing key; its public half is `JWKS`.
const PROVIDER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIH3zZMjSwhyUCwGHhGN4suzgt6QuTiVbExyzGj8AnJpv
-----END PRIVATE KEY-----";
/// Somebody else's key.
const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOnPWk6vssqS70scWLHs4E4gN+59q9fhzIC3MU1YLHCZ
-----END PRIVATE KEY-----";
const JWKS: &str = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "provider-1",
    "alg": "EdDSA", "use": "sig", "x": "-GZij-UWJ1jQ123pj8F2XKRkSHMGeasNkCfyDHP3s6A"}]}"#;
const ISSUER: &str = "https://auth.courier.test/";

fn claims(exp_in: i64, issuer: Option<&str>) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: "napoli-oven".to_owned(),
        role: Role::Shop,
        exp: now + exp_in,
        iat: Some(now),
        iss: issuer.map(str::to_owned),
    }
}

fn signed(pem: &str, kid: &str, claims: &Claims) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_pem(pem.as_bytes()).expect("a test key"),
    )
    .expect("signing")
}

fn jwks_settings(set: PublishedKeys) -> AuthSettings {
    AuthSettings {
        keys: Some(Keys::Jwks(Arc::new(RwLock::new(set)))),
        issuer: Some(ISSUER.to_owned()),
        operator_token: None,
    }
}

#[tokio::test]
async fn a_jwks_from_a_file_verifies_the_providers_tokens_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("courier-jwks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, JWKS).unwrap();
    let auth = jwks_settings(load_jwks(file.to_str().unwrap()).await.unwrap());

    let good = signed(PROVIDER_KEY, "provider-1", &claims(600, Some(ISSUER)));
    let verified = auth.verify(&good).expect("the provider's token");
    assert_eq!(
        (verified.role, verified.sub.as_str()),
        (Role::Shop, "napoli-oven")
    );

    let refused = [
        (
            "another key under the provider's kid",
            signed(OTHER_KEY, "provider-1", &claims(600, Some(ISSUER))),
        ),
        (
            "an unknown kid",
            signed(PROVIDER_KEY, "provider-9", &claims(600, Some(ISSUER))),
        ),
        (
            "expired",
            signed(PROVIDER_KEY, "provider-1", &claims(-600, Some(ISSUER))),
        ),
        (
            "another issuer",
            signed(
                PROVIDER_KEY,
                "provider-1",
                &claims(600, Some("https://evil.test/")),
            ),
        ),
        (
            "no issuer",
            signed(PROVIDER_KEY, "provider-1", &claims(600, None)),
        ),
        // An HS256 token "signed" with the public key as a shared secret (algorithm confusion).
        ("HS256 under the provider's kid", {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("provider-1".to_owned());
            jsonwebtoken::encode(
                &header,
                &claims(600, Some(ISSUER)),
                &EncodingKey::from_secret(b"-GZij-UWJ1jQ123pj8F2XKRkSHMGeasNkCfyDHP3s6A"),
            )
            .unwrap()
        }),
    ];
    for (why, token) in refused {
        assert!(auth.verify(&token).is_err(), "{why} was accepted");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_jwks_url_is_fetched_over_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(|| async { ([("content-type", "application/json")], JWKS) }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let auth = jwks_settings(load_jwks(&url).await.expect("fetching the JWKS"));
    let token = signed(PROVIDER_KEY, "provider-1", &claims(600, Some(ISSUER)));
    assert!(auth.verify(&token).is_ok());
    server.abort();
}

#[test]
fn the_development_secret_verifies_its_own_tokens_only() {
    let secret = "a-development-secret-of-at-least-32-bytes";
    let auth = AuthSettings {
        keys: Some(Keys::Secret(Arc::new(
            jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        ))),
        issuer: None,
        operator_token: None,
    };
    let token = issue(secret, Role::Rider, "rider-jiwoo", Duration::from_secs(60)).unwrap();
    assert_eq!(auth.verify(&token).unwrap().sub, "rider-jiwoo");
    let other = issue(
        "another-secret-of-at-least-32-bytes!!",
        Role::Rider,
        "rider-jiwoo",
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(auth.verify(&other).is_err());
    // The provider's EdDSA token means nothing to a secret-keyed API.
    assert!(
        auth.verify(&signed(PROVIDER_KEY, "provider-1", &claims(600, None)))
            .is_err()
    );
}
