//! (module under construction: see the issues)
