//! What each order of a run does: the mix of lifecycles, spread evenly over the orders.

use std::fmt;
use std::str::FromStr;

/// One order's life from the customer's, the shop's and the rider's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lifecycle {
    /// Placed, accepted, ready, picked up, delivered.
    Delivered,
    /// Cancelled by the customer once paid.
    CancelPaid,
    /// Cancelled once the shop accepted.
    CancelAccepted,
    /// Cancelled once the shop had it ready.
    CancelReady,
    /// Turned down by the shop.
    Rejected,
    /// Placed with a card that is declined.
    Declined,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 6] = [
        Self::Delivered,
        Self::CancelPaid,
        Self::CancelAccepted,
        Self::CancelReady,
        Self::Rejected,
        Self::Declined,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::CancelPaid => "cancel_paid",
            Self::CancelAccepted => "cancel_accepted",
            Self::CancelReady => "cancel_ready",
            Self::Rejected => "rejected",
            Self::Declined => "declined",
        }
    }
}

/// Weights of each lifecycle, e.g. `delivered=70,cancel_paid=5,rejected=10,declined=5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(Vec<(Lifecycle, u32)>);

impl Mix {
    /// The lifecycle of order `i` of `n`: each kind gets its share of every run, spread out
    /// (largest remainder), so a short run has the same mix as a long one.
    pub fn plan(&self, n: usize) -> Vec<Lifecycle> {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        let mut plan = Vec::with_capacity(n);
        let mut credit: Vec<f64> = vec![0.0; self.0.len()];
        for _ in 0..n {
            for (c, (_, w)) in credit.iter_mut().zip(&self.0) {
                *c += f64::from(*w) / f64::from(total);
            }
            let (best, _) = credit
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .expect("a non-empty mix");
            credit[best] -= 1.0;
            plan.push(self.0[best].0);
        }
        plan
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self(vec![
            (Lifecycle::Delivered, 70),
            (Lifecycle::CancelPaid, 5),
            (Lifecycle::CancelAccepted, 5),
            (Lifecycle::CancelReady, 5),
            (Lifecycle::Rejected, 10),
            (Lifecycle::Declined, 5),
        ])
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected kind=weight"))?;
            let kind = Lifecycle::ALL
                .into_iter()
                .find(|k| k.name() == name.trim())
                .ok_or_else(|| {
                    let names: Vec<_> = Lifecycle::ALL.iter().map(Lifecycle::name).collect();
                    format!("{name:?} is not one of {}", names.join(", "))
                })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the weight must be a whole number"))?;
            if weight > 0 {
                parts.push((kind, weight));
            }
        }
        if parts.is_empty() {
            return Err("the mix has no lifecycle with a weight above 0".to_owned());
        }
        Ok(Self(parts))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, w)| format!("{}={w}", k.name()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_follows_the_weights_exactly_over_their_sum() {
        let mix: Mix = "delivered=3,declined=1".parse().unwrap();
        let plan = mix.plan(8);
        let declined = plan.iter().filter(|k| **k == Lifecycle::Declined).count();
        assert_eq!(declined, 2, "{plan:?}");
        assert_eq!(plan.len(), 8);
    }

    #[test]
    fn unknown_kinds_and_bad_weights_are_refused() {
        assert!("shipped=1".parse::<Mix>().is_err());
        assert!("delivered=x".parse::<Mix>().is_err());
        assert!("delivered=0".parse::<Mix>().is_err());
        assert_eq!(
            "delivered=1, rejected=2"
                .parse::<Mix>()
                .unwrap()
                .to_string(),
            "delivered=1,rejected=2"
        );
    }
}
