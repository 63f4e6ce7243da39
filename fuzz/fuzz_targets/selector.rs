#![no_main]
//! `pod::fuzz::selector` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pod::fuzz::selector(data));
