//! Go's `time.ParseDuration`, the syntax kubectl flags (`--timeout=30s`,
//! `--since=5m`) and the back-off variables (`POD_BACKOFF_INITIAL=1s`) use.

use std::time::Duration;

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

#[cfg(test)]
mod go_string_tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(go_string(Duration::from_secs(10)), "10s");
        assert_eq!(go_string(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_string(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_string(Duration::from_millis(500)), "500ms");
        assert_eq!(go_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_string(Duration::from_secs(3661)), "1h1m1s");
    }
}
