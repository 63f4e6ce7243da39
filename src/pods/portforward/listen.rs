//! The local listeners, opened as client-go opens them: each port on each
//! address in turn, a random port (`0`) chosen by the first listener and
//! reused by the next, `Forwarding from …` for each that works and
//! `Unable to listen on port …` for a port that failed as its addresses'
//! failure modes say.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use super::ports::{FailureMode, ForwardedPort, ListenAddress};
use super::wording::errno_text;
use crate::terminal::ReaderGone;

/// Opens every listener it can. Returns them with the port each serves
/// (its local port settled); `ports` gets the local ports chosen. An empty
/// list means no port could be listened on. A message that finds its
/// reader gone ends it all, as it ends kubectl.
pub fn listen_all(
    addresses: &[ListenAddress],
    ports: &mut [ForwardedPort],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Vec<(TcpListener, ForwardedPort)>, ReaderGone> {
    let mut listeners = Vec::new();
    let mut any_port = false;
    for port in ports.iter_mut() {
        let mut errors = Vec::new();
        let (mut all_ok, mut all_failed, mut any_failed) = (0, 0, 0);
        for address in addresses {
            match bind(address.ip, port.local) {
                Ok(listener) => {
                    let local = listener
                        .local_addr()
                        .map(|a| a.port())
                        .unwrap_or(port.local);
                    port.local = local;
                    ReaderGone::check(writeln!(
                        out,
                        "Forwarding from {} -> {}",
                        address.with_port(local),
                        port.remote
                    ))?;
                    listeners.push((listener, *port));
                    if address.mode == FailureMode::All {
                        all_ok += 1;
                    }
                }
                Err(why) => {
                    errors.push(format!(
                        "unable to create listener: Error listen {} {}: {why}",
                        address.network(),
                        address.with_port(port.local)
                    ));
                    match address.mode {
                        FailureMode::All => all_failed += 1,
                        FailureMode::Any => any_failed += 1,
                    }
                }
            }
        }
        if (all_ok == 0 && all_failed > 0) || any_failed > 0 {
            ReaderGone::check(writeln!(
                err,
                "Unable to listen on port {}: Listeners failed to create with the following errors: [{}]",
                port.local,
                errors.join(" ")
            ))?;
        } else {
            any_port = true;
        }
    }
    if !any_port {
        return Ok(Vec::new());
    }
    Ok(listeners)
}

/// A listening TCP socket as Go's `net.Listen` makes one (SO_REUSEADDR;
/// IPV6_V6ONLY for tcp6), non-blocking. The error reads as Go's after
/// `listen tcp4 127.0.0.1:80: `.
fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, String> {
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage, bind, listen, setsockopt,
        socket, sockopt,
    };
    let text = |call: &str, e: nix::errno::Errno| format!("{call}: {}", errno_text(&e.into()));
    let family = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    let fd = socket(family, SockType::Stream, flags, None).map_err(|e| text("socket", e))?;
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| text("setsockopt", e))?;
    if ip.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(|e| text("setsockopt", e))?;
    }
    let addr = SockaddrStorage::from(SocketAddr::new(ip, port));
    bind(fd.as_raw_fd(), &addr).map_err(|e| text("bind", e))?;
    listen(&fd, Backlog::MAXCONN).map_err(|e| text("listen", e))?;
    Ok(TcpListener::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::portforward::ports::parse_addresses;

    fn run(addresses: &[&str], ports: &mut [ForwardedPort]) -> (usize, String, String) {
        let addresses: Vec<String> = addresses.iter().map(|s| s.to_string()).collect();
        let addresses = parse_addresses(&addresses).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let listeners = listen_all(&addresses, ports, &mut out, &mut err).unwrap();
        (
            listeners.len(),
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn a_random_port_is_shared_by_both_loopbacks() {
        let mut ports = [ForwardedPort {
            local: 0,
            remote: 80,
        }];
        let (n, out, err) = run(&["localhost"], &mut ports);
        let p = ports[0].local;
        assert_ne!(p, 0);
        assert_eq!(err, "");
        // Where ::1 is missing, localhost still works on 127.0.0.1 alone.
        assert!(n >= 1);
        assert!(out.starts_with(&format!("Forwarding from 127.0.0.1:{p} -> 80\n")));
        if n == 2 {
            assert!(out.ends_with(&format!("Forwarding from [::1]:{p} -> 80\n")));
        }
    }

    #[test]
    fn a_busy_port_is_reported_as_client_go_reports_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = taken.local_addr().unwrap().port();
        let mut ports = [ForwardedPort {
            local: p,
            remote: 80,
        }];
        let (n, out, err) = run(&["127.0.0.1"], &mut ports);
        assert_eq!((n, out.as_str()), (0, ""));
        assert_eq!(
            err,
            format!(
                "Unable to listen on port {p}: Listeners failed to create with the following \
                 errors: [unable to create listener: Error listen tcp4 127.0.0.1:{p}: bind: \
                 address already in use]\n"
            )
        );
        // With localhost, one loopback of the two is enough and the other
        // failing is not reported (failure mode "all").
        let mut ports = [ForwardedPort {
            local: p,
            remote: 80,
        }];
        let (_, out, err) = run(&["localhost"], &mut ports);
        let v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
        if v6 {
            assert_eq!(out, format!("Forwarding from [::1]:{p} -> 80\n"));
            assert_eq!(err, "");
        }
    }
}
