//! `get events`: kubectl's event table (`printEvent`): LAST SEEN, TYPE,
//! REASON, OBJECT, MESSAGE, oldest first, and the age rules describe
//! uses for folded events (`9s (x5 over 3m)`).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Event;

use super::tabwriter::{self, TabWriter};
use crate::duration;

/// When the event was last seen: the series' last observation, the last
/// timestamp, or the event time.
pub fn last_seen(e: &Event) -> Option<Timestamp> {
    e.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(duration::micro_timestamp)
        .or_else(|| e.last_timestamp.as_ref().map(duration::timestamp))
        .or_else(|| e.event_time.as_ref().map(duration::micro_timestamp))
}

/// When the event was first seen.
pub fn first_seen(e: &Event) -> Option<Timestamp> {
    e.event_time
        .as_ref()
        .map(duration::micro_timestamp)
        .or_else(|| e.first_timestamp.as_ref().map(duration::timestamp))
}

fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => duration::human(duration::since(t, now)),
        None => "<unknown>".into(),
    }
}

/// describe's Age cell: `<age>`, or `<last> (xN over <first>)` when the
/// event happened more than once.
pub fn age_interval(e: &Event, now: Timestamp) -> String {
    let first = since(first_seen(e), now);
    if let Some(series) = &e.series {
        return format!(
            "{} (x{} over {first})",
            since(last_seen(e), now),
            series.count.unwrap_or(0)
        );
    }
    match e.count {
        Some(n) if n > 1 => format!(
            "{} (x{n} over {first})",
            since(e.last_timestamp.as_ref().map(duration::timestamp), now)
        ),
        _ => first,
    }
}

/// Events oldest first (by last seen), as kubectl sorts them.
pub fn sorted(events: &[Event]) -> Vec<&Event> {
    let mut list: Vec<&Event> = events.iter().collect();
    list.sort_by_key(|e| last_seen(e));
    list
}

/// The `get events` table; `with_namespace` adds NAMESPACE first (`-A`).
pub fn table(events: &[Event], with_namespace: bool, no_headers: bool, now: Timestamp) -> String {
    let mut w = TabWriter::new(tabwriter::GET);
    if !no_headers {
        if with_namespace {
            w.write("NAMESPACE\t");
        }
        w.write("LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE\n");
    }
    for e in sorted(events) {
        if with_namespace {
            w.write(e.metadata.namespace.as_deref().unwrap_or(""));
            w.write("\t");
        }
        w.write(&row(e, now).join("\t"));
        w.write("\n");
    }
    w.flush()
}

/// One event's cells: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
pub fn row(e: &Event, now: Timestamp) -> [String; 5] {
    let object = &e.involved_object;
    let kind = object.kind.as_deref().unwrap_or("").to_ascii_lowercase();
    let name = object.name.as_deref().unwrap_or("");
    [
        since(last_seen(e), now),
        e.type_.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
        format!("{kind}/{name}"),
        e.message.as_deref().unwrap_or("").trim().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn event(reason: &str, first: &str, last: &str, count: i32) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("nginx.{reason}"), "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "nginx", "namespace": "default"},
            "reason": reason, "type": if reason == "BackOff" {"Warning"} else {"Normal"},
            "message": format!("{reason} happened "), "source": {"component": "kubelet"},
            "firstTimestamp": first, "lastTimestamp": last, "count": count,
        }))
        .unwrap()
    }

    #[test]
    fn events_table() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let events = [
            event("BackOff", "2026-01-01T00:07:00Z", "2026-01-01T00:09:51Z", 5),
            event(
                "Scheduled",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                1,
            ),
        ];
        insta::assert_snapshot!(table(&events, false, false, now), @r"
        LAST SEEN   TYPE      REASON      OBJECT      MESSAGE
        10m         Normal    Scheduled   pod/nginx   Scheduled happened
        9s          Warning   BackOff     pod/nginx   BackOff happened
        ");
        assert_eq!(age_interval(&events[0], now), "9s (x5 over 3m)");
        assert_eq!(age_interval(&events[1], now), "10m");
    }
}
