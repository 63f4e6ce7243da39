//! `ValidateVolumes`: each volume's name and its one source, and the
//! paths its files are written to.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Volume};

use super::container::{self, validate_quantity};
use super::{Errors, Path, names};
use crate::api::defaults::volume_sources;

/// The volumes that validated, by name, for the mounts to refer to; a
/// volume with errors is left out, so its mounts are reported as well.
pub type Volumes<'a> = BTreeMap<&'a str, &'a Volume>;

pub(super) fn validate_volumes<'a>(volumes: &'a [Volume], path: &Path) -> (Volumes<'a>, Errors) {
    let mut errs = Errors::default();
    let mut valid = Volumes::new();
    let mut seen = BTreeSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let idx = path.index(i);
        let mut own = validate_volume_source(volume, &idx);
        let name_path = idx.child("name");
        if volume.name.is_empty() {
            own.required(&name_path);
        } else {
            own.check(&name_path, &volume.name, names::dns1123_label(&volume.name));
        }
        if seen.contains(volume.name.as_str()) {
            own.duplicate(&name_path, &volume.name);
        }
        if own.is_empty() {
            seen.insert(volume.name.as_str());
            valid.insert(volume.name.as_str(), volume);
        } else {
            errs.extend(own);
        }
    }
    (valid, errs)
}

