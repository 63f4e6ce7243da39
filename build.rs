//! Link settings for the `pod` binary.

fn main() {
    // Without this, any file of the package changing (README, bench
    // results) would rerun the script and relink the binary.
    println!("cargo:rerun-if-changed=build.rs");
    // Every pod runs this binary twice (the supervisor and the pause
    // process) and every container start once more: packed relative
    // relocations (DT_RELR, glibc 2.36) shrink the table the dynamic
    // linker reads at each start from about 1 MiB to a few KiB, which is
    // both start-up time and resident memory per process.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
