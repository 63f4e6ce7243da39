//! The describers of the small kinds: `describeConfigMap`,
//! `describeNamespace`, `describeSecret`.

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};

use super::Describer;

impl Describer {
    pub(super) fn config_map(&mut self, cm: &ConfigMap, events: &[Event]) {
        self.w(
            0,
            &format!("Name:\t{}\n", cm.metadata.name.as_deref().unwrap_or("")),
        );
        self.w(
            0,
            &format!(
                "Namespace:\t{}\n",
                cm.metadata.namespace.as_deref().unwrap_or("")
            ),
        );
        self.labels("Labels", cm.metadata.labels.as_ref());
        self.annotations(cm.metadata.annotations.as_ref());
        self.w(0, "\nData\n====\n");
        for (k, v) in cm.data.iter().flatten() {
            self.w(0, &format!("{k}:\n----\n{v}\n"));
        }
        self.w(0, "\nBinaryData\n====\n");
        for (k, v) in cm.binary_data.iter().flatten() {
            self.w(0, &format!("{k}: {} bytes\n", v.0.len()));
        }
        self.w(0, "\n");
        self.events(events);
    }

    /// `describeNamespace`; a single node has no ResourceQuotas or
    /// LimitRanges, so both sections say there are none.
    pub(super) fn namespace(&mut self, ns: &k8s_openapi::api::core::v1::Namespace) {
        let name = ns.metadata.name.as_deref().unwrap_or("");
        self.w(0, &format!("Name:\t{name}\n"));
        self.labels("Labels", ns.metadata.labels.as_ref());
        self.annotations(ns.metadata.annotations.as_ref());
        let phase = ns.status.as_ref().and_then(|s| s.phase.as_deref());
        self.w(0, &format!("Status:\t{}\n", phase.unwrap_or("")));
        self.w(0, "\nNo resource quota.\n");
        self.w(0, "\nNo LimitRange resource.\n");
    }

    pub(super) fn secret(&mut self, secret: &Secret) {
        self.w(
            0,
            &format!("Name:\t{}\n", secret.metadata.name.as_deref().unwrap_or("")),
        );
        self.w(
            0,
            &format!(
                "Namespace:\t{}\n",
                secret.metadata.namespace.as_deref().unwrap_or("")
            ),
        );
        self.labels("Labels", secret.metadata.labels.as_ref());
        self.annotations(secret.metadata.annotations.as_ref());
        let kind = secret.type_.as_deref().unwrap_or("");
        self.w(0, &format!("\nType:\t{kind}\n"));
        self.w(0, "\nData\n====\n");
        for (k, v) in secret.data.iter().flatten() {
            if k == "token" && kind == "kubernetes.io/service-account-token" {
                self.w(0, &format!("{k}:\t{}\n", String::from_utf8_lossy(&v.0)));
            } else {
                self.w(0, &format!("{k}:\t{} bytes\n", v.0.len()));
            }
        }
    }
}
