//! From a request to its handler: the URL's shape (discovery documents,
//! openapi, a resource path), then the verb.
//!
//! A resource URL is read into a [`Target`] (group, version, namespace,
//! resource, name, subresource); [`resource`] then picks the handler from
//! the method, whether a name was given, the subresource and `?watch`.
//! To serve a new verb or subresource, add an arm there (and the verb to
//! the resource's row in `resources`, which discovery reports).

use std::sync::Arc;

use http::Method;

use super::request::{Reply, Request};
use super::resources::{self, Resource};
use super::status::Status;
use super::write::{self, Write};
use super::{Server, discovery, logs, openapi, openapi_v2, read, watch, whoami};

/// What a resource URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// "" for the core group (`/api/v1`).
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// The shapes of URL the server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    /// `/api`: the core group's versions.
    Api,
    /// `/apis`: the other groups (or the aggregated list of all).
    Apis,
    /// `/api/v1` or `/apis/<group>/<version>`: a group version's resources.
    GroupVersion {
        group: String,
        version: String,
    },
    /// `/apis/<group>`: one group.
    Group(String),
    OpenApiV2,
    /// `/openapi/v3` (the index) or `/openapi/v3/<path>`.
    OpenApiV3(Option<String>),
    Resource(Target),
}

/// Reads the path (without its query) into a route, or `None` for a URL
/// the API server does not have.
pub fn parse(path: &str) -> Option<Route> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(match segments.as_slice() {
        ["version"] => Route::Version,
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3(None),
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3(Some(rest.join("/"))),
        ["api", "v1"] => Route::GroupVersion {
            group: String::new(),
            version: "v1".into(),
        },
        ["api", "v1", rest @ ..] => Route::Resource(target("", "v1", rest)?),
        ["apis", group] => Route::Group(group.to_string()),
        ["apis", group, version] => Route::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["apis", group, version, rest @ ..] => Route::Resource(target(group, version, rest)?),
        _ => return None,
    })
}

/// The part of a resource URL after the group version.
fn target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let owned = |s: &&str| s.to_string();
    let (namespace, rest) = match rest {
        // `namespaces/<ns>/<resource>...`, but `namespaces/<ns>/status`
        // and `/finalize` are the namespace's own subresources.
        ["namespaces", ns, resource, more @ ..]
            if !(more.is_empty() && matches!(*resource, "status" | "finalize")) =>
        {
            (Some(ns.to_string()), &rest[2..])
        }
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [resource] => (owned(resource), None, None),
        [resource, name] => (owned(resource), Some(owned(name)), None),
        [resource, name, sub] => (owned(resource), Some(owned(name)), Some(owned(sub))),
        _ => return None,
    };
    Some(Target {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource,
        name,
        subresource,
    })
}

/// Answers one authenticated request.
pub fn dispatch(server: &Arc<Server>, req: &Request) -> Result<Reply, Status> {
    let Some(route) = parse(&req.path) else {
        return Err(Status::no_route());
    };
    if !matches!(route, Route::Resource(_)) && req.method != Method::GET {
        return Err(Status::method_not_allowed(req.method.as_str(), &req.path));
    }
    match route {
        Route::Version => discovery::version(),
        Route::Api => discovery::api(req),
        Route::Apis => discovery::apis(req),
        Route::Group(group) => discovery::group(&group),
        Route::GroupVersion { group, version } => discovery::resource_list(&group, &version),
        Route::OpenApiV3(path) => openapi::v3(path.as_deref()),
        Route::OpenApiV2 => openapi_v2::v2(req),
        Route::Resource(target) => resource(server, req, &target),
    }
}

