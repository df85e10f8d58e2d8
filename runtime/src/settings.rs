//! Reading settings from the environment, shared by the worker and the API: defaults for what
//! is unset, clear errors for what is malformed, and secrets from files (`NAME_FILE`) as Docker
//! and Kubernetes mount them.

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a number, got {v:?}"))),
    }
}

/// A secret from `NAME`, or from the file named by `NAME_FILE` (which wins).
pub fn secret(name: &str) -> Result<Option<String>, ConfigError> {
    if let Ok(path) = std::env::var(format!("{name}_FILE")) {
        let value = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError(format!("reading {name}_FILE ({path}): {e}")))?;
        return Ok(Some(value.trim_end_matches(['\n', '\r']).to_owned()));
    }
    Ok(std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// A secret with a default for local development.
pub fn secret_or(name: &str, default: &str) -> Result<String, ConfigError> {
    Ok(secret(name)?.unwrap_or_else(|| default.to_owned()))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Courier's database when nothing else is said: the cluster `scripts/setup` runs.
pub const DEFAULT_DATABASE_URL: &str = "postgres://courier:courier@127.0.0.1:5433/courier";

/// The task queue orders run on when `COURIER_TASK_QUEUE` is unset (the worker polls it, the API
/// starts orders on it).
pub const DEFAULT_TASK_QUEUE: &str = "courier-orders";

/// The reconciliation's scope from `COURIER_RECONCILE_GRACE_SECS` and
/// `COURIER_RECONCILE_LOOKBACK_SECS` (shared by the worker's schedule and the API's run-now).
pub fn reconcile_policy()
-> Result<courier_workflows::reconciliation_workflow::ReconcilePolicy, ConfigError> {
    use courier_workflows::reconciliation_workflow::ReconcilePolicy;
    let defaults = ReconcilePolicy::default();
    Ok(ReconcilePolicy {
        scope: courier_workflows::contracts::ReconcileScope {
            grace_secs: env_number("COURIER_RECONCILE_GRACE_SECS", defaults.scope.grace_secs)?,
            lookback_secs: env_number(
                "COURIER_RECONCILE_LOOKBACK_SECS",
                defaults.scope.lookback_secs,
            )?,
        },
        ..defaults
    })
}

/// How to reach the payment provider (the worker charges, refunds and pays out; the API tokenizes
/// cards). The secret key is never logged.
#[derive(Clone)]
pub struct PaymentProviderConfig {
    pub base_url: String,
    pub secret_key: String,
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for PaymentProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentProviderConfig")
            .field("base_url", &self.base_url)
            .field("secret_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PaymentProviderConfig {
    /// `PAYMENT_PROVIDER_URL`, `PAYMENT_PROVIDER_KEY` (or `_FILE`), `PAYMENT_PROVIDER_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: env_or("PAYMENT_PROVIDER_URL", "http://127.0.0.1:8091"),
            secret_key: secret_or("PAYMENT_PROVIDER_KEY", "sk_test_courier")?,
            timeout: std::time::Duration::from_secs(env_number(
                "PAYMENT_PROVIDER_TIMEOUT_SECS",
                10,
            )?),
        })
    }
}
