#![no_main]
//! `pod::fuzz::quantity` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pod::fuzz::quantity(data));
