//! Link settings for the `pod` binary.

fn main() {
    // Without this, any file of the package changing (README, bench
    // results) would rerun the script and relink the binary.
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        // A position-dependent executable: its tables of pointers
        // (vtables, the string tables of serde, clap and the API types,
        // the GOT; `.data.rel.ro`) hold their final values in the file,
        // so they are clean page-cache pages shared by every process of
        // the binary. A position-independent one has the dynamic linker
        // write each pointer at every start, a private copy in each
        // process: 244 KiB of every pod's keeper and supervisor (release
        // build), a third of a pod's own memory. The price is ASLR of the
        // binary's own image (libraries, heap, stack and mappings stay
        // randomised), as with Debian's runc and podman and kubectl's
        // release builds, which are position-dependent too (see the
        // README's Design section).
        println!("cargo:rustc-link-arg-bins=-no-pie");
        // Packed relative relocations (DT_RELR, glibc 2.36) for the
        // relative relocations left (none in a position-dependent link;
        // kept so a `-C relocation-model=pie` build stays small and fast
        // to start).
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
