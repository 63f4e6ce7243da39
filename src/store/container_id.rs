//! The id of one container instance in the pod's status (`containerID`,
//! `<runtime>://<64 hex>` in the shape of a CRI runtime's ids). It is made
//! from the pod's uid, the container's name and the instance (its restart
//! count), so that a reader of the status can tell which instance a
//! `lastState` is: `pod logs --previous` reads that instance's log even
//! while the next one starts and the restart count already names it.
//!
//! The ids stay unique: a pod's uid is never reused, and an instance
//! number that ran is never given again (a restart counts up; a start
//! that failed before the container ran takes its count back, but it got
//! no id).

use sha2::{Digest, Sha256};

pub fn container_id(uid: &str, name: &str, instance: u32) -> String {
    let mut h = Sha256::new();
    h.update(format!("{uid}/{name}/{instance}"));
    format!("pod://{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_names_one_instance_of_one_container_of_one_pod() {
        let id = container_id("uid", "c", 0);
        assert!(id.starts_with("pod://"));
        assert_eq!(id.len(), "pod://".len() + 64);
        assert_eq!(id, container_id("uid", "c", 0));
        for other in [
            container_id("uid", "c", 1),
            container_id("uid", "d", 0),
            container_id("uid2", "c", 0),
        ] {
            assert_ne!(id, other);
        }
    }
}
