//! Link settings for the `pod` binary.

fn main() {
    // Without this, any file of the package changing (README, bench
    // results) would rerun the script and relink the binary.
    println!("cargo:rerun-if-changed=build.rs");
    // A release build names the commit it was built from (`pod version
    // -o json`: gitCommit and gitTreeState, as kubectl's do), so that the
    // benchmark records the revision of the binary it ran, wherever and
    // whenever that was built. A debug build does not: the script would
    // run again at every commit and rebuild the crate and every test
    // binary with it.
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        name_the_commit();
    }
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

/// `POD_GIT_COMMIT` and `POD_GIT_TREE_STATE` (`clean`, or `dirty` when
/// what is compiled differs from that commit) for the crate; nothing
/// outside a git checkout (a source tarball).
fn name_the_commit() {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "HEAD"]) else {
        return;
    };
    // Run again when HEAD moves (a commit, a checkout) or what is
    // compiled changes.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let compiled = ["src", "build.rs", "Cargo.toml", "Cargo.lock"];
    for path in compiled {
        println!("cargo:rerun-if-changed={path}");
    }
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(compiled);
    let state = match git(&status) {
        Some(changes) if changes.is_empty() => "clean",
        _ => "dirty",
    };
    println!("cargo:rustc-env=POD_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=POD_GIT_TREE_STATE={state}");
}
