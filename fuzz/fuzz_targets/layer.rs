#![no_main]
//! `pod::fuzz::layer` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pod::fuzz::layer(data));
