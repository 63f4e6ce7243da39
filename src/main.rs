//! The `pod` binary: everything is in the library (`src/lib.rs`), which
//! the fuzz targets also link.

fn main() -> std::process::ExitCode {
    pod::main()
}
