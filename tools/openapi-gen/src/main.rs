//! Writes src/apiserver/openapi/*.json: the components.schemas of the
//! kinds `pod serve` serves, per group version, from k8s-openapi's
//! schemas (generated from Kubernetes' own OpenAPI, descriptions
//! included), so that `kubectl explain` reads the API's words. Run again
//! when the k8s-openapi version changes:
//!
//!     cargo run --manifest-path tools/openapi-gen/Cargo.toml -- src/apiserver/openapi
//!
//! A separate package (not built with pod): it needs k8s-openapi's
//! `schemars` feature, which pod itself does not link.
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

fn defs(add: impl Fn(&mut schemars::SchemaGenerator), roots: &[(&str, &str, &str, &str)]) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    add(&mut generator);
    generator.subschema_for::<meta::ListMeta>();
    let mut out = generator.take_definitions(true);
    // k8s-openapi has one generic List; the API's lists are made here.
    for (name, group, version, kind) in roots.iter().filter(|r| r.3.ends_with("List")) {
        let item = name.trim_end_matches("List");
        out.insert(name.to_string(), json!({
            "description": format!("{kind} is a list of {}.", &kind[..kind.len() - 4]),
            "type": "object",
            "properties": {
                "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", "type": "string"},
                "items": {"description": "List of items.", "type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
                "kind": {"description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds", "type": "string"},
                "metadata": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta", "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"},
            },
            "required": ["items"],
            "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}],
        }));
    }
    for (name, group, version, kind) in roots {
        let Some(schema) = out.get_mut(*name) else { continue };
        schema["x-kubernetes-group-version-kind"] =
            json!([{"group": group, "version": version, "kind": kind}]);
    }
    out
}

fn main() {
    let dir = std::env::args().nth(1).expect("output directory");
    let core_defs = defs(
        |g| {
            g.subschema_for::<core::Pod>();
            g.subschema_for::<core::Node>();
            g.subschema_for::<core::Namespace>();
            g.subschema_for::<core::ConfigMap>();
            g.subschema_for::<core::Secret>();
            g.subschema_for::<core::Event>();
            g.subschema_for::<meta::Status>();
            g.subschema_for::<meta::DeleteOptions>();
            g.subschema_for::<meta::Patch>();
        },
        &[
            ("io.k8s.api.core.v1.Pod", "", "v1", "Pod"),
            ("io.k8s.api.core.v1.PodList", "", "v1", "PodList"),
            ("io.k8s.api.core.v1.Node", "", "v1", "Node"),
            ("io.k8s.api.core.v1.NodeList", "", "v1", "NodeList"),
            ("io.k8s.api.core.v1.Namespace", "", "v1", "Namespace"),
            ("io.k8s.api.core.v1.NamespaceList", "", "v1", "NamespaceList"),
            ("io.k8s.api.core.v1.ConfigMap", "", "v1", "ConfigMap"),
            ("io.k8s.api.core.v1.ConfigMapList", "", "v1", "ConfigMapList"),
            ("io.k8s.api.core.v1.Secret", "", "v1", "Secret"),
            ("io.k8s.api.core.v1.SecretList", "", "v1", "SecretList"),
            ("io.k8s.api.core.v1.Event", "", "v1", "Event"),
            ("io.k8s.api.core.v1.EventList", "", "v1", "EventList"),
            ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "", "v1", "Status"),
        ],
    );
    let events_defs = defs(
        |g| {
            g.subschema_for::<events::Event>();
            g.subschema_for::<meta::Status>();
            g.subschema_for::<meta::DeleteOptions>();
            g.subschema_for::<meta::Patch>();
        },
        &[
            ("io.k8s.api.events.v1.Event", "events.k8s.io", "v1", "Event"),
            ("io.k8s.api.events.v1.EventList", "events.k8s.io", "v1", "EventList"),
        ],
    );
    for (file, d) in [("api__v1.json", core_defs), ("apis__events.k8s.io__v1.json", events_defs)] {
        let text = serde_json::to_string_pretty(&Value::Object(d)).unwrap();
        std::fs::write(format!("{dir}/{file}"), text + "\n").unwrap();
    }
}
