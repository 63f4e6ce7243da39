//! The pod's QoS class as describe shows it: the class the status records,
//! else Kubernetes' `GetPodQOS` over the spec (computed in
//! `api::defaults::qos_class`, shared with defaulting and the runtime).

use k8s_openapi::api::core::v1::Pod;

use crate::api::defaults;

/// `BestEffort`, `Burstable` or `Guaranteed`.
pub fn pod_qos_class(pod: &Pod) -> String {
    if let Some(class) = pod
        .status
        .as_ref()
        .and_then(|s| s.qos_class.as_deref())
        .filter(|c| !c.is_empty())
    {
        return class.to_string();
    }
    pod.spec
        .as_ref()
        .map_or("BestEffort", defaults::qos_class)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recorded_class_wins_then_spec() {
        let mut pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}
        ]}}))
        .unwrap();
        assert_eq!(pod_qos_class(&pod), "Guaranteed");
        pod.status = Some(serde_json::from_value(json!({"qosClass": "Burstable"})).unwrap());
        assert_eq!(pod_qos_class(&pod), "Burstable");
    }
}
