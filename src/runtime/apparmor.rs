//! AppArmor for containers: the profile a container asks for
//! (`securityContext.appArmorProfile`, the container's, else the
//! deprecated annotation, else the pod's) and, where the host enforces
//! AppArmor, its application: the profile name written to the process's
//! `attr/exec` just before `execve`, as runc does. RuntimeDefault is
//! pod's own default profile ([`DEFAULT_PROFILE`]), loaded with
//! `apparmor_parser` the first time it is needed, as containerd loads
//! its `cri-containerd.apparmor.d`.
//!
//! Where the host has no AppArmor, a confining profile is never run
//! unconfined: the kubelet's admission refuses such a pod (see
//! `node::admission`), and a container reaching here anyway is refused
//! with the same words.

use std::io::Write;
use std::path::Path;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::node::admission::{APPARMOR_ANNOTATION_PREFIX, apparmor_enabled};

/// The name of pod's RuntimeDefault profile.
pub const DEFAULT_PROFILE: &str = "pod-default";

/// What a container asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Unconfined,
    RuntimeDefault,
    Localhost(String),
}

/// The container's AppArmor profile as the kubelet reads it.
pub fn choose(pod: &Pod, container: &Container) -> Choice {
    let field = |p: &k8s_openapi::api::core::v1::AppArmorProfile| match p.type_.as_str() {
        "Unconfined" => Choice::Unconfined,
        "Localhost" => Choice::Localhost(p.localhost_profile.clone().unwrap_or_default()),
        _ => Choice::RuntimeDefault,
    };
    if let Some(p) = container
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.as_ref())
    {
        return field(p);
    }
    let key = format!("{APPARMOR_ANNOTATION_PREFIX}{}", container.name);
    if let Some(value) = pod.metadata.annotations.as_ref().and_then(|a| a.get(&key)) {
        return match value.as_str() {
            "unconfined" => Choice::Unconfined,
            v => match v.strip_prefix("localhost/") {
                Some(name) => Choice::Localhost(name.to_string()),
                None => Choice::RuntimeDefault,
            },
        };
    }
    pod.spec
        .as_ref()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|s| s.app_armor_profile.as_ref())
        .map_or(Choice::Unconfined, field)
}

/// The profile to execute the container's program under (None:
/// unconfined), or why the container cannot start.
pub fn profile(choice: &Choice, privileged: bool) -> Result<Option<String>, String> {
    let wanted = match choice {
        Choice::Unconfined => return Ok(None),
        // containerd leaves privileged containers unconfined by default.
        Choice::RuntimeDefault if privileged => return Ok(None),
        Choice::RuntimeDefault => DEFAULT_PROFILE.to_string(),
        Choice::Localhost(name) => name.clone(),
    };
    if !apparmor_enabled() {
        return Err("Cannot enforce AppArmor: AppArmor is not enabled on the host".into());
    }
    if !loaded(&wanted) {
        if *choice == Choice::RuntimeDefault {
            load_default()?;
        } else {
            return Err(format!(
                "Cannot enforce AppArmor: profile {wanted:?} is not loaded"
            ));
        }
    }
    Ok(Some(wanted))
}

/// Whether the kernel has a profile of this name (`name (mode)` lines).
fn loaded(name: &str) -> bool {
    std::fs::read_to_string("/sys/kernel/security/apparmor/profiles").is_ok_and(|text| {
        text.lines()
            .filter_map(|l| l.rfind(" (").map(|i| &l[..i]))
            .any(|n| n == name)
    })
}

/// pod's default profile, in the spirit of containerd's: everything a
/// container normally does, minus writes to the kernel's knobs, mounts and
/// ptrace of anything outside the profile.
const DEFAULT_TEXT: &str = r#"#include <tunables/global>

profile pod-default flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>

  network,
  capability,
  file,
  umount,
  signal (receive) peer=unconfined,
  signal (send,receive) peer=pod-default,

  deny @{PROC}/* w,
  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,
  deny @{PROC}/sys/[^k]** w,
  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,

  deny mount,

  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/devices/virtual/powercap/** rwklx,
  deny /sys/kernel/security/** rwklx,

  ptrace (trace,read,tracedby,readby) peer=pod-default,
}
"#;

/// Loads [`DEFAULT_TEXT`] with apparmor_parser.
fn load_default() -> Result<(), String> {
    let fail = |why: String| {
        format!("Cannot enforce AppArmor: loading profile {DEFAULT_PROFILE:?}: {why}")
    };
    let mut child = std::process::Command::new("apparmor_parser")
        .args(["-Kr"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("running apparmor_parser: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(DEFAULT_TEXT.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// Makes the next `execve` of this thread enter `profile` (runc's
/// `changeOnExec`), written through the container's procfs checked to be
/// one (see [`super::procfs`]).
pub fn exec_under(profile: &str) -> std::io::Result<()> {
    exec_under_in(Path::new("/proc"), profile)
}

fn exec_under_in(proc: &Path, profile: &str) -> std::io::Result<()> {
    let root = super::procfs::ProcRoot::open(proc)?;
    // The AppArmor-specific file where the kernel stacks LSMs (5.8+),
    // else the shared one.
    let mut file = match root.open_write("thread-self/attr/apparmor/exec") {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            root.open_write("thread-self/attr/exec")?
        }
        other => other?,
    };
    file.write_all(format!("exec {profile}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_field_then_annotation_then_pod_field() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "annotations": {
                "container.apparmor.security.beta.kubernetes.io/annotated": "localhost/k8s-x",
            }},
            "spec": {
                "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {"name": "own", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
                    {"name": "annotated"},
                    {"name": "plain"},
                ],
            },
        }))
        .unwrap();
        let cs = &pod.spec.as_ref().unwrap().containers;
        assert_eq!(choose(&pod, &cs[0]), Choice::Unconfined);
        assert_eq!(choose(&pod, &cs[1]), Choice::Localhost("k8s-x".into()));
        assert_eq!(choose(&pod, &cs[2]), Choice::RuntimeDefault);
        assert_eq!(profile(&Choice::Unconfined, false), Ok(None));
        assert_eq!(profile(&Choice::RuntimeDefault, true), Ok(None));
        if !apparmor_enabled() {
            // The write itself cannot run without AppArmor; its way there
            // can: a /proc that is not procfs is refused before any write.
            let fake = tempfile::tempdir().unwrap();
            let attr = fake.path().join("thread-self/attr/apparmor");
            std::fs::create_dir_all(&attr).unwrap();
            std::fs::write(attr.join("exec"), "").unwrap();
            let err = exec_under_in(fake.path(), "k8s-x").unwrap_err();
            assert!(err.to_string().ends_with("is not a procfs"), "{err}");
            assert_eq!(std::fs::read(attr.join("exec")).unwrap(), b"");
            assert_eq!(
                profile(&Choice::Localhost("k8s-x".into()), false),
                Err("Cannot enforce AppArmor: AppArmor is not enabled on the host".into())
            );
        }
    }
}
