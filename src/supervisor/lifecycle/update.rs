//! The pod's record read again at every check (2 s): whether the store
//! still holds this pod, and the images it names now. A container image
//! is the one field of a running pod's containers an update may change
//! (through the API, `kubectl set image`); as the kubelet does when a
//! container's definition changes, the container is killed ("Container
//! <name> definition changed, will be restarted") and created again
//! with the new image, counting a restart, whatever the restart policy.

use serde::Deserialize;

use super::Supervisor;

/// What the check decodes of the record: only this, since it runs
/// every 2 s in every pod and a whole Pod cost CPU time and a deep stack
/// each time.
#[derive(Deserialize)]
struct Record {
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize)]
struct Metadata {
    uid: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    containers: Vec<Named>,
    #[serde(default)]
    init_containers: Vec<Named>,
}

/// A container's name and image in the record.
#[derive(Deserialize)]
pub(super) struct Named {
    name: String,
    image: Option<String>,
}

impl Supervisor {
    /// The images of the containers, if the store still holds this pod
    /// (this uid under its name). A record this build cannot read (torn,
    /// or of a newer format) may still be this pod's: it names none.
    pub(super) fn stored_images(&self) -> Option<Vec<Named>> {
        let pod_json = self
            .store
            .pod_dir(&self.namespace, &self.name)
            .join("pod.json");
        match crate::store::read_small_file(&pod_json) {
            Ok(bytes) if crate::store::format::check(&pod_json, &bytes).is_err() => {
                Some(Vec::new())
            }
            Ok(bytes) => match serde_json::from_slice::<Record>(&bytes) {
                Ok(r) if r.metadata.uid.as_deref() != Some(self.uid.as_str()) => None,
                Ok(mut r) => {
                    r.spec.init_containers.append(&mut r.spec.containers);
                    Some(r.spec.init_containers)
                }
                Err(_) => Some(Vec::new()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => Some(Vec::new()),
        }
    }

    /// Takes the images the record names now: a container whose image
    /// changed is marked, and the decision stops it and starts it again
    /// (`decide::Why::DefinitionChanged`); its next start resolves (and
    /// pulls, per its pull policy) the new image.
    pub(super) fn take_images(&mut self, images: Vec<Named>) {
        for named in images {
            let Some(image) = named.image.filter(|i| !i.is_empty()) else {
                continue;
            };
            let Some(slot) = self.slots.iter_mut().find(|s| s.spec.name == named.name) else {
                continue;
            };
            if slot.spec.image.as_deref() == Some(image.as_str()) {
                continue;
            }
            slot.spec.image = Some(image.clone());
            slot.image = None;
            slot.changed = true;
            let spec_containers = self
                .spec
                .containers
                .iter_mut()
                .chain(self.spec.init_containers.iter_mut().flatten());
            for c in spec_containers.filter(|c| c.name == named.name) {
                c.image = Some(image.clone());
            }
        }
    }
}
