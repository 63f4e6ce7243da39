//! The kubelet's admission of the pod (see `node::admission`): before
//! anything of it is created, once it is bound to the node. A refused pod
//! ends at once, Failed with the handler's reason and message, and nothing
//! of it runs.

use k8s_openapi::api::core::v1::PodStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::node::admission;
use crate::store::events::Type;

use super::Supervisor;

impl Supervisor {
    pub(super) fn admit(&mut self) {
        // The configuration the supervisor read when it started.
        if let Err(rejection) = admission::admit(&self.pod, &self.node_config) {
            self.event(None, Type::Warning, &rejection.reason, &rejection.message);
            if let Err(e) = self.stage.end() {
                eprintln!("pod-supervisor: {e}");
            }
            self.rejected = Some(rejection);
        }
    }

    /// What the kubelet's `rejectPod` writes (the scheduler's condition
    /// stays), or None for an admitted pod.
    pub(super) fn rejected_status(&self) -> Option<PodStatus> {
        let rejection = self.rejected.as_ref()?;
        Some(PodStatus {
            phase: Some("Failed".into()),
            reason: Some(rejection.reason.clone()),
            message: Some(rejection.status_message()),
            conditions: Some(self.conditions.to_vec()),
            start_time: Some(Time(self.start_time)),
            qos_class: Some(crate::api::defaults::qos_class(&self.spec).into()),
            ..Default::default()
        })
    }
}
