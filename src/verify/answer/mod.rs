//! Answer checker.
