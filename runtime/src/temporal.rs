//! The connection to Temporal.

use crate::settings::ConfigError;

/// Connects to Temporal as the SDK's environment configuration says (`TEMPORAL_ADDRESS`,
/// `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`): the local dev server by default,
/// Temporal Cloud with an API key or mTLS.
pub async fn connect_temporal() -> Result<temporalio_client::Client, ConfigError> {
    use temporalio_client::envconfig::LoadClientConfigProfileOptions;
    use temporalio_client::{Client, ClientOptions, Connection};
    let (connection, options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
            .map_err(|e| ConfigError(format!("reading the Temporal connection settings: {e:?}")))?;
    let connection = Connection::connect(connection)
        .await
        .map_err(|e| ConfigError(format!("connecting to Temporal: {e}")))?;
    Client::new(connection, options)
        .map_err(|e| ConfigError(format!("creating the Temporal client: {e}")))
}
