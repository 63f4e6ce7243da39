//! Discovery as the API server serves it: `/version`, `/api`, `/apis`,
//! each group version's `APIResourceList`, and the aggregated form
//! (`APIGroupDiscoveryList`, apidiscovery.k8s.io/v2) that kubectl 1.32
//! asks `/api` and `/apis` for first, in one request each instead of one
//! per group version. All of it is made from the `resources` table.

use serde_json::{Value, json};

use super::request::{Reply, Request};
use super::resources::{self, Resource};
use super::status::Status;

/// The media type of aggregated discovery, v2 (and v2beta1, which
/// kubectl 1.32 also accepts: same body, other version).
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The Kubernetes API level served: the k8s-openapi types' version.
pub const MAJOR: &str = "1";
pub const MINOR: &str = "37";

pub fn version() -> Result<Reply, Status> {
    let pod = env!("CARGO_PKG_VERSION");
    Ok(Reply::ok(json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": format!("v{MAJOR}.{MINOR}.0+pod-{pod}"),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("linux/{}", go_arch()),
    })))
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Whether the client asked for aggregated discovery, v2 (or v2beta1).
fn wants_aggregated(req: &Request) -> Option<&'static str> {
    let accept = req.header("accept");
    for choice in accept.split(',') {
        let params: Vec<&str> = choice.split(';').map(str::trim).collect();
        if params.contains(&"g=apidiscovery.k8s.io") && params.contains(&"as=APIGroupDiscoveryList")
        {
            if params.contains(&"v=v2") {
                return Some(AGGREGATED);
            }
            if params.contains(&"v=v2beta1") {
                return Some(
                    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
                );
            }
        }
        // The first acceptable choice wins, as the API server negotiates.
        if params
            .first()
            .is_some_and(|t| *t == "application/json" || *t == "*/*")
            && params.len() == 1
        {
            return None;
        }
    }
    None
}

/// `/api`: the core group's one version, or its aggregated document.
pub fn api(req: &Request) -> Result<Reply, Status> {
    if let Some(content_type) = wants_aggregated(req) {
        return Ok(aggregated(content_type, &[("", "v1")]));
    }
    Ok(Reply::ok(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": ""}
        ],
    })))
}

/// `/apis`: the other groups, or their aggregated document.
pub fn apis(req: &Request) -> Result<Reply, Status> {
    let groups = resources::groups();
    if let Some(content_type) = wants_aggregated(req) {
        return Ok(aggregated(content_type, &groups));
    }
    Ok(Reply::ok(json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups.iter().map(|(g, v)| api_group(g, v)).collect::<Vec<_>>(),
    })))
}

/// `/apis/<group>`.
pub fn group(name: &str) -> Result<Reply, Status> {
    let Some((g, v)) = resources::groups().into_iter().find(|(g, _)| *g == name) else {
        return Err(Status::no_route());
    };
    let mut body = api_group(g, v);
    body["kind"] = "APIGroup".into();
    body["apiVersion"] = "v1".into();
    Ok(Reply::ok(body))
}

fn api_group(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({
        "name": group,
        "versions": [gv.clone()],
        "preferredVersion": gv,
    })
}

/// `/api/v1`, `/apis/<group>/<version>`: the `APIResourceList`.
pub fn resource_list(group: &str, version: &str) -> Result<Reply, Status> {
    let served: Vec<&Resource> = resources::of(group, version).collect();
    if served.is_empty() {
        return Err(Status::no_route());
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut list = Vec::new();
    for r in served {
        let mut entry = json!({
            "name": r.name,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        list.push(entry);
        for sub in r.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", r.name, sub.name),
                "singularName": "",
                "namespaced": r.namespaced,
            });
            if let Some((group, version)) = sub.group_version {
                entry["group"] = json!(group);
                entry["version"] = json!(version);
            }
            entry["kind"] = json!(sub.kind);
            entry["verbs"] = json!(sub.verbs);
            list.push(entry);
        }
    }
    Ok(Reply::ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": list,
    })))
}

