//! The manifest model: the Kubernetes wire types of `k8s-openapi`, decoded
//! strictly (unknown fields, duplicate keys and YAML 1.1 scalars as the API
//! server treats them), defaulted and validated with the API server's field
//! paths and messages.

pub mod decode;
pub mod defaults;
pub mod error;
pub mod field;
pub mod kind;
pub mod managed;
pub mod patch;
pub mod phase;
pub mod podpreset;
pub mod quantity;
pub mod request;
pub mod selector;
pub mod validation;
pub mod yaml11;

pub use error::ApiError;
pub use field::FieldError;
pub use kind::Kind;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// One object of a kind `pod` stores.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Pod(Box<Pod>),
    ConfigMap(ConfigMap),
    Secret(Secret),
    Namespace(Namespace),
    PodPreset(Box<podpreset::PodPreset>),
    Node(Box<Node>),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Pod(_) => Kind::Pod,
            Object::ConfigMap(_) => Kind::ConfigMap,
            Object::Secret(_) => Kind::Secret,
            Object::Namespace(_) => Kind::Namespace,
            Object::PodPreset(_) => Kind::PodPreset,
            Object::Node(_) => Kind::Node,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Pod(p) => &p.metadata,
            Object::ConfigMap(c) => &c.metadata,
            Object::Secret(s) => &s.metadata,
            Object::Namespace(n) => &n.metadata,
            Object::PodPreset(p) => &p.metadata,
            Object::Node(n) => &n.metadata,
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Pod(p) => &mut p.metadata,
            Object::ConfigMap(c) => &mut c.metadata,
            Object::Secret(s) => &mut s.metadata,
            Object::Namespace(n) => &mut n.metadata,
            Object::PodPreset(p) => &mut p.metadata,
            Object::Node(n) => &mut n.metadata,
        }
    }

    /// The object's name, or "" when the manifest gave none.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("")
    }

    /// The object's namespace, or "" when the manifest gave none.
    pub fn namespace(&self) -> &str {
        self.metadata().namespace.as_deref().unwrap_or("")
    }

    /// The object as the API server would serialize it (with apiVersion and
    /// kind), for `-o json|yaml|jsonpath`.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Object::Pod(p) => serde_json::to_value(p.as_ref()),
            Object::ConfigMap(c) => serde_json::to_value(c),
            Object::Secret(s) => serde_json::to_value(s),
            Object::Namespace(n) => serde_json::to_value(n),
            Object::PodPreset(p) => serde_json::to_value(p.as_ref()),
            Object::Node(n) => serde_json::to_value(n.as_ref()),
        };
        value.expect("API types always serialize to JSON")
    }
}
