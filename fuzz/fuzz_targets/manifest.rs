#![no_main]
//! `pod::fuzz::manifest` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pod::fuzz::manifest(data));
