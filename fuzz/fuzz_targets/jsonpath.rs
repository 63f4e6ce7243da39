#![no_main]
//! `pod::fuzz::jsonpath` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pod::fuzz::jsonpath(data));
