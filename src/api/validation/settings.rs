//! Namespaces (`ValidateNamespace`) and PodPresets (the removed
//! pkg/apis/settings/validation `ValidatePodPreset`, Kubernetes 1.19).

use k8s_openapi::api::core::v1::Namespace;

use super::meta::validate_meta;
use super::volumes::validate_volumes;
use super::{Path, affinity, container, names};
use crate::api::FieldError;
use crate::api::podpreset::PodPreset;

pub fn validate_namespace(ns: &Namespace) -> Vec<FieldError> {
    let mut errs = validate_meta(&ns.metadata, false, names::dns1123_label);
    let path = Path::new("spec").child("finalizers");
    for (i, finalizer) in ns
        .spec
        .iter()
        .flat_map(|s| s.finalizers.iter().flatten())
        .enumerate()
    {
        errs.check(&path.index(i), finalizer, names::qualified_name(finalizer));
    }
    errs.into_vec()
}

pub fn validate_pod_preset(preset: &PodPreset) -> Vec<FieldError> {
    let mut errs = validate_meta(&preset.metadata, true, names::dns1123_subdomain);
    let spec = preset.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    affinity::validate_label_selector(
        &mut errs,
        &spec.selector.clone().unwrap_or_default(),
        &path.child("selector"),
    );
    if spec.env.is_none()
        && spec.env_from.is_none()
        && spec.volume_mounts.is_none()
        && spec.volumes.is_none()
    {
        // The old API's path, four children deep.
        errs.required_because(
            &path
                .child("volumes")
                .child("env")
                .child("envFrom")
                .child("volumeMounts"),
            "must specify at least one",
        );
    }
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let (valid, volume_errs) = validate_volumes(volumes, &path.child("volumes"));
    errs.extend(volume_errs);
    errs.extend(container::validate_env(
        spec.env.as_deref().unwrap_or_default(),
        &path.child("env"),
    ));
    errs.extend(container::validate_env_from(
        spec.env_from.as_deref().unwrap_or_default(),
        &path.child("envFrom"),
    ));
    errs.extend(container::validate_mounts(
        spec.volume_mounts.as_deref().unwrap_or_default(),
        &valid,
        None,
        &path.child("volumeMounts"),
    ));
    errs.into_vec()
}
