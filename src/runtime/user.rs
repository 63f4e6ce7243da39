//! Who a container runs as: securityContext (container over pod), else the
//! image's USER resolved through the image's /etc/passwd and /etc/group;
//! runAsNonRoot enforced with the kubelet's messages.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::StartError;

/// The resolved identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// HOME unless the image or the pod sets it (runc sets it so from
    /// /etc/passwd; shells and tools run as a non-root user need it).
    pub home: String,
}

/// One line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The image database, read once per container start.
pub struct ImageAccounts {
    pub passwd: Vec<PasswdEntry>,
    pub group: Vec<GroupEntry>,
}

impl ImageAccounts {
    /// Reads the image's /etc/passwd and /etc/group; one that cannot be
    /// read safely (a FIFO, a device, too big) fails the container's
    /// configuration.
    pub fn read(layers: &[PathBuf]) -> Result<ImageAccounts, StartError> {
        let read = |path| {
            super::layers::read_file(layers, path)
                .map(Option::unwrap_or_default)
                .map_err(StartError::Config)
        };
        Ok(ImageAccounts {
            passwd: parse_passwd(&read("/etc/passwd")?),
            group: parse_group(&read("/etc/group")?),
        })
    }
}

/// Resolves the container's user (kubelet `verifyRunAsNonRoot` + containerd
/// `WithUser`/`WithAdditionalGIDs`).
pub fn resolve(
    pod: &Pod,
    container: &Container,
    image_user: &str,
    accounts: &ImageAccounts,
) -> Result<User, StartError> {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = container.security_context.as_ref();
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_sc.and_then(|s| s.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_sc.and_then(|s| s.run_as_group));
    let run_as_non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or_else(|| pod_sc.and_then(|s| s.run_as_non_root))
        .unwrap_or(false);
    let pod_label = format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    );
    let who = format!("(pod: {pod_label:?}, container: {})", container.name);

    let (user_part, group_part) = match image_user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (image_user, None),
    };

    if run_as_non_root {
        match run_as_user {
            Some(0) => {
                return Err(StartError::Config(format!(
                    "container's runAsUser breaks non-root policy {who}"
                )));
            }
            Some(_) => {}
            None if user_part.is_empty() => {
                return Err(StartError::Config(format!(
                    "container has runAsNonRoot and image will run as root {who}"
                )));
            }
            None => match user_part.parse::<u32>() {
                Ok(0) => {
                    return Err(StartError::Config(format!(
                        "container has runAsNonRoot and image will run as root {who}"
                    )));
                }
                Ok(_) => {}
                Err(_) => {
                    return Err(StartError::Config(format!(
                        "container has runAsNonRoot and image has non-numeric user ({user_part}), cannot verify user is non-root {who}"
                    )));
                }
            },
        }
    }

    // The passwd entry of the user, when the image has one: its name finds
    // the supplementary groups, its group and home are the defaults.
    let (uid, entry) = match run_as_user {
        Some(uid) => {
            let uid = id(uid, "runAsUser")?;
            (uid, accounts.passwd.iter().find(|e| e.uid == uid))
        }
        None if user_part.is_empty() => (0, accounts.passwd.iter().find(|e| e.uid == 0)),
        None => match user_part.parse::<u32>() {
            Ok(uid) => (uid, accounts.passwd.iter().find(|e| e.uid == uid)),
            Err(_) => {
                let entry = accounts
                    .passwd
                    .iter()
                    .find(|e| e.name == user_part)
                    .ok_or_else(|| {
                        StartError::Runtime(format!(
                            "unable to find user {user_part}: no matching entries in passwd file"
                        ))
                    })?;
                (entry.uid, Some(entry))
            }
        },
    };
    let name = entry.map(|e| e.name.clone());
    let mut gid = entry.map_or(0, |e| e.gid);
    if let Some(group) = group_part.filter(|g| !g.is_empty() && run_as_user.is_none()) {
        gid = match group.parse::<u32>() {
            Ok(g) => g,
            Err(_) => accounts
                .group
                .iter()
                .find(|g| g.name == group)
                .map(|g| g.gid)
                .ok_or_else(|| {
                    StartError::Runtime(format!(
                        "unable to find group {group}: no matching entries in group file"
                    ))
                })?,
        };
    }
    if let Some(g) = run_as_group {
        gid = id(g, "runAsGroup")?;
    }

    let mut additional = vec![gid];
    if let Some(name) = &name {
        additional.extend(
            accounts
                .group
                .iter()
                .filter(|g| g.members.iter().any(|m| m == name))
                .map(|g| g.gid),
        );
    }
    for g in pod_sc
        .and_then(|s| s.supplemental_groups.clone())
        .unwrap_or_default()
    {
        additional.push(id(g, "supplementalGroups")?);
    }
    if let Some(fs_group) = pod_sc.and_then(|s| s.fs_group) {
        additional.push(id(fs_group, "fsGroup")?);
    }
    let mut seen = std::collections::HashSet::new();
    additional.retain(|g| seen.insert(*g));
    Ok(User {
        uid,
        gid,
        additional_gids: additional,
        // runc's default for a user without an entry.
        home: entry.map_or_else(|| "/".to_string(), |e| e.home.clone()),
    })
}

