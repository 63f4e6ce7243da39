//! ConfigMaps and Secrets: `ValidateConfigMap`, `ValidateSecret`.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::meta::validate_object_meta;
use super::{Path, names};
use crate::api::FieldError;
use crate::api::field::{BadValue, ErrorType};

/// `MaxSecretSize`, also the limit for ConfigMaps.
const MAX_SIZE: usize = 1024 * 1024;

fn too_long(path: &Path) -> FieldError {
    FieldError::new(
        ErrorType::TooLong,
        path,
        BadValue::None,
        format!("may not be more than {MAX_SIZE} bytes"),
    )
}

pub fn validate_config_map(config_map: &ConfigMap) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&config_map.metadata, names::dns1123_subdomain);
    let data_path = Path::new("data");
    let binary_path = Path::new("binaryData");
    let mut total = 0;
    for (key, value) in config_map.data.iter().flatten() {
        errs.check(&data_path.key(key), key, names::config_key(key));
        total += value.len();
    }
    for (key, value) in config_map.binary_data.iter().flatten() {
        errs.check(&binary_path.key(key), key, names::config_key(key));
        if config_map
            .data
            .as_ref()
            .is_some_and(|d| d.contains_key(key))
        {
            errs.invalid(
                &binary_path.key(key),
                key,
                "duplicate of key present in data",
            );
        }
        total += value.0.len();
    }
    if total > MAX_SIZE {
        errs.push(too_long(&Path::new("")));
    }
    errs.into_vec()
}

pub fn validate_secret(secret: &Secret) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&secret.metadata, names::dns1123_subdomain);
    let data_path = Path::new("data");
    let data = secret.data.clone().unwrap_or_default();
    let mut total = 0;
    for (key, value) in &data {
        errs.check(&data_path.key(key), key, names::config_key(key));
        total += value.0.len();
    }
    if total > MAX_SIZE {
        errs.push(too_long(&data_path));
    }
    let has = |key: &str| data.contains_key(key);
    match secret.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let named = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .is_some_and(|v| !v.is_empty());
            if !named {
                errs.required(
                    &Path::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                );
            }
        }
        kind @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if kind.ends_with("json") {
                ".dockerconfigjson"
            } else {
                ".dockercfg"
            };
            match data.get(key) {
                None => errs.required(&data_path.key(key)),
                Some(bytes) => {
                    if let Err(e) = serde_json::from_slice::<
                        serde_json::Map<String, serde_json::Value>,
                    >(&bytes.0)
                    {
                        errs.invalid(
                            &data_path.key(key),
                            "<secret contents redacted>",
                            e.to_string(),
                        );
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.required(&data_path.key("username"));
            errs.required(&data_path.key("password"));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            errs.required(&data_path.key("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.required(&data_path.key(key));
                }
            }
        }
        _ => {}
    }
    errs.into_vec()
}
