//! Probes and lifecycle hooks: `validateProbe`, `validateLifecycle` and
//! the handlers they share (`validateHandler`).

use k8s_openapi::api::core::v1::{LifecycleHandler, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::validation::{Errors, Path, names};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

/// `validateProbe` and the liveness/readiness/startup specifics.
pub(super) fn validate_probe(probe: Option<&Probe>, path: &Path, kind: ProbeKind) -> Errors {
    let mut errs = Errors::default();
    let Some(probe) = probe else {
        return errs;
    };
    let mut handlers = Handlers::new(path);
    if let Some(exec) = probe.exec.as_ref()
        && handlers.add("exec", &mut errs)
        && exec.command.as_ref().is_none_or(|c| c.is_empty())
    {
        errs.required(&path.child("exec").child("command"));
    }
    if let Some(http) = probe.http_get.as_ref()
        && handlers.add("httpGet", &mut errs)
    {
        validate_http_get(&mut errs, http, &path.child("httpGet"));
    }
    if let Some(tcp) = probe.tcp_socket.as_ref()
        && handlers.add("tcpSocket", &mut errs)
    {
        validate_port_num_or_name(&mut errs, &tcp.port, &path.child("tcpSocket").child("port"));
    }
    if let Some(grpc) = probe.grpc.as_ref()
        && handlers.add("grpc", &mut errs)
    {
        for message in names::port_number(grpc.port.into()) {
            errs.invalid(&path.child("grpc").child("port"), grpc.port, message);
        }
    }
    handlers.finish(&mut errs);
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.non_negative(&path.child(field), value.map(i64::from));
    }
    if let Some(grace) = probe.termination_grace_period_seconds
        && grace <= 0
    {
        errs.invalid(
            &path.child("terminationGracePeriodSeconds"),
            grace,
            "must be greater than 0",
        );
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let threshold = probe.success_threshold.unwrap_or(1);
            if threshold != 1 {
                errs.invalid(&path.child("successThreshold"), threshold, "must be 1");
            }
        }
        ProbeKind::Readiness => {
            if let Some(grace) = probe.termination_grace_period_seconds {
                errs.invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    grace,
                    "must not be set for readinessProbes",
                );
            }
        }
    }
    errs
}

pub(super) fn validate_lifecycle_handler(
    handler: &LifecycleHandler,
    grace: Option<i64>,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    let mut handlers = Handlers::new(path);
    if let Some(exec) = handler.exec.as_ref()
        && handlers.add("exec", &mut errs)
        && exec.command.as_ref().is_none_or(|c| c.is_empty())
    {
        errs.required(&path.child("exec").child("command"));
    }
    if let Some(http) = handler.http_get.as_ref()
        && handlers.add("httpGet", &mut errs)
    {
        validate_http_get(&mut errs, http, &path.child("httpGet"));
    }
    if let Some(tcp) = handler.tcp_socket.as_ref()
        && handlers.add("tcpSocket", &mut errs)
    {
        validate_port_num_or_name(&mut errs, &tcp.port, &path.child("tcpSocket").child("port"));
    }
    if let Some(sleep) = handler.sleep.as_ref()
        && handlers.add("sleep", &mut errs)
    {
        let limit = grace.unwrap_or(30);
        if sleep.seconds < 0 || sleep.seconds > limit {
            errs.invalid(
                &path.child("sleep").child("seconds"),
                sleep.seconds,
                format!(
                    "must be non-negative and less than terminationGracePeriodSeconds ({limit})"
                ),
            );
        }
    }
    handlers.finish(&mut errs);
    errs
}

/// `validateHandler`: exactly one handler; later ones are Forbidden.
struct Handlers<'p> {
    path: &'p Path,
    count: usize,
}

impl<'p> Handlers<'p> {
    fn new(path: &'p Path) -> Self {
        Handlers { path, count: 0 }
    }

    /// Counts a handler; false (and an error) when one came before.
    fn add(&mut self, name: &str, errs: &mut Errors) -> bool {
        if self.count > 0 {
            errs.forbidden(
                &self.path.child(name),
                "may not specify more than 1 handler type",
            );
            return false;
        }
        self.count += 1;
        true
    }

    fn finish(self, errs: &mut Errors) {
        if self.count == 0 {
            errs.required_because(self.path, "must specify a handler type");
        }
    }
}

fn validate_http_get(
    errs: &mut Errors,
    http: &k8s_openapi::api::core::v1::HTTPGetAction,
    path: &Path,
) {
    if http.path.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("path"));
    }
    validate_port_num_or_name(errs, &http.port, &path.child("port"));
    if let Some(scheme) = http.scheme.as_deref()
        && !matches!(scheme, "HTTP" | "HTTPS")
    {
        errs.not_supported(&path.child("scheme"), scheme, &["HTTP", "HTTPS"]);
    }
    for header in http.http_headers.iter().flatten() {
        let valid = !header.name.is_empty()
            && header
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            errs.invalid(
                &path.child("httpHeaders"),
                header.name.as_str(),
                "name must be a valid HTTP header name",
            );
        }
    }
}

/// `ValidatePortNumOrName`
fn validate_port_num_or_name(errs: &mut Errors, port: &IntOrString, path: &Path) {
    match port {
        IntOrString::Int(n) => {
            for message in names::port_number((*n).into()) {
                errs.invalid(path, *n, message);
            }
        }
        IntOrString::String(name) => errs.check(path, name, names::port_name(name)),
    }
}