/// The aggregated document of `groups` (core is `("", "v1")`).
fn aggregated(content_type: &'static str, groups: &[(&str, &str)]) -> Reply {
    let api_version = if content_type.contains("v=v2beta1") {
        "apidiscovery.k8s.io/v2beta1"
    } else {
        "apidiscovery.k8s.io/v2"
    };
    let items: Vec<Value> = groups
        .iter()
        .map(|(group, version)| {
            let resources: Vec<Value> = resources::of(group, version)
                .map(aggregated_resource)
                .collect();
            let mut metadata = json!({"creationTimestamp": null});
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            json!({
                "metadata": metadata,
                "versions": [{
                    "version": version,
                    "resources": resources,
                    "freshness": "Current",
                }],
            })
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": api_version,
        "metadata": {},
        "items": items,
    });
    Reply::Bytes {
        code: 200,
        content_type,
        body: serde_json::to_vec(&body)
            .expect("JSON values serialize")
            .into(),
    }
}

fn aggregated_resource(r: &Resource) -> Value {
    let mut entry = json!({
        "resource": r.name,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    if !r.subresources.is_empty() {
        entry["subresources"] = r
            .subresources
            .iter()
            .map(|s| {
                let (group, version) = s.group_version.unwrap_or((r.group, r.version));
                json!({
                    "subresource": s.name,
                    "responseKind": {"group": group, "version": version, "kind": s.kind},
                    "verbs": s.verbs,
                })
            })
            .collect();
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::request::User;

    fn request(accept: &str) -> Request {
        let mut headers = http::HeaderMap::new();
        headers.insert("accept", accept.parse().unwrap());
        Request {
            method: http::Method::GET,
            path: "/api".into(),
            query: Vec::new(),
            headers,
            body: Default::default(),
            user: User {
                name: "u".into(),
                groups: Vec::new(),
            },
        }
    }

    #[test]
    fn kubectls_accept_gets_the_aggregated_form() {
        // What kubectl 1.32 sends first (seen with -v=8).
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(wants_aggregated(&request(kubectl)), Some(AGGREGATED));
        assert_eq!(wants_aggregated(&request("application/json")), None);
        assert_eq!(wants_aggregated(&request("")), None);
        let Ok(Reply::Bytes { body, .. }) = api(&request(kubectl)) else {
            panic!("not aggregated")
        };
        let body: Value = serde_json::from_slice(&body).unwrap();
        let pods = &body["items"][0]["versions"][0]["resources"][0];
        assert_eq!(pods["resource"], "pods");
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["shortNames"], json!(["po"]));
    }

    #[test]
    fn the_pods_subresources_are_listed_as_the_api_server_lists_them() {
        // kube-apiserver 1.32's /api/v1, for the subresources served here.
        let Ok(Reply::Json { body, .. }) = resource_list("", "v1") else {
            panic!("no list")
        };
        let subs: Vec<(String, String, Value)> = body["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                let name = r["name"].as_str()?.strip_prefix("pods/")?;
                Some((name.into(), r["kind"].as_str()?.into(), r["verbs"].clone()))
            })
            .collect();
        let expected = [
            ("attach", "PodAttachOptions", json!(["create", "get"])),
            ("eviction", "Eviction", json!(["create"])),
            ("exec", "PodExecOptions", json!(["create", "get"])),
            ("log", "Pod", json!(["get"])),
            (
                "portforward",
                "PodPortForwardOptions",
                json!(["create", "get"]),
            ),
            ("status", "Pod", json!(["get", "patch", "update"])),
        ];
        let expected: Vec<(String, String, Value)> = expected
            .into_iter()
            .map(|(n, k, v)| (n.into(), k.into(), v))
            .collect();
        assert_eq!(subs, expected);
    }
}
