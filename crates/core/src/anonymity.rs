//! The minimum group size k: the one place that knows its bounds.

use serde::{Deserialize, Serialize};

use crate::validation::Invalid;

/// Below k answers nothing is shown. An admin may raise or lower it, never below 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct KThreshold(u32);

impl KThreshold {
    pub const MIN: u32 = 3;
    pub const MAX: u32 = 100;
    pub const DEFAULT: KThreshold = KThreshold(5);

    pub fn new(k: i64) -> Result<Self, Invalid> {
        if k < i64::from(Self::MIN) {
            return Err(Invalid::new(
                "k_threshold",
                format!(
                    "must be at least {}: smaller groups can be worked out",
                    Self::MIN
                ),
            ));
        }
        if k > i64::from(Self::MAX) {
            return Err(Invalid::new(
                "k_threshold",
                format!("must be at most {}", Self::MAX),
            ));
        }
        Ok(Self(k as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for KThreshold {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<i64> for KThreshold {
    type Error = Invalid;
    fn try_from(k: i64) -> Result<Self, Invalid> {
        Self::new(k)
    }
}

impl From<KThreshold> for i64 {
    fn from(k: KThreshold) -> i64 {
        i64::from(k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        for (k, ok) in [
            (-1, false),
            (0, false),
            (2, false),
            (3, true),
            (5, true),
            (100, true),
            (101, false),
        ] {
            assert_eq!(KThreshold::new(k).is_ok(), ok, "k={k}");
        }
        assert_eq!(KThreshold::default().get(), 5);
    }
}
