//! A typed client of the payment provider's card API (charges, refunds, payouts). Every call
//! carries an idempotency key, so the provider performs each effect once however often it is sent.

use courier_workflows::domain::PaymentSource;
use serde::{Deserialize, Serialize};

pub use courier_runtime::settings::PaymentProviderConfig;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The card was refused: a retry will not change the answer.
    #[error("declined: {0}")]
    Declined(String),
    /// The provider could not be reached, timed out, or answered 5xx/409/429: worth a retry.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself (4xx): a bug on our side, retried so an operator
    /// sees the attempts pile up rather than an order silently failing.
    #[error("payment provider refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
}

#[derive(Serialize)]
struct ChargeBody<'a> {
    amount: i64,
    currency: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_method: Option<&'a str>,
    /// Only for orders placed before cards were tokenized.
    #[serde(skip_serializing_if = "Option::is_none")]
    card_number: Option<&'a str>,
    description: &'a str,
    reference: &'a str,
}

#[derive(Debug, Serialize)]
struct RefundBody<'a> {
    charge: &'a str,
    amount: i64,
}

#[derive(Debug, Serialize)]
struct PayoutBody<'a> {
    amount: i64,
    currency: &'a str,
    destination: &'a str,
    reference: &'a str,
}

/// What the provider answers for a charge, refund or payout it performed.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderObject {
    pub id: String,
    pub status: String,
}

/// A charge as the provider lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeSummary {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub amount_refunded: i64,
}

/// One entry of the provider's books, as its ledger lists them.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerEntry {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize)]
struct LedgerPage {
    entries: Vec<LedgerEntry>,
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct ChargeList {
    data: Vec<ChargeSummary>,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: String,
}

#[derive(Clone)]
pub struct PaymentClient {
    http: reqwest::Client,
    config: PaymentProviderConfig,
}

impl PaymentClient {
    pub fn new(config: PaymentProviderConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(Self { http, config })
    }

    pub async fn charge(
        &self,
        idempotency_key: &str,
        amount: i64,
        currency: &str,
        source: PaymentSource<'_>,
        description: &str,
        reference: &str,
    ) -> Result<ProviderObject, ProviderError> {
        let (payment_method, card_number) = match source {
            PaymentSource::Method(method) => (Some(method.as_str()), None),
            PaymentSource::Card(card) => (None, Some(card.expose())),
        };
        let body = ChargeBody {
            amount,
            currency,
            payment_method,
            card_number,
            description,
            reference,
        };
        self.post("/v1/charges", idempotency_key, &body).await
    }

    pub async fn refund(
        &self,
        idempotency_key: &str,
        charge_id: &str,
        amount: i64,
    ) -> Result<ProviderObject, ProviderError> {
        let body = RefundBody {
            charge: charge_id,
            amount,
        };
        self.post("/v1/refunds", idempotency_key, &body).await
    }

    /// Every charge booked under `reference` (the order id).
    pub async fn charges(&self, reference: &str) -> Result<Vec<ChargeSummary>, ProviderError> {
        let url = format!("{}/v1/charges", self.config.base_url.trim_end_matches('/'));
        let response = self
            .http
            .get(&url)
            .query(&[("reference", reference)])
            .bearer_auth(&self.config.secret_key)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let list: ChargeList = Self::read(response).await?;
        Ok(list.data)
    }

    /// Every ledger entry after `after` (the last entry of the previous page), a page at a time;
    /// answers the page and whether more follow.
    pub async fn ledger_page(
        &self,
        after: Option<(chrono::DateTime<chrono::Utc>, &str)>,
        limit: u32,
    ) -> Result<(Vec<LedgerEntry>, bool), ProviderError> {
        let url = format!("{}/v1/ledger", self.config.base_url.trim_end_matches('/'));
        let mut query = vec![("limit", limit.to_string())];
        if let Some((at, id)) = after {
            query.push(("after", format!("{}|{id}", at.to_rfc3339())));
        }
        let response = self
            .http
            .get(&url)
            .query(&query)
            .bearer_auth(&self.config.secret_key)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let page: LedgerPage = Self::read(response).await?;
        Ok((page.entries, page.has_more))
    }

    pub async fn payout(
        &self,
        idempotency_key: &str,
        amount: i64,
        currency: &str,
        destination: &str,
        reference: &str,
    ) -> Result<ProviderObject, ProviderError> {
        let body = PayoutBody {
            amount,
            currency,
            destination,
            reference,
        };
        self.post("/v1/payouts", idempotency_key, &body).await
    }

    async fn post<B: Serialize>(
        &self,
        path: &str,
        idempotency_key: &str,
        body: &B,
    ) -> Result<ProviderObject, ProviderError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.config.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        Self::read(response).await
    }

    async fn read<T: serde::de::DeserializeOwned>(
        response: reqwest::Response,
    ) -> Result<T, ProviderError> {
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| ProviderError::Unavailable(format!("unreadable answer: {e}")));
        }
        let message = serde_json::from_str::<ErrorEnvelope>(&text)
            .map(|e| e.error.message)
            .unwrap_or(text);
        Err(match status.as_u16() {
            402 => ProviderError::Declined(message),
            409 | 429 => ProviderError::Unavailable(message),
            s if status.is_server_error() => ProviderError::Unavailable(format!("{s}: {message}")),
            s => ProviderError::Refused { status: s, message },
        })
    }
}
