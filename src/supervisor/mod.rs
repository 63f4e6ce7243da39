//! The per-pod supervisor: the kubelet half of `pod`.
//!
//! TODO(supervisor): everything; until then pods are stored and stay
//! Pending.

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;

use crate::store::Store;

/// How `delete` ends a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// terminationGracePeriodSeconds of the pod.
    PodDefault,
    /// This many seconds (kubectl's --grace-period).
    Grace(u64),
    /// --force --grace-period=0: kill at once, do not wait.
    Immediate,
}

/// Starts the supervisor of a freshly stored pod.
pub fn launch(_store: &Store, _pod: &Pod) -> Result<()> {
    Ok(())
}

/// Stops a pod and removes everything it left.
pub fn delete(store: &Store, pod: &Pod, _how: Termination, _wait: bool) -> Result<()> {
    let meta = &pod.metadata;
    store.remove(
        crate::api::Kind::Pod,
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )?;
    Ok(())
}
