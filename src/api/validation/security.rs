//! Security contexts: seccomp and AppArmor profiles, sysctls, ids
//! (`validatePodSpecSecurityContext`, `ValidateSecurityContext`).

use k8s_openapi::api::core::v1::{AppArmorProfile, PodSecurityContext, SeccompProfile, Sysctl};

use super::volumes::local_descending_path;
use super::{Errors, Path, names};

const PROFILE_TYPES: [&str; 3] = ["Localhost", "RuntimeDefault", "Unconfined"];

pub fn validate_pod_security_context(security: &PodSecurityContext, path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (field, value) in [
        ("runAsUser", security.run_as_user),
        ("runAsGroup", security.run_as_group),
        ("fsGroup", security.fs_group),
    ] {
        validate_id(&mut errs, &path.child(field), value);
    }
    for (i, group) in security.supplemental_groups.iter().flatten().enumerate() {
        validate_id(
            &mut errs,
            &path.child("supplementalGroups").index(i),
            Some(*group),
        );
    }
    if let Some(policy) = security.fs_group_change_policy.as_deref()
        && !matches!(policy, "OnRootMismatch" | "Always")
    {
        errs.not_supported(
            &path.child("fsGroupChangePolicy"),
            policy,
            &["OnRootMismatch", "Always"],
        );
    }
    if let Some(policy) = security.supplemental_groups_policy.as_deref()
        && !matches!(policy, "Merge" | "Strict")
    {
        errs.not_supported(
            &path.child("supplementalGroupsPolicy"),
            policy,
            &["Merge", "Strict"],
        );
    }
    validate_sysctls(
        &mut errs,
        security.sysctls.as_deref().unwrap_or(&[]),
        &path.child("sysctls"),
    );
    if let Some(profile) = security.seccomp_profile.as_ref() {
        validate_seccomp(&mut errs, profile, &path.child("seccompProfile"));
    }
    if let Some(profile) = security.app_armor_profile.as_ref() {
        validate_app_armor(&mut errs, profile, &path.child("appArmorProfile"));
    }
    errs
}

/// User and group ids: `must be between 0 and 2147483647, inclusive`.
pub fn validate_id(errs: &mut Errors, path: &Path, id: Option<i64>) {
    if let Some(id) = id
        && !(0..=i64::from(i32::MAX)).contains(&id)
    {
        errs.invalid(
            path,
            id,
            names::inclusive_range_error(0, i64::from(i32::MAX)),
        );
    }
}

/// `validateSeccompProfileField`
pub fn validate_seccomp(errs: &mut Errors, profile: &SeccompProfile, path: &Path) {
    let localhost = profile.localhost_profile.as_deref();
    validate_profile(
        errs,
        &profile.type_,
        localhost,
        "seccompProfile",
        "seccomp type",
        path,
    );
}

/// `validateAppArmorProfileField`
pub fn validate_app_armor(errs: &mut Errors, profile: &AppArmorProfile, path: &Path) {
    let localhost = profile.localhost_profile.as_deref();
    validate_profile(
        errs,
        &profile.type_,
        localhost,
        "appArmorProfile",
        "AppArmor type",
        path,
    );
}

/// What the two profile fields share: a known type, and a localhost
/// profile exactly when the type is Localhost. `field` and `type_name`
/// are the names the server's messages use.
fn validate_profile(
    errs: &mut Errors,
    type_: &str,
    localhost: Option<&str>,
    field: &str,
    type_name: &str,
    path: &Path,
) {
    match type_ {
        "" => errs.required_because(
            &path.child("type"),
            &format!("type is required when {field} is set"),
        ),
        kind if !PROFILE_TYPES.contains(&kind) => {
            errs.not_supported(&path.child("type"), kind, &PROFILE_TYPES)
        }
        _ => {}
    }
    validate_localhost_profile(errs, type_, localhost, type_name, path);
}

fn validate_localhost_profile(
    errs: &mut Errors,
    kind: &str,
    localhost: Option<&str>,
    what: &str,
    path: &Path,
) {
    let field = path.child("localhostProfile");
    match (kind == "Localhost", localhost) {
        (true, None) => {
            errs.required_because(&field, &format!("must be set when {what} is Localhost"))
        }
        (true, Some(profile)) => errs.extend(local_descending_path(profile, &field)),
        (false, Some(profile)) => {
            errs.invalid(
                &field,
                profile,
                format!("can only be set when {what} is Localhost"),
            );
        }
        (false, None) => {}
    }
}

/// `validateSysctls`: names like `net.ipv4.ip_local_port_range`, each once.
fn validate_sysctls(errs: &mut Errors, sysctls: &[Sysctl], path: &Path) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, sysctl) in sysctls.iter().enumerate() {
        let name_path = path.index(i).child("name");
        if sysctl.name.is_empty() {
            errs.required(&name_path);
        } else if !is_sysctl_name(&sysctl.name) {
            errs.invalid(
                &name_path,
                sysctl.name.as_str(),
                r"must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            );
        }
        // `kernel.shm_rmid_forced` and `kernel/shm_rmid_forced` are one.
        if !seen.insert(sysctl.name.replace('/', ".")) {
            errs.duplicate(&name_path, sysctl.name.as_str());
        }
    }
}

fn is_sysctl_name(name: &str) -> bool {
    let segment = |s: &str| {
        let b = s.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-' || c == b'_')
    };
    name.len() <= 253 && name.split(['.', '/']).all(segment)
}
