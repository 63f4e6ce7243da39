//! What a configMap, secret, downwardAPI or projected volume shows: its
//! payload of files, each with its mode, gathered from the stored objects
//! and the pod.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Volume, VolumeProjection};

use super::atomic_writer::{validate_relative, write_atomic_dir};
use super::token::service_account_token;
use super::{Context, spec};

pub(super) fn write_payload(cx: &Context<'_>, volume: &Volume, dir: &Path) -> Result<()> {
    let mut payload = Payload::new();
    if let Some(cm) = &volume.config_map {
        let mode = cm.default_mode.unwrap_or(0o644);
        config_map_files(
            cx,
            &cm.name,
            cm.items.as_deref(),
            cm.optional,
            mode,
            &mut payload,
        )?;
    } else if let Some(secret) = &volume.secret {
        let mode = secret.default_mode.unwrap_or(0o644);
        let name = secret.secret_name.clone().unwrap_or_default();
        secret_files(
            cx,
            &name,
            secret.items.as_deref(),
            secret.optional,
            mode,
            &mut payload,
        )?;
    } else if let Some(downward) = &volume.downward_api {
        let mode = downward.default_mode.unwrap_or(0o644);
        for item in downward.items.iter().flatten() {
            downward_file(cx, item, mode, &mut payload)?;
        }
    } else if let Some(projected) = &volume.projected {
        let mode = projected.default_mode.unwrap_or(0o644);
        for source in projected.sources.iter().flatten() {
            projection(cx, source, mode, &mut payload)?;
        }
    }
    write_atomic_dir(dir, &payload, cx.fs_group())
}

/// Relative path → (content, mode).
pub(super) type Payload = BTreeMap<String, (Vec<u8>, i32)>;

fn add_item(payload: &mut Payload, path: &str, data: Vec<u8>, mode: i32) -> Result<()> {
    validate_relative(path)?;
    payload.insert(path.to_string(), (data, mode));
    Ok(())
}

fn keyed_files(
    kind: &str,
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    optional: bool,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    match items {
        None => {
            for (key, value) in data {
                add_item(payload, &key, value, default_mode)?;
            }
        }
        Some(items) => {
            for item in items {
                match data.get(&item.key) {
                    Some(value) => add_item(
                        payload,
                        &item.path,
                        value.clone(),
                        item.mode.unwrap_or(default_mode),
                    )?,
                    None if optional => {}
                    None => bail!("{kind} references non-existent config key: {}", item.key),
                }
            }
        }
    }
    Ok(())
}

fn config_map_files(
    cx: &Context<'_>,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    let optional = optional.unwrap_or(false);
    let ns = cx.namespace();
    let object = cx.store.get(crate::api::Kind::ConfigMap, ns, name)?;
    let Some(crate::api::Object::ConfigMap(cm)) = object else {
        if optional {
            return Ok(());
        }
        bail!("configmap {name:?} not found");
    };
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.unwrap_or_default() {
        data.insert(k, v.0);
    }
    keyed_files("configmap", data, items, optional, default_mode, payload)
}

fn secret_files(
    cx: &Context<'_>,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    let optional = optional.unwrap_or(false);
    let ns = cx.namespace();
    let data = spec::secret_data(cx.store, ns, name, optional).map_err(|e| anyhow!("{e}"))?;
    let Some(data) = data else {
        return Ok(());
    };
    keyed_files("secret", data, items, optional, default_mode, payload)
}

fn downward_file(
    cx: &Context<'_>,
    item: &DownwardAPIVolumeFile,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    let spec_cx = spec::Context {
        store: cx.store,
        pod: cx.pod,
        hostname: "",
        node: cx.node,
    };
    let value = if let Some(field) = &item.field_ref {
        spec::field_value(&spec_cx, &field.field_path).map_err(|e| anyhow!("{e}"))?
    } else if let Some(resource) = &item.resource_field_ref {
        let container_name = resource.container_name.as_deref().unwrap_or("");
        let container = cx
            .pod
            .spec
            .as_ref()
            .and_then(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
                    .find(|c| c.name == container_name)
            })
            .ok_or_else(|| {
                anyhow!("container {container_name:?} not found for resourceFieldRef")
            })?;
        let divisor = resource.divisor.as_ref().map(|q| q.0.as_str());
        spec::resource_value(container, &resource.resource, divisor, cx.node)
            .map_err(|e| anyhow!("{e}"))?
    } else {
        String::new()
    };
    add_item(
        payload,
        &item.path,
        value.into_bytes(),
        item.mode.unwrap_or(default_mode),
    )
}

fn projection(
    cx: &Context<'_>,
    source: &VolumeProjection,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    if let Some(cm) = &source.config_map {
        config_map_files(
            cx,
            &cm.name,
            cm.items.as_deref(),
            cm.optional,
            default_mode,
            payload,
        )?;
    }
    if let Some(secret) = &source.secret {
        secret_files(
            cx,
            &secret.name,
            secret.items.as_deref(),
            secret.optional,
            default_mode,
            payload,
        )?;
    }
    if let Some(downward) = &source.downward_api {
        for item in downward.items.iter().flatten() {
            downward_file(cx, item, default_mode, payload)?;
        }
    }
    if let Some(token) = &source.service_account_token {
        let audience = token.audience.clone().unwrap_or_default();
        let expiry = token.expiration_seconds.unwrap_or(3600).max(600);
        let jwt = service_account_token(cx, &audience, expiry)?;
        add_item(payload, &token.path, jwt.into_bytes(), default_mode)?;
    }
    if source.cluster_trust_bundle.is_some() {
        bail!("clusterTrustBundle projections are not supported");
    }
    Ok(())
}
