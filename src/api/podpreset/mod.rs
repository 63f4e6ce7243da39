//! The PodPreset kind (settings.k8s.io/v1alpha1). Kubernetes removed it
//! in 1.20 and k8s-openapi has no type for it, so the old API's fields are
//! declared here: a label selector choosing pods, and the env, envFrom,
//! volumes and volume mounts the PodPreset admission plugin merges into
//! them (see `api::admission::podpreset`).

use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

pub const API_VERSION: &str = "settings.k8s.io/v1alpha1";
pub const KIND: &str = "PodPreset";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodPreset {
    /// Always `settings.k8s.io/v1alpha1` once decoded.
    #[serde(default)]
    pub api_version: String,
    /// Always `PodPreset` once decoded.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PodPresetSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodPresetSpec {
    /// The pods the preset applies to; an empty selector matches every
    /// pod of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Vec<EnvFromSource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount>>,
}

mod admission;

pub use admission::{Admission, admit};
