//! Taints and tolerations (core/v1 `Toleration.ToleratesTaint` and the
//! helpers around it): what the TaintToleration filter, the
//! NodeUnschedulable filter and the taint eviction controller ask.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const NO_SCHEDULE: &str = "NoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// Whether `toleration` tolerates `taint`: an empty effect matches every
/// effect, an empty key (with Exists) every key; the operator is Equal
/// when left out.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first taint, in the node's order, with one of the `effects` that no
/// toleration tolerates (`FindMatchingUntoleratedTaint`).
pub fn first_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    effects: &[&str],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .find(|t| !tolerated(tolerations, t))
}

/// What the taint eviction controller does with a pod on a node with
/// these taints (`processPodOnNode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// No NoExecute taint, or every one tolerated for ever.
    Never,
    /// Once this long has passed since the taints were seen (the shortest
    /// tolerationSeconds of the tolerations in use); zero is at once.
    After(Duration),
}

/// The NoExecute verdict: an untolerated NoExecute taint evicts at once;
/// tolerated ones evict after the shortest tolerationSeconds of the
/// tolerations that matched them (the first matching toleration of each
/// taint, as `GetMatchingTolerations` picks them); none set is never.
pub fn no_execute(taints: &[Taint], tolerations: &[Toleration]) -> Eviction {
    let mut shortest: Option<i64> = None;
    let mut any = false;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        any = true;
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Eviction::After(Duration::ZERO);
        };
        if let Some(seconds) = used.toleration_seconds {
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
    }
    match shortest {
        _ if !any => Eviction::Never,
        None => Eviction::Never,
        Some(s) => Eviction::After(Duration::from_secs(s.max(0) as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn toleration(key: &str, op: &str, value: &str, effect: &str, secs: Option<i64>) -> Toleration {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: some(key),
            operator: some(op),
            value: some(value),
            effect: some(effect),
            toleration_seconds: secs,
        }
    }

    #[test]
    fn toleration_matching_follows_the_api() {
        let t = taint("dedicated", "gpu", NO_SCHEDULE);
        let rows = [
            (
                toleration("dedicated", "Equal", "gpu", "NoSchedule", None),
                true,
            ),
            (toleration("dedicated", "", "gpu", "", None), true),
            (
                toleration("dedicated", "Equal", "cpu", "NoSchedule", None),
                false,
            ),
            (toleration("dedicated", "Exists", "", "", None), true),
            (toleration("", "Exists", "", "", None), true),
            (toleration("", "Exists", "", "NoExecute", None), false),
            (toleration("other", "Exists", "", "", None), false),
            (
                toleration("dedicated", "Equal", "gpu", "PreferNoSchedule", None),
                false,
            ),
            (toleration("dedicated", "Lt", "gpu", "", None), false),
        ];
        for (i, (tol, want)) in rows.iter().enumerate() {
            assert_eq!(tolerates(tol, &t), *want, "row {i}: {tol:?}");
        }
        // A taint without a value is matched by Equal with no value.
        let bare = taint("k", "", NO_SCHEDULE);
        assert!(tolerates(&toleration("k", "Equal", "", "", None), &bare));
        assert!(!tolerates(&toleration("k", "Equal", "v", "", None), &bare));
    }

    #[test]
    fn the_first_untolerated_taint_in_node_order_is_named() {
        let taints = [
            taint("soft", "x", "PreferNoSchedule"),
            taint("a", "1", NO_SCHEDULE),
            taint("b", "2", NO_EXECUTE),
        ];
        let effects = [NO_SCHEDULE, NO_EXECUTE];
        assert_eq!(first_untolerated(&taints, &[], &effects).unwrap().key, "a");
        let tol = [toleration("a", "Exists", "", "", None)];
        assert_eq!(first_untolerated(&taints, &tol, &effects).unwrap().key, "b");
        let all = [toleration("", "Exists", "", "", None)];
        assert!(first_untolerated(&taints, &all, &effects).is_none());
    }

    #[test]
    fn no_execute_eviction_times() {
        let taints = [taint("a", "1", NO_EXECUTE), taint("b", "", NO_EXECUTE)];
        let none: [Toleration; 0] = [];
        assert_eq!(no_execute(&[], &none), Eviction::Never);
        assert_eq!(
            no_execute(&[taint("a", "1", NO_SCHEDULE)], &none),
            Eviction::Never
        );
        assert_eq!(no_execute(&taints, &none), Eviction::After(Duration::ZERO));
        // One taint not tolerated: at once, whatever the others allow.
        let one = [toleration("a", "Exists", "", "", None)];
        assert_eq!(no_execute(&taints, &one), Eviction::After(Duration::ZERO));
        // All tolerated for ever.
        let ever = [toleration("", "Exists", "", "", None)];
        assert_eq!(no_execute(&taints, &ever), Eviction::Never);
        // The shortest tolerationSeconds of the tolerations in use.
        let timed = [
            toleration("a", "Exists", "", "NoExecute", Some(30)),
            toleration("b", "Exists", "", "NoExecute", Some(5)),
            toleration("", "Exists", "", "", Some(1)),
        ];
        assert_eq!(
            no_execute(&taints, &timed),
            Eviction::After(Duration::from_secs(5))
        );
        let negative = [toleration("", "Exists", "", "", Some(-3))];
        assert_eq!(
            no_execute(&taints, &negative),
            Eviction::After(Duration::ZERO)
        );
    }
}
