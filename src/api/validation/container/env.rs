//! A container's environment: `ValidateEnv`, `ValidateEnvFrom` and the
//! downward-API selectors they share with volumes.

use k8s_openapi::api::core::v1::{
    EnvFromSource, EnvVar, ObjectFieldSelector, ResourceFieldSelector,
};

use super::validate_quantity;
use crate::api::quantity::Quantity;
use crate::api::validation::{Errors, Path, names};

const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `ValidateEnv`
pub fn validate_env(env: &[EnvVar], path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (i, var) in env.iter().enumerate() {
        let idx = path.index(i);
        if var.name.is_empty() {
            errs.required(&idx.child("name"));
        } else {
            errs.check(
                &idx.child("name"),
                &var.name,
                names::env_var_name(&var.name),
            );
        }
        let Some(source) = var.value_from.as_ref() else {
            continue;
        };
        let vp = idx.child("valueFrom");
        let mut count = 0;
        if let Some(field_ref) = source.field_ref.as_ref() {
            count += 1;
            validate_field_ref(
                &mut errs,
                field_ref,
                &ENV_FIELD_PATHS,
                &vp.child("fieldRef"),
            );
        }
        if let Some(resource_ref) = source.resource_field_ref.as_ref() {
            count += 1;
            validate_resource_ref(
                &mut errs,
                resource_ref,
                false,
                &vp.child("resourceFieldRef"),
            );
        }
        if let Some(selector) = source.config_map_key_ref.as_ref() {
            count += 1;
            validate_key_selector(
                &mut errs,
                &selector.name,
                &selector.key,
                &vp.child("configMapKeyRef"),
            );
        }
        if let Some(selector) = source.secret_key_ref.as_ref() {
            count += 1;
            validate_key_selector(
                &mut errs,
                &selector.name,
                &selector.key,
                &vp.child("secretKeyRef"),
            );
        }
        if let Some(selector) = source.file_key_ref.as_ref() {
            count += 1;
            let fp = vp.child("fileKeyRef");
            if selector.volume_name.is_empty() {
                errs.required(&fp.child("volumeName"));
            }
            if selector.path.is_empty() {
                errs.required(&fp.child("path"));
            }
            if selector.key.is_empty() {
                errs.required(&fp.child("key"));
            }
        }
        if count == 0 {
            errs.invalid(&vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
        } else if var.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errs.invalid(&vp, "", "may not be specified when `value` is not empty");
        } else if count > 1 {
            errs.invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            );
        }
    }
    errs
}

fn validate_key_selector(errs: &mut Errors, name: &str, key: &str, path: &Path) {
    errs.check(&path.child("name"), name, names::dns1123_subdomain(name));
    if key.is_empty() {
        errs.required(&path.child("key"));
    } else {
        errs.check(&path.child("key"), key, names::config_key(key));
    }
}

/// `validateObjectFieldSelector`
pub fn validate_field_ref(
    errs: &mut Errors,
    field_ref: &ObjectFieldSelector,
    allowed: &[&str],
    path: &Path,
) {
    if field_ref.api_version.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("apiVersion"));
        return;
    }
    if field_ref.field_path.is_empty() {
        errs.required(&path.child("fieldPath"));
        return;
    }
    let field_path = field_ref.field_path.as_str();
    // `metadata.labels['key']`: a subscript names one label or annotation.
    if let Some((base, rest)) = field_path.split_once("['")
        && let Some(subscript) = rest.strip_suffix("']")
    {
        match base {
            "metadata.annotations" => errs.check(
                path,
                subscript,
                names::qualified_name(&subscript.to_lowercase()),
            ),
            "metadata.labels" => errs.check(path, subscript, names::qualified_name(subscript)),
            _ => errs.invalid(path, base, "does not support subscript"),
        }
        return;
    }
    if !allowed.contains(&field_path) {
        errs.not_supported(&path.child("fieldPath"), field_path, allowed);
    }
}

/// `validateContainerResourceFieldSelector`
pub fn validate_resource_ref(
    errs: &mut Errors,
    selector: &ResourceFieldSelector,
    in_volume: bool,
    path: &Path,
) {
    let resource = selector.resource.as_str();
    if in_volume && selector.container_name.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("containerName"));
    } else if resource.is_empty() {
        errs.required(&path.child("resource"));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.not_supported(&path.child("resource"), resource, &RESOURCE_FIELD_PATHS);
    }
    let Some(divisor) = selector.divisor.as_ref() else {
        return;
    };
    let Ok(parsed) = Quantity::parse(&divisor.0) else {
        validate_quantity(errs, &path.child("divisor"), &divisor.0);
        return;
    };
    if parsed.is_zero() {
        return;
    }
    let canonical = parsed.canonical();
    let (allowed, message): (&[&str], &str) = match resource.rsplit('.').next().unwrap_or("") {
        "cpu" => (
            &["1m", "1"],
            "only divisor's values 1m and 1 are supported with the cpu resource",
        ),
        "memory" | "ephemeral-storage" => (
            &[
                "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
            ],
            if resource.ends_with("memory") {
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"
            } else {
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"
            },
        ),
        _ => return,
    };
    if !allowed
        .iter()
        .any(|a| Quantity::parse(a).is_ok_and(|q| q == parsed))
    {
        errs.invalid(&path.child("divisor"), canonical, message);
    }
}

/// `ValidateEnvFrom`
pub fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (i, source) in sources.iter().enumerate() {
        let idx = path.index(i);
        if let Some(prefix) = source.prefix.as_deref().filter(|p| !p.is_empty()) {
            errs.check(&idx.child("prefix"), prefix, names::env_var_name(prefix));
        }
        let mut count = 0;
        if let Some(config_map) = source.config_map_ref.as_ref() {
            count += 1;
            errs.check(
                &idx.child("configMapRef").child("name"),
                &config_map.name,
                names::dns1123_subdomain(&config_map.name),
            );
        }
        if let Some(secret) = source.secret_ref.as_ref() {
            count += 1;
            errs.check(
                &idx.child("secretRef").child("name"),
                &secret.name,
                names::dns1123_subdomain(&secret.name),
            );
        }
        match count {
            0 => errs.invalid(
                &idx,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ),
            1 => {}
            _ => errs.invalid(
                &idx,
                "",
                "may not have more than one field specified at a time",
            ),
        }
    }
    errs
}
