//! What one phase of the benchmark measured: per step, every latency, the answers that were not
//! the expected ones, the `202`s, and the read-model lag after each answered action.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The step that pools every shop and rider action (accept, ready, pickup, deliver).
pub const ACTIONS: &str = "shop/rider actions";

/// Collects the samples of one phase; cheap to clone and share between clients.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<BTreeMap<String, Samples>>>,
}

#[derive(Default, Clone)]
struct Samples {
    latencies: Vec<Duration>,
    errors: u64,
    pending: u64,
    lags: Vec<Duration>,
    examples: Vec<String>,
}

impl Recorder {
    pub fn ok(&self, step: &str, latency: Duration) {
        self.with(step, |s| s.latencies.push(latency));
    }

    /// An answer that was not the expected one: counted, and the first few kept for the report.
    pub fn error(&self, step: &str, latency: Duration, what: String) {
        self.with(step, |s| {
            s.latencies.push(latency);
            s.errors += 1;
            if s.examples.len() < 3 {
                s.examples.push(what);
            }
        });
    }

    /// `POST /orders` answered `202`: the payment was not settled within the API's wait.
    pub fn pending(&self, step: &str, latency: Duration) {
        self.with(step, |s| {
            s.latencies.push(latency);
            s.pending += 1;
        });
    }

    pub fn lag(&self, step: &str, lag: Duration) {
        self.with(step, |s| s.lags.push(lag));
    }

    fn with(&self, step: &str, f: impl FnOnce(&mut Samples)) {
        let mut map = self.inner.lock().expect("recorder lock");
        f(map.entry(step.to_owned()).or_default());
    }

    /// The summary of every step, given the phase's wall time.
    pub fn summarise(&self, wall: Duration) -> Vec<StepStats> {
        let map = self.inner.lock().expect("recorder lock");
        map.iter()
            .map(|(step, s)| StepStats::new(step, s, wall))
            .collect()
    }
}

/// One row of a report table.
#[derive(Debug, Clone, Serialize)]
pub struct StepStats {
    pub step: String,
    pub count: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub pending: u64,
    /// Read-model lag (answered, then visible in `GET`), when measured.
    pub lag_p50_ms: Option<f64>,
    pub lag_p99_ms: Option<f64>,
    pub examples: Vec<String>,
}

impl StepStats {
    fn new(step: &str, s: &Samples, wall: Duration) -> Self {
        let mut latencies = s.latencies.clone();
        latencies.sort();
        let mut lags = s.lags.clone();
        lags.sort();
        let count = latencies.len() as u64;
        Self {
            step: step.to_owned(),
            count,
            per_sec: count as f64 / wall.as_secs_f64().max(1e-9),
            p50_ms: percentile_ms(&latencies, 0.50),
            p95_ms: percentile_ms(&latencies, 0.95),
            p99_ms: percentile_ms(&latencies, 0.99),
            max_ms: latencies.last().map_or(0.0, ms),
            errors: s.errors,
            pending: s.pending,
            lag_p50_ms: (!lags.is_empty()).then(|| percentile_ms(&lags, 0.50)),
            lag_p99_ms: (!lags.is_empty()).then(|| percentile_ms(&lags, 0.99)),
            examples: s.examples.clone(),
        }
    }
}

fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The nearest-rank percentile of sorted samples.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(&sorted[rank - 1])
}

/// Times `f`.
pub async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&samples, 0.50), 50.0);
        assert_eq!(percentile_ms(&samples, 0.99), 99.0);
        assert_eq!(percentile_ms(&samples[..1], 0.99), 1.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn a_summary_counts_errors_and_pending_answers_apart() {
        let r = Recorder::default();
        r.ok("place", Duration::from_millis(10));
        r.pending("place", Duration::from_millis(30));
        r.error("place", Duration::from_millis(20), "500".into());
        r.lag("place", Duration::from_millis(2));
        let rows = r.summarise(Duration::from_secs(1));
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!((row.count, row.errors, row.pending), (3, 1, 1));
        assert_eq!(row.max_ms, 30.0);
        assert_eq!(row.lag_p99_ms, Some(2.0));
        assert_eq!(row.examples, ["500"]);
    }
}
