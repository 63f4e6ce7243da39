//! The library's tests that need root, reaching it through
//! `pod::privileged`: here rather than in its unit tests so that
//! `cargo test --lib` runs as any user.

#[path = "../common/mod.rs"]
mod common;
mod layers;
mod network_check;
mod procfs;
mod sealed;
mod unpack;
