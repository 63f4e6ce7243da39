//! Ages as kubectl prints them: apimachinery's `HumanDuration` (AGE,
//! RESTARTS "(5s ago)", describe) and `ShortHumanDuration`.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

const SECOND: i128 = 1_000_000_000;
const MINUTE: i128 = 60 * SECOND;
const HOUR: i128 = 60 * MINUTE;

/// apimachinery `duration.HumanDuration`: two significant units while they
/// still matter (`2m3s`, `3h5m`, `2d3h`, `2y45d`), one after.
pub fn human(nanos: i128) -> String {
    // Go: int(d.Seconds()) truncates toward zero; up to one second in the
    // future counts as now (clock skew).
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = nanos / MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / HOUR;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The time of an API timestamp in this crate's `jiff` (k8s-openapi uses
/// its own copy of the crate).
pub fn timestamp(time: &Time) -> Timestamp {
    Timestamp::from_nanosecond(time.0.as_nanosecond()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Like `timestamp`, for the microsecond times of events.
pub fn micro_timestamp(time: &MicroTime) -> Timestamp {
    Timestamp::from_nanosecond(time.0.as_nanosecond()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Nanoseconds from `then` to `now`.
pub fn since(then: Timestamp, now: Timestamp) -> i128 {
    now.as_nanosecond() - then.as_nanosecond()
}

/// kubectl's `translateTimestampSince`: the age of a timestamp, or
/// `<unknown>` when there is none (Go's zero time).
pub fn age(time: Option<&Time>, now: Timestamp) -> String {
    match time {
        Some(t) => human(since(timestamp(t), now)),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: i128) -> i128 {
        n * SECOND
    }

    #[test]
    fn human_duration_table() {
        let cases = [
            (s(-3), "<invalid>"),
            (s(-2), "<invalid>"),
            (-SECOND - SECOND / 2, "0s"),
            (s(-1), "0s"),
            (s(0), "0s"),
            (s(5), "5s"),
            (s(119), "119s"),
            (s(120), "2m"),
            (s(123), "2m3s"),
            (s(300), "5m"),
            (s(599), "9m59s"),
            (s(600), "10m"),
            (s(179 * 60 + 59), "179m"),
            (s(3 * 3600), "3h"),
            (s(3 * 3600 + 5 * 60), "3h5m"),
            (s(4 * 3600), "4h"),
            (s(8 * 3600), "8h"),
            (s(47 * 3600 + 3599), "47h"),
            (s(48 * 3600), "2d"),
            (s(51 * 3600), "2d3h"),
            (s(5 * 86400), "5d"),
            (s(8 * 86400), "8d"),
            (s(729 * 86400), "729d"),
            (s(730 * 86400), "2y"),
            (s(775 * 86400), "2y45d"),
            (s(8 * 365 * 86400), "8y"),
            (s(20 * 365 * 86400 + 100 * 86400), "20y"),
        ];
        for (nanos, want) in cases {
            assert_eq!(human(nanos), want, "{nanos}ns");
        }
    }

    #[test]
    fn zero_timestamp_is_unknown() {
        assert_eq!(age(None, Timestamp::UNIX_EPOCH), "<unknown>");
    }

    #[test]
    fn age_of_a_timestamp() {
        let then: Time = serde_json::from_str("\"2026-01-01T00:00:00Z\"").unwrap();
        let now: Timestamp = "2026-01-01T00:02:03Z".parse().unwrap();
        assert_eq!(age(Some(&then), now), "2m3s");
    }
}