fn validate_volume_source(volume: &Volume, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let sources = volume_sources(volume);
    match sources.as_slice() {
        [] => errs.required_because(path, "must specify a volume type"),
        [_] => {}
        [_, more @ ..] => {
            for source in more {
                errs.forbidden(
                    &path.child(source),
                    "may not specify more than 1 volume type",
                );
            }
        }
    }
    if let Some(host_path) = volume.host_path.as_ref() {
        let hp = path.child("hostPath");
        if host_path.path.is_empty() {
            errs.required(&hp.child("path"));
        } else {
            errs.extend(no_backsteps(&host_path.path, &hp.child("path")));
            let types = [
                "",
                "BlockDevice",
                "CharDevice",
                "Directory",
                "DirectoryOrCreate",
                "File",
                "FileOrCreate",
                "Socket",
            ];
            let kind = host_path.type_.as_deref().unwrap_or("");
            if !types.contains(&kind) {
                errs.not_supported(&hp.child("type"), kind, &types);
            }
        }
    }
    if let Some(empty_dir) = volume.empty_dir.as_ref() {
        let ed = path.child("emptyDir");
        let medium = empty_dir.medium.as_deref().unwrap_or("");
        if !(medium.is_empty() || medium == "Memory" || medium.starts_with("HugePages")) {
            errs.not_supported(&ed.child("medium"), medium, &["", "Memory", "HugePages"]);
        }
        if let Some(limit) = empty_dir.size_limit.as_ref() {
            validate_quantity(&mut errs, &ed.child("sizeLimit"), &limit.0);
        }
    }
    if let Some(secret) = volume.secret.as_ref() {
        let sp = path.child("secret");
        if secret.secret_name.as_deref().unwrap_or("").is_empty() {
            errs.required(&sp.child("secretName"));
        }
        validate_mode(&mut errs, &sp.child("defaultMode"), secret.default_mode);
        validate_items(&mut errs, &sp.child("items"), secret.items.as_deref());
    }
    if let Some(config_map) = volume.config_map.as_ref() {
        let cp = path.child("configMap");
        if config_map.name.is_empty() {
            errs.required(&cp.child("name"));
        }
        validate_mode(&mut errs, &cp.child("defaultMode"), config_map.default_mode);
        validate_items(&mut errs, &cp.child("items"), config_map.items.as_deref());
    }
    if let Some(pvc) = volume.persistent_volume_claim.as_ref()
        && pvc.claim_name.is_empty()
    {
        errs.required(&path.child("persistentVolumeClaim").child("claimName"));
    }
    if let Some(downward) = volume.downward_api.as_ref() {
        let dp = path.child("downwardAPI");
        validate_mode(&mut errs, &dp.child("defaultMode"), downward.default_mode);
        validate_downward_files(&mut errs, &dp, downward.items.as_deref().unwrap_or(&[]));
    }
    if let Some(projected) = volume.projected.as_ref() {
        let pp = path.child("projected");
        validate_mode(&mut errs, &pp.child("defaultMode"), projected.default_mode);
        let mut all_paths = BTreeSet::new();
        for (i, source) in projected.sources.iter().flatten().enumerate() {
            let sp = pp.child("sources").index(i);
            let mut kinds = Vec::new();
            if let Some(secret) = source.secret.as_ref() {
                kinds.push("secret");
                if secret.name.is_empty() {
                    errs.required(&sp.child("secret").child("name"));
                }
                validate_items(
                    &mut errs,
                    &sp.child("secret").child("items"),
                    secret.items.as_deref(),
                );
                collect_paths(
                    &mut errs,
                    &mut all_paths,
                    &pp,
                    &secret.name,
                    secret.items.as_deref(),
                );
            }
            if let Some(config_map) = source.config_map.as_ref() {
                kinds.push("configMap");
                if config_map.name.is_empty() {
                    errs.required(&sp.child("configMap").child("name"));
                }
                validate_items(
                    &mut errs,
                    &sp.child("configMap").child("items"),
                    config_map.items.as_deref(),
                );
                collect_paths(
                    &mut errs,
                    &mut all_paths,
                    &pp,
                    &config_map.name,
                    config_map.items.as_deref(),
                );
            }
            if let Some(downward) = source.downward_api.as_ref() {
                kinds.push("downwardAPI");
                let files = downward.items.as_deref().unwrap_or(&[]);
                validate_downward_files(&mut errs, &sp.child("downwardAPI"), files);
                for file in files {
                    if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                        errs.invalid(&pp, file.path.as_str(), "conflicting duplicate paths");
                    }
                }
            }
            if let Some(token) = source.service_account_token.as_ref() {
                kinds.push("serviceAccountToken");
                let tp = sp.child("serviceAccountToken");
                let seconds = token.expiration_seconds.unwrap_or(3600);
                if seconds < 600 {
                    errs.invalid(
                        &tp.child("expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    );
                }
                if seconds > 1 << 32 {
                    errs.invalid(
                        &tp.child("expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    );
                }
                // The server reports the token's path at the volume's level.
                if token.path.is_empty() {
                    errs.required(&pp.child("path"));
                } else {
                    errs.extend(local_non_reserved_path(&token.path, &pp.child("path")));
                }
            }
            if source.cluster_trust_bundle.is_some() {
                kinds.push("clusterTrustBundle");
            }
            if source.pod_certificate.is_some() {
                kinds.push("podCertificate");
            }
            if kinds.len() > 1 {
                errs.forbidden(&sp, "may not specify more than 1 volume type per source");
            }
        }
    }
    if let Some(ephemeral) = volume.ephemeral.as_ref()
        && ephemeral.volume_claim_template.is_none()
    {
        errs.required(&path.child("ephemeral").child("volumeClaimTemplate"));
    }
    if let Some(image) = volume.image.as_ref()
        && image.reference.as_deref().unwrap_or("").is_empty()
    {
        errs.required(&path.child("image").child("reference"));
    }
    errs
}

/// Modes are 0..=0777 (`validateVolumeModes`).
fn validate_mode(errs: &mut Errors, path: &Path, mode: Option<i32>) {
    if let Some(mode) = mode
        && !(0..=0o777).contains(&mode)
    {
        errs.invalid(
            path,
            mode,
            "must be a number between 0 and 0777 (octal), both inclusive",
        );
    }
}

fn validate_items(errs: &mut Errors, path: &Path, items: Option<&[KeyToPath]>) {
    for (i, item) in items.unwrap_or(&[]).iter().enumerate() {
        let idx = path.index(i);
        if item.key.is_empty() {
            errs.required(&idx.child("key"));
        }
        if item.path.is_empty() {
            errs.required(&idx.child("path"));
        }
        errs.extend(local_non_reserved_path(&item.path, &idx.child("path")));
        validate_mode(errs, &idx.child("mode"), item.mode);
    }
}

/// Projected sources may not write the same path twice (the server shows
/// the source's name as the value).
fn collect_paths(
    errs: &mut Errors,
    seen: &mut BTreeSet<String>,
    path: &Path,
    source: &str,
    items: Option<&[KeyToPath]>,
) {
    for item in items.unwrap_or(&[]) {
        if !item.path.is_empty() && !seen.insert(item.path.clone()) {
            errs.invalid(path, source, "conflicting duplicate paths");
        }
    }
}

const VOLUME_FIELD_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

fn validate_downward_files(errs: &mut Errors, path: &Path, items: &[DownwardAPIVolumeFile]) {
    // The server reports these at the volume's path, without `items[i]`.
    for item in items {
        let idx = path.clone();
        if item.path.is_empty() {
            errs.required(&idx.child("path"));
        }
        errs.extend(local_non_reserved_path(&item.path, &idx.child("path")));
        validate_mode(errs, &idx.child("mode"), item.mode);
        match (item.field_ref.as_ref(), item.resource_field_ref.as_ref()) {
            (Some(_), Some(_)) => errs.invalid(
                &idx,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ),
            (Some(field_ref), None) => {
                container::validate_field_ref(
                    errs,
                    field_ref,
                    &VOLUME_FIELD_PATHS,
                    &idx.child("fieldRef"),
                );
            }
            (None, Some(resource_ref)) => {
                container::validate_resource_ref(
                    errs,
                    resource_ref,
                    true,
                    &idx.child("resourceFieldRef"),
                );
            }
            (None, None) => {
                errs.required_because(&idx, "one of fieldRef and resourceFieldRef is required")
            }
        }
    }
}

/// `validateLocalDescendingPath`
pub fn local_descending_path(target: &str, path: &Path) -> Errors {
    let mut errs = Errors::default();
    if target.starts_with('/') {
        errs.invalid(path, target, "must be a relative path");
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// `validateLocalNonReservedPath`: also may not start with `..`.
fn local_non_reserved_path(target: &str, path: &Path) -> Errors {
    let mut errs = local_descending_path(target, path);
    if target.starts_with("..") {
        errs.invalid(path, target, "must not start with '..'");
    }
    errs
}

/// `validatePathNoBacksteps`
fn no_backsteps(target: &str, path: &Path) -> Errors {
    let mut errs = Errors::default();
    if target.split('/').any(|part| part == "..") {
        errs.invalid(path, target, "must not contain '..'");
    }
    errs
}
