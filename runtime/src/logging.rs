//! Logs as every Courier process writes them.

use crate::settings::env_or;

/// Logs as text, or as JSON lines with `COURIER_LOG_FORMAT=json`; `RUST_LOG` filters.
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if env_or("COURIER_LOG_FORMAT", "text") == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}
