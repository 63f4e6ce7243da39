//! `get events`.