impl User {
    /// In a `hostUsers: false` pod only ids `0..size` exist: a user or
    /// group outside them (from the securityContext or the image) cannot
    /// be taken, and setuid/setgroups would fail with EINVAL in the
    /// container's init. Refused before anything starts, as a
    /// configuration error (CreateContainerConfigError: the API server
    /// does not check the range, and runc refuses it in its own words,
    /// which this message keeps).
    pub fn check_mapped(&self, size: u32) -> Result<(), StartError> {
        let outside = |kind: &str, id: u32, what: &str| {
            StartError::Config(format!(
                "cannot set {kind} to unmapped user in user namespace: {what} {id} is outside the ids 0-{} of the pod's user namespace (hostUsers: false)",
                size - 1
            ))
        };
        if self.uid >= size {
            return Err(outside("uid", self.uid, "uid"));
        }
        if self.gid >= size {
            return Err(outside("gid", self.gid, "gid"));
        }
        if let Some(&gid) = self.additional_gids.iter().find(|&&g| g >= size) {
            return Err(outside("gid", gid, "supplementary gid"));
        }
        Ok(())
    }
}

fn id(value: i64, field: &str) -> Result<u32, StartError> {
    u32::try_from(value).map_err(|_| StartError::Config(format!("invalid {field} {value}")))
}

/// The image USER string from its config ("" when unset).
pub fn image_user(config: &oci_spec::image::ImageConfiguration) -> String {
    config
        .config()
        .as_ref()
        .and_then(|c| c.user().clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n# comment\nbad line\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root\nnginx:x:101:\nwww:x:33:nginx,other\n";

    fn pod(sc: serde_json::Value, container_sc: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u-1"},
            "spec": {"securityContext": sc, "containers": [{"name": "c", "securityContext": container_sc}]}
        }))
        .unwrap();
        let c = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, c)
    }

    fn accounts() -> ImageAccounts {
        ImageAccounts {
            passwd: parse_passwd(PASSWD),
            group: parse_group(GROUP),
        }
    }

    #[test]
    fn passwd_and_group_parse() {
        let p = parse_passwd(PASSWD);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, "nginx");
        assert_eq!(p[1].uid, 101);
        let g = parse_group(GROUP);
        assert_eq!(g[3].members, vec!["nginx", "other"]);
    }

    #[test]
    fn root_by_default_with_its_groups() {
        let (pod, c) = pod(serde_json::json!({}), serde_json::json!({}));
        let user = resolve(&pod, &c, "", &accounts()).unwrap();
        assert_eq!(
            user,
            User {
                uid: 0,
                gid: 0,
                additional_gids: vec![0, 10],
                home: "/root".into(),
            }
        );
    }

    #[test]
    fn image_user_by_name() {
        let (pod, c) = pod(serde_json::json!({}), serde_json::json!({}));
        let user = resolve(&pod, &c, "nginx", &accounts()).unwrap();
        assert_eq!(
            user,
            User {
                uid: 101,
                gid: 101,
                additional_gids: vec![101, 33],
                home: "/var/cache/nginx".into(),
            }
        );
        let user = resolve(&pod, &c, "nginx:wheel", &accounts()).unwrap();
        assert_eq!(user.gid, 10);
        let err = resolve(&pod, &c, "nobody", &accounts()).unwrap_err();
        assert!(
            err.to_string().contains("unable to find user nobody"),
            "{err}"
        );
    }

    #[test]
    fn security_context_wins_container_over_pod() {
        let (pod, c) = pod(
            serde_json::json!({"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "supplementalGroups": [4000]}),
            serde_json::json!({"runAsUser": 1001}),
        );
        let user = resolve(&pod, &c, "nginx", &accounts()).unwrap();
        assert_eq!(
            user,
            User {
                uid: 1001,
                gid: 3000,
                additional_gids: vec![3000, 4000, 2000],
                home: "/".into(),
            }
        );
    }

    #[test]
    fn run_as_non_root_messages() {
        let (pod, c) = pod(
            serde_json::json!({"runAsNonRoot": true}),
            serde_json::json!({}),
        );
        let err = resolve(&pod, &c, "", &accounts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container has runAsNonRoot and image will run as root (pod: \"p_default(u-1)\", container: c)"
        );
        let err = resolve(&pod, &c, "nginx", &accounts()).unwrap_err();
        assert!(
            err.to_string()
                .contains("image has non-numeric user (nginx)")
        );
        assert!(resolve(&pod, &c, "101", &accounts()).is_ok());
        let (pod, c) = pod_with_user_zero();
        let err = resolve(&pod, &c, "", &accounts()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("container's runAsUser breaks non-root policy")
        );
    }

    fn pod_with_user_zero() -> (Pod, Container) {
        pod(
            serde_json::json!({"runAsNonRoot": true}),
            serde_json::json!({"runAsUser": 0}),
        )
    }
}
