//! How kubectl's Go side words what goes wrong while forwarding: the
//! system's error texts as Go's `syscall.Errno` prints them, and the
//! klog line client-go writes for a connection that failed.

use crate::api::field::go_quote;

/// Go's text for an OS error: the C library's, first letter lowercased
/// (`connection refused`, `address already in use`). Errors that are not
/// the system's keep their own text.
pub fn errno_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let text = nix::errno::Errno::from_raw(code).desc();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        }
        None => err.to_string(),
    }
}

/// The line client-go's `runtime.HandleError` logs through klog (kubectl
/// 1.31-1.32): `E1206 06:43:48.463134   12345 portforward.go:413]
/// "Unhandled Error" err="…"`, in local time.
pub fn klog_error(message: &str) -> String {
    let now = jiff::ZonedDateTime::now();
    format!(
        "E{} {:>7} portforward.go:413] \"Unhandled Error\" err={}",
        now.strftime("%m%d %H:%M:%S%.6f"),
        std::process::id(),
        go_quote(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_go_prints_them() {
        let err = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(errno_text(&err), "connection refused");
        let err = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(errno_text(&err), "address already in use");
        let err = std::io::Error::other("the network namespace thread is gone");
        assert_eq!(errno_text(&err), "the network namespace thread is gone");
    }

    #[test]
    fn the_klog_line_has_klogs_header() {
        let line = klog_error("a \"b\"");
        let (header, rest) = line.split_once("] ").unwrap();
        assert!(header.starts_with('E'), "{header}");
        // E + MMDD, the time to microseconds, the pid in 7 columns.
        let fields: Vec<&str> = header.split_whitespace().collect();
        assert_eq!(fields[0].len(), 5);
        assert_eq!(fields[1].len(), "06:43:48.463134".len());
        assert_eq!(fields[2], std::process::id().to_string());
        assert_eq!(fields[3], "portforward.go:413");
        assert_eq!(rest, r#""Unhandled Error" err="a \"b\"""#);
    }
}