/// The handler of a resource URL.
fn resource(server: &Arc<Server>, req: &Request, target: &Target) -> Result<Reply, Status> {
    if target.group == "authentication.k8s.io" && target.resource == "selfsubjectreviews" {
        return match req.method {
            Method::POST => whoami::review(req, &target.version),
            _ => Err(Status::method_not_allowed(req.method.as_str(), &req.path)),
        };
    }
    let Some(served) = resources::find(&target.group, &target.version, &target.resource) else {
        return Err(Status::no_route());
    };
    check_scope(served, target)?;
    let watching = req.flag("watch");
    let write = |write| write::handle(server, req, served, target, write);
    match (
        &req.method,
        target.name.as_deref(),
        target.subresource.as_deref(),
    ) {
        (&Method::GET, None, None) if watching => watch::watch(server, req, served, target),
        (&Method::GET, None, None) => read::list(server, req, served, target),
        (&Method::GET, Some(name), None) => read::get(server, req, served, target, name),
        (&Method::POST, None, None) => write(Write::Create),
        (&Method::PUT, Some(name), None) => write(Write::Update(name)),
        (&Method::PATCH, Some(name), None) => write(Write::Patch(name)),
        (&Method::DELETE, Some(name), None) => write(Write::Delete(name)),
        (&Method::DELETE, None, None) => write(Write::DeleteCollection),
        (&Method::POST, Some(name), Some("eviction")) if served.name == "pods" => {
            write(Write::Evict(name))
        }
        (&Method::GET, Some(name), Some("status")) if served.name == "pods" => {
            read::get(server, req, served, target, name)
        }
        (&Method::PUT, Some(name), Some("status")) if served.name == "pods" => {
            write(Write::UpdateStatus(name))
        }
        (&Method::PATCH, Some(name), Some("status")) if served.name == "pods" => {
            write(Write::PatchStatus(name))
        }
        (&Method::GET, Some(name), Some("log")) if served.name == "pods" => {
            logs::log(server, req, target, name)
        }
        _ => Err(Status::method_not_allowed(req.method.as_str(), &req.path)),
    }
}

/// A namespaced resource outside `namespaces/<ns>/` is the list across
/// all namespaces (no name allowed); a cluster-scoped one has no
/// namespace.
fn check_scope(served: &Resource, target: &Target) -> Result<(), Status> {
    match (served.namespaced, &target.namespace, &target.name) {
        (true, None, Some(_)) | (false, Some(_), _) => Err(Status::no_route()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: Option<&str>, resource: &str, name: Option<&str>, sub: Option<&str>) -> Route {
        Route::Resource(Target {
            group: String::new(),
            version: "v1".into(),
            namespace: ns.map(String::from),
            resource: resource.into(),
            name: name.map(String::from),
            subresource: sub.map(String::from),
        })
    }

    #[test]
    fn urls_read_as_the_api_servers() {
        assert_eq!(parse("/version"), Some(Route::Version));
        assert_eq!(parse("/api"), Some(Route::Api));
        assert_eq!(parse("/api/"), Some(Route::Api));
        assert_eq!(parse("/apis"), Some(Route::Apis));
        assert_eq!(parse("/api/v1/pods"), Some(t(None, "pods", None, None)));
        assert_eq!(
            parse("/api/v1/namespaces/default/pods"),
            Some(t(Some("default"), "pods", None, None))
        );
        assert_eq!(
            parse("/api/v1/namespaces/default/pods/web/log"),
            Some(t(Some("default"), "pods", Some("web"), Some("log")))
        );
        assert_eq!(
            parse("/api/v1/namespaces/kube-system"),
            Some(t(None, "namespaces", Some("kube-system"), None))
        );
        assert_eq!(
            parse("/api/v1/namespaces/x/status"),
            Some(t(None, "namespaces", Some("x"), Some("status")))
        );
        assert_eq!(
            parse("/api/v1/nodes/n1"),
            Some(t(None, "nodes", Some("n1"), None))
        );
        assert_eq!(
            parse("/apis/events.k8s.io/v1/namespaces/a/events"),
            Some(Route::Resource(Target {
                group: "events.k8s.io".into(),
                version: "v1".into(),
                namespace: Some("a".into()),
                resource: "events".into(),
                name: None,
                subresource: None,
            }))
        );
        assert_eq!(
            parse("/apis/events.k8s.io/v1"),
            Some(Route::GroupVersion {
                group: "events.k8s.io".into(),
                version: "v1".into()
            })
        );
        assert_eq!(
            parse("/openapi/v3/api/v1"),
            Some(Route::OpenApiV3(Some("api/v1".into())))
        );
        for bad in [
            "/",
            "/api/v2/x/y/z/w/q",
            "//api",
            "/api/v1/namespaces/a/pods/b/c/d",
            "/x",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
