//! The one verdict vocabulary of every checker: accepted, rejected (the answer or proof is
//! wrong, or cheats) or error (the checker itself failed: never counted as a rejection). The
//! answer checker ([`crate::verify::answer`]), the Lean pool ([`crate::verify::lean`]), the
//! rewarders of `rl` and the evaluators all speak it.
use serde::{Deserialize, Serialize};

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// The answer is equivalent to the reference / Lean accepted the proof and every
    /// post-check passed.
    Accepted,
    /// The answer or proof is wrong (or tries to cheat).
    Rejected {
        /// Why, in words (the first failing check).
        reason: String,
    },
    /// The checker could not decide (Lean crashed twice, timed out twice, is not installed...).
    Error {
        /// What failed.
        reason: String,
    },
}

impl Status {
    /// A rejection.
    pub fn rejected(reason: impl Into<String>) -> Self {
        Status::Rejected {
            reason: reason.into(),
        }
    }
    /// A checker error.
    pub fn error(reason: impl Into<String>) -> Self {
        Status::Error {
            reason: reason.into(),
        }
    }
    /// The status named by [`Status::label`], with `reason` (ignored for `accepted`); None for
    /// another label.
    pub fn from_label(label: &str, reason: impl Into<String>) -> Option<Self> {
        match label {
            "accepted" => Some(Status::Accepted),
            "rejected" => Some(Status::rejected(reason)),
            "error" => Some(Status::error(reason)),
            _ => None,
        }
    }
    /// `"accepted"`, `"rejected"` or `"error"`.
    pub fn label(&self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Rejected { .. } => "rejected",
            Status::Error { .. } => "error",
        }
    }
    /// The reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Status::Accepted => None,
            Status::Rejected { reason } | Status::Error { reason } => Some(reason),
        }
    }
    /// True when accepted.
    pub fn is_accepted(&self) -> bool {
        *self == Status::Accepted
    }
    /// True for a checker error.
    pub fn is_error(&self) -> bool {
        matches!(self, Status::Error { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for s in [
            Status::Accepted,
            Status::rejected("wrong"),
            Status::error("crash"),
        ] {
            let back = Status::from_label(s.label(), s.reason().unwrap_or("")).unwrap();
            assert_eq!(back, s);
        }
        assert_eq!(Status::from_label("maybe", ""), None);
    }
}
