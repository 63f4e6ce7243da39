//! The read verbs: get and list (label and field selectors, the Table
//! form), from the same store the CLI reads, so `pod get` and `kubectl
//! get` see the same objects.

use k8s_openapi::api::core::v1::Event;
use serde_json::{Value, json};

use super::fields::FieldSelector;
use super::request::{Reply, Request};
use super::resources::{Backing, Resource};
use super::routes::Target;
use super::status::Status;
use super::versions::Stamped;
use super::{Server, table};
use crate::api::selector::Selector;
use crate::api::{Kind, Object};
use crate::store::{Detail, Store};

/// One object served: a stored one, or an event of a pod.
#[derive(Debug, Clone)]
pub enum Item {
    Stored(Box<Object>),
    Event(Box<Event>),
}

impl Item {
    pub fn namespace(&self) -> &str {
        match self {
            Item::Stored(o) => o.namespace(),
            Item::Event(e) => e.metadata.namespace.as_deref().unwrap_or_default(),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Item::Stored(o) => o.name(),
            Item::Event(e) => e.metadata.name.as_deref().unwrap_or_default(),
        }
    }

    fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        match self {
            Item::Stored(o) => o.metadata().labels.as_ref(),
            Item::Event(e) => e.metadata.labels.as_ref(),
        }
    }

    /// The object in its stored form (a core Event for events).
    pub fn canonical_json(&self) -> Value {
        match self {
            Item::Stored(o) => o.to_json(),
            Item::Event(e) => serde_json::to_value(e.as_ref()).expect("events serialize"),
        }
    }

    /// The object as `resource` serves it (an event in the form of its
    /// group).
    pub fn to_json(&self, resource: &Resource) -> Value {
        match self {
            Item::Stored(o) => o.to_json(),
            Item::Event(e) if resource.backing == Backing::Events => events_v1(e),
            Item::Event(_) => self.canonical_json(),
        }
    }
}

/// Every object of `resource` in `namespace` (all when `None`), sorted
/// by namespace and name as the API server lists.
pub fn fetch(
    store: &Store,
    resource: &Resource,
    namespace: Option<&str>,
) -> anyhow::Result<Vec<Item>> {
    match resource.backing {
        Backing::Kind(kind) => Ok(crate::objects::list(store, kind, namespace)?
            .into_iter()
            .map(|o| Item::Stored(Box::new(o)))
            .collect()),
        Backing::CoreEvents | Backing::Events => {
            let mut events = Vec::new();
            for pod in store.list_as(Kind::Pod, namespace, Detail::Manifest)? {
                events.extend(
                    store
                        .read_pod_events(pod.namespace(), pod.name())?
                        .into_iter()
                        .map(|e| Item::Event(Box::new(e))),
                );
            }
            events.sort_by(|a, b| (a.namespace(), a.name()).cmp(&(b.namespace(), b.name())));
            Ok(events)
        }
    }
}

/// One object, or `None`.
fn fetch_one(
    store: &Store,
    resource: &Resource,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Option<Item>> {
    match resource.backing {
        Backing::Kind(kind) => {
            Ok(crate::objects::get(store, kind, namespace, name)?
                .map(|o| Item::Stored(Box::new(o))))
        }
        Backing::CoreEvents | Backing::Events => Ok(fetch(store, resource, Some(namespace))?
            .into_iter()
            .find(|e| e.name() == name)),
    }
}

/// `GET .../<resource>/<name>`.
pub fn get(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
    name: &str,
) -> Result<Reply, Status> {
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let item = fetch_one(&server.store, resource, namespace, name)
        .map_err(|e| Status::from_error(resource.group, e))?
        .ok_or_else(|| Status::not_found(resource.group, resource.name, name))?;
    let item = server
        .versions
        .stamp_one(&server.store, resource, item)
        .map_err(|e| Status::from_error(resource.group, e))?;
    if table::wanted(req) {
        return Ok(Reply::ok(table::table(
            resource,
            &[item],
            None,
            table::Include::of(req),
        )));
    }
    Ok(Reply::ok(item.json))
}

/// The selectors of a list or watch.
pub struct Selection {
    labels: Selector,
    fields: FieldSelector,
}

impl Selection {
    pub fn of(req: &Request, resource: &Resource) -> Result<Selection, Status> {
        let labels = Selector::parse(req.param("labelSelector").unwrap_or_default())
            .map_err(|e| Status::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields =
            FieldSelector::parse(req.param("fieldSelector").unwrap_or_default(), resource)?;
        Ok(Selection { labels, fields })
    }

    pub fn matches(&self, item: &Item, json: &Value) -> bool {
        self.labels.matches(item.labels()) && self.fields.matches(json)
    }
}

/// What a list (or a deletecollection) chooses: the objects of the
/// URL's namespace (every namespace without one) that the selectors
/// match, as served now, and the version they were observed at.
pub fn chosen(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
) -> Result<(Vec<Stamped>, u64), Status> {
    let selection = Selection::of(req, resource)?;
    let (items, version) = server
        .versions
        .observe(&server.store, resource)
        .map_err(|e| Status::from_error(resource.group, e))?;
    let chosen = items
        .into_iter()
        .filter(|s| {
            target
                .namespace
                .as_deref()
                .is_none_or(|ns| s.item.namespace() == ns)
                && selection.matches(&s.item, &s.json)
        })
        .collect();
    Ok((chosen, version))
}

/// A list of `resource` as the API server answers it (`<Kind>List`).
pub fn list_json(resource: &Resource, version: u64, items: Vec<Value>) -> Value {
    json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": version.to_string()},
        "items": items,
    })
}

/// `GET .../<resource>`: the list, or its Table.
pub fn list(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
) -> Result<Reply, Status> {
    let (chosen, version) = chosen(server, req, resource, target)?;
    if table::wanted(req) {
        return Ok(Reply::ok(table::table(
            resource,
            &chosen,
            Some(version),
            table::Include::of(req),
        )));
    }
    let items = chosen.into_iter().map(|s| s.json).collect();
    Ok(Reply::ok(list_json(resource, version, items)))
}

/// A core Event in the events.k8s.io/v1 form (the API server converts
/// between the two: the same object under other field names).
fn events_v1(e: &Event) -> Value {
    let mut out = json!({
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": e.metadata,
        "eventTime": e.event_time,
        "regarding": e.involved_object,
        "note": e.message,
        "reason": e.reason,
        "type": e.type_,
        "action": e.action,
        "reportingController": e.reporting_component.clone().filter(|c| !c.is_empty())
            .or_else(|| e.source.as_ref().and_then(|s| s.component.clone())),
        "reportingInstance": e.reporting_instance.clone().filter(|c| !c.is_empty())
            .or_else(|| e.source.as_ref().and_then(|s| s.host.clone())),
        "deprecatedSource": e.source,
        "deprecatedFirstTimestamp": e.first_timestamp,
        "deprecatedLastTimestamp": e.last_timestamp,
        "deprecatedCount": e.count,
        "series": e.series,
        "related": e.related,
    });
    // Absent fields are left out, as the API server's JSON does.
    if let Some(map) = out.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    out
}
