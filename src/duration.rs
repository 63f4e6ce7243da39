//! Durations and times, in every syntax `pod` reads or prints one:
//! Go's `time.ParseDuration` (kubectl flags `--timeout=30s`, `--since=5m`,
//! the back-off variables `POD_BACKOFF_INITIAL=1s`) and
//! `time.Duration.String()` (the kubelet's back-off messages);
//! apimachinery's `HumanDuration` (kubectl's AGE, RESTARTS "(5s ago)",
//! describe); go-units' `HumanDuration` (podman's CREATED); and the clock
//! in the timestamp type the API objects carry.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

/// The current time in the type the API objects carry (the jiff that
/// k8s-openapi re-exports is built without a clock).
pub fn now() -> k8s_openapi::jiff::Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    k8s_openapi::jiff::Timestamp::new(since.as_secs() as i64, since.subsec_nanos() as i32)
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

/// Parses `300ms`, `1.5h`, `2h45m`, `10s`; a bare `0` is zero. Negative
/// durations are refused: nothing here waits for a negative time.
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let s = text.strip_prefix('+').unwrap_or(text);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{text}\""))?;
        if number_len == 0 {
            return Err(invalid());
        }
        let value: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => {
                return Err(format!(
                    "time: unknown unit \"{unit}\" in duration \"{text}\""
                ));
            }
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// Go's `time.Duration.String()` for the delays the kubelet prints
/// (`10s`, `1m20s`, `5m0s`, `500ms`).
pub fn go_string(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms < 1000 {
        return if total_ms == 0 {
            "0s".into()
        } else {
            format!("{total_ms}ms")
        };
    }
    let secs = d.as_secs_f64() % 60.0;
    let secs = if secs.fract() == 0.0 {
        format!("{}s", secs as u64)
    } else {
        format!("{}s", (secs * 1000.0).round() / 1000.0)
    };
    let mins = d.as_secs() / 60;
    match (mins / 60, mins % 60) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

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

/// Docker's HumanDuration (go-units), as podman's CREATED column shows it.
pub fn docker_human(seconds: f64) -> String {
    let s = seconds.max(0.0);
    let minutes = (s / 60.0) as i64;
    let hours = (s / 3600.0 + 0.5) as i64;
    if s < 1.0 {
        "Less than a second".into()
    } else if s < 2.0 {
        "1 second".into()
    } else if s < 60.0 {
        format!("{} seconds", s as i64)
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("2h45m"), Ok(Duration::from_secs(9900)));
    }

    #[test]
    fn refuses_what_go_refuses() {
        assert_eq!(
            parse("30").unwrap_err(),
            "time: missing unit in duration \"30\""
        );
        assert_eq!(
            parse("3d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"3d\""
        );
        assert!(parse("").is_err());
        assert!(parse("-1s").is_err());
        assert!(parse("s").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(go_string(Duration::from_secs(10)), "10s");
        assert_eq!(go_string(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_string(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_string(Duration::from_millis(500)), "500ms");
        assert_eq!(go_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_string(Duration::from_secs(3661)), "1h1m1s");
    }

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

    #[test]
    fn durations_like_docker() {
        assert_eq!(docker_human(0.5), "Less than a second");
        assert_eq!(docker_human(30.0), "30 seconds");
        assert_eq!(docker_human(90.0), "About a minute");
        assert_eq!(docker_human(600.0), "10 minutes");
        assert_eq!(docker_human(3600.0), "About an hour");
        assert_eq!(docker_human(5.0 * 3600.0), "5 hours");
        assert_eq!(docker_human(3.0 * 86400.0), "3 days");
        assert_eq!(docker_human(20.0 * 86400.0), "2 weeks");
        assert_eq!(docker_human(100.0 * 86400.0), "3 months");
        assert_eq!(docker_human(800.0 * 86400.0), "2 years");
    }
}
