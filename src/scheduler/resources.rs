//! Resource requests as the scheduler counts them (component-helpers'
//! `PodRequests`, the NodeResourcesFit filter): what a pod asks for, what
//! the node can give, and which resources fall short.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use crate::api::quantity::Quantity;

pub type List = BTreeMap<String, Quantity>;

/// Amounts by resource in the scheduler's units: millicores for cpu,
/// bytes or counts for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// How many pods (allocatable only).
    pub pods: i64,
    /// Hugepages, extended and attachable-volume resources.
    pub scalar: BTreeMap<String, i64>,
}

/// Whether the scheduler counts a resource besides cpu, memory,
/// ephemeral-storage and pods (`IsScalarResourceName`): hugepages,
/// attachable volumes, and extended resources (a domain other than
/// kubernetes.io).
fn is_scalar(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (!native && !name.starts_with("requests."))
}

impl Resources {
    /// From a resource list (the maximum of each resource, as
    /// `SetMaxResource` into an empty one).
    fn from_list(list: &List) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list {
            match name.as_str() {
                "cpu" => r.milli_cpu = q.as_millis_ceil(),
                "memory" => r.memory = q.as_bytes_ceil(),
                "ephemeral-storage" => r.ephemeral_storage = q.as_bytes_ceil(),
                "pods" => r.pods = q.as_bytes_ceil(),
                other if is_scalar(other) => {
                    r.scalar.insert(other.to_string(), q.as_bytes_ceil());
                }
                _ => {}
            }
        }
        r
    }

    fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += v;
        }
    }
}

fn parse(list: Option<&BTreeMap<String, ApiQuantity>>) -> List {
    list.into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(&v.0).ok()?)))
        .collect()
}

fn add(into: &mut List, other: &List) {
    for (name, q) in other {
        let sum = match into.get(name) {
            Some(before) => before.checked_add(q).unwrap_or(*before),
            None => *q,
        };
        into.insert(name.clone(), sum);
    }
}

fn max(into: &mut List, other: &List) {
    for (name, q) in other {
        if into.get(name).is_none_or(|before| q > before) {
            into.insert(name.clone(), *q);
        }
    }
}

/// Which of a container's resource lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Requests,
    Limits,
}

fn container_list(c: &Container, side: Side) -> List {
    parse(c.resources.as_ref().and_then(|r| match side {
        Side::Requests => r.requests.as_ref(),
        Side::Limits => r.limits.as_ref(),
    }))
}

/// The resources a pod-level `resources` may set (component-helpers'
/// `IsSupportedPodLevelResource`): cpu, memory and huge pages.
fn pod_level(name: &str) -> bool {
    name == "cpu" || name == "memory" || name.starts_with("hugepages-")
}

/// component-helpers' `PodRequests` / `PodLimits`, the one rule both the
/// scheduler and `describe node` count with: the sum of the containers and
/// sidecars, or the largest need of any init container (with the sidecars
/// started before it) if larger; pod-level resources, when set, stand for
/// the containers' cpu, memory and huge pages; the overhead on top (for
/// limits, only on resources that have a limit).
pub fn pod_list(spec: &PodSpec, side: Side) -> List {
    let mut total = List::new();
    for c in &spec.containers {
        add(&mut total, &container_list(c, side));
    }
    let mut sidecars = List::new();
    let mut init_peak = List::new();
    for c in spec.init_containers.iter().flatten() {
        let own = container_list(c, side);
        let during = if c.restart_policy.as_deref() == Some("Always") {
            add(&mut total, &own);
            add(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut during = own;
            add(&mut during, &sidecars);
            during
        };
        max(&mut init_peak, &during);
    }
    max(&mut total, &init_peak);
    let level = parse(spec.resources.as_ref().and_then(|r| match side {
        Side::Requests => r.requests.as_ref(),
        Side::Limits => r.limits.as_ref(),
    }));
    for (name, q) in level {
        if pod_level(&name) {
            total.insert(name, q);
        }
    }
    for (name, q) in parse(spec.overhead.as_ref()) {
        match side {
            Side::Requests => add(&mut total, &List::from([(name, q)])),
            Side::Limits => {
                if let Some(before) = total.get(&name).copied() {
                    total.insert(name, before.checked_add(&q).unwrap_or(before));
                }
            }
        }
    }
    total
}

/// What a pod asks of its node (`PodRequests`), in the scheduler's units.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    Resources::from_list(&pod_list(spec, Side::Requests))
}

/// What the node can give pods: its status.allocatable.
pub fn allocatable(node: &Node) -> Resources {
    Resources::from_list(&parse(
        node.status.as_ref().and_then(|s| s.allocatable.as_ref()),
    ))
}

/// The sum of what the pods already here asked for.
pub fn requested<'a>(specs: impl IntoIterator<Item = &'a PodSpec>) -> Resources {
    let mut sum = Resources::default();
    for spec in specs {
        sum.add(&pod_requests(spec));
    }
    sum
}

/// A resource that falls short: the filter's reason, whether the pod
/// asks for more than the whole node has (then no eviction could help),
/// and the figures the kubelet's admission reports (`InsufficientResource`:
/// millicores for cpu, bytes or counts for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insufficient {
    pub reason: String,
    pub unresolvable: bool,
    pub resource: String,
    pub requested: i64,
    pub used: i64,
    pub capacity: i64,
}

/// The NodeResourcesFit filter (`fitsRequest`): the pod count first, then
/// every requested resource against allocatable minus what is requested.
pub fn insufficient(
    request: &Resources,
    allocatable: &Resources,
    requested: &Resources,
    pods_here: usize,
) -> Vec<Insufficient> {
    let mut out = Vec::new();
    if pods_here as i64 + 1 > allocatable.pods {
        out.push(Insufficient {
            reason: "Too many pods".into(),
            unresolvable: false,
            resource: "pods".into(),
            requested: 1,
            used: pods_here as i64,
            capacity: allocatable.pods,
        });
    }
    let mut check = |name: &str, want: i64, have: i64, used: i64| {
        if want > 0 && want > have - used {
            out.push(Insufficient {
                reason: format!("Insufficient {name}"),
                unresolvable: want > have,
                resource: name.to_string(),
                requested: want,
                used,
                capacity: have,
            });
        }
    };
    check(
        "cpu",
        request.milli_cpu,
        allocatable.milli_cpu,
        requested.milli_cpu,
    );
    check(
        "memory",
        request.memory,
        allocatable.memory,
        requested.memory,
    );
    check(
        "ephemeral-storage",
        request.ephemeral_storage,
        allocatable.ephemeral_storage,
        requested.ephemeral_storage,
    );
    for (name, want) in &request.scalar {
        let have = allocatable.scalar.get(name).copied().unwrap_or(0);
        let used = requested.scalar.get(name).copied().unwrap_or(0);
        check(name, *want, have, used);
    }
    out
}

/// An extended resource (`IsExtendedResourceName`): a domain-prefixed
/// name outside kubernetes.io, not a quota's `requests.` name.
pub fn is_extended(name: &str) -> bool {
    is_scalar(name) && !name.starts_with("hugepages-") && !name.starts_with("attachable-volumes-")
}
