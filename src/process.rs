//! Signals to one process, by pid.
//!
//! kill(2) with a pid of 0 or below signals a whole process group, or
//! every process the caller may signal: a pid read as 0 from a damaged
//! record must never get that far. Whether a positive pid is still the
//! process meant (not reaped and reused) is the caller's to know: its own
//! unreaped child, or a pid checked against its start time
//! (`store::record::Process`).

use std::io;

/// Sends `signal` to the process `pid`; a pid of 0 or below is refused.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}: not one process"),
        ));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::kill;

    #[test]
    fn only_one_process_is_signalled() {
        for pid in [0, -1, -12345] {
            let err = kill(pid, libc::SIGKILL).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        kill(child.id() as i32, libc::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
