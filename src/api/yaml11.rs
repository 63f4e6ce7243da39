//! The YAML 1.1 scalar resolver of go-yaml v2 (`resolve.go`), which both
//! ends of `pod` follow: reading a manifest (`api::decode::yaml`, as the
//! API server's sigs.k8s.io/yaml reads it) and printing `-o yaml` (which
//! must quote every string this resolver would read as something else).

use serde_json::Number;

/// What an untagged plain scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Plain {
    Null,
    Bool(bool),
    Int(Number),
    /// Also `.nan` and `.inf`, which JSON cannot hold.
    Float(f64),
    /// go-yaml resolves it to a time, and hands it back to an `interface{}`
    /// as the string it was (so decoding keeps a string, printing quotes).
    Timestamp,
    Str,
}

/// go-yaml v2 `resolve` for an untagged plain scalar.
pub fn resolve(text: &str) -> Plain {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Plain::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Plain::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes()[0] {
        // `strconv.ParseFloat` of the text as it is, which takes
        // underscores between digits only.
        b'.' if underscores_between_digits(text) => {
            go_float(&text.replace('_', "")).map_or(Plain::Str, Plain::Float)
        }
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(text) {
                return Plain::Timestamp;
            }
            let plain = text.replace('_', "");
            if let Some(n) = go_int(&plain) {
                return Plain::Int(n);
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = go_float(&plain)
            {
                return Plain::Float(f);
            }
            Plain::Str
        }
        _ => Plain::Str,
    }
}

/// Whether go-yaml reads the plain scalar `s` as the string it is (and not
/// a null, bool, number or timestamp, which a printer must then quote).
pub fn resolves_to_string(s: &str) -> bool {
    resolve(s) == Plain::Str
}

/// Go's `underscoreOK` for a decimal number: each `_` sits between two
/// digits.
fn underscores_between_digits(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// `strconv.ParseFloat(s, 64)` for the syntax go-yaml lets through: a
/// value out of range is Go's ErrRange, so no float.
fn go_float(s: &str) -> Option<f64> {
    if !is_yaml_style_float(s) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)` (which takes
/// no sign): an optional sign, then a `0x`, `0o`, `0b` or a leading `0`
/// (octal) prefix, or decimal.
fn go_int(s: &str) -> Option<Number> {
    let (sign, body) = match s.as_bytes().first()? {
        b'-' => (Some(true), &s[1..]),
        b'+' => (Some(false), &s[1..]),
        _ => (None, s),
    };
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    match sign {
        Some(true) if magnitude == 1u128 << 63 => Some(i64::MIN.into()),
        Some(true) => i64::try_from(magnitude).ok().map(|m| (-m).into()),
        Some(false) => i64::try_from(magnitude).ok().map(Number::from),
        None => i64::try_from(magnitude)
            .ok()
            .map(Number::from)
            .or_else(|| u64::try_from(magnitude).ok().map(Number::from)),
    }
}

/// go-yaml's `yamlStyleFloat`:
/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((whole, frac)) => digits(whole) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// go-yaml's timestamp formats: `2006-1-2`, `2006-1-2 15:4:5.999999999`
/// and RFC 3339 with `T` or `t` and a zone.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut p = Parser { b, i: 5 };
    let Some(month) = p.number(1, 2) else {
        return false;
    };
    if !p.eat(b'-') {
        return false;
    }
    let Some(day) = p.number(1, 2) else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return false;
    }
    if p.done() {
        return true;
    }
    let zoned = match p.next() {
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        _ => return false,
    };
    let (Some(h), true, Some(m), true, Some(sec)) = (
        p.number(1, 2),
        p.eat(b':'),
        p.number(1, 2),
        p.eat(b':'),
        p.number(1, 2),
    ) else {
        return false;
    };
    if h > 23 || m > 59 || sec > 59 {
        return false;
    }
    if p.eat(b'.') && p.number(1, 9).is_none() {
        return false;
    }
    if !zoned {
        return p.done();
    }
    match p.next() {
        Some(b'Z') => p.done(),
        Some(b'+' | b'-') => {
            let (Some(zh), true, Some(zm)) = (p.number(2, 2), p.eat(b':'), p.number(2, 2)) else {
                return false;
            };
            zh <= 23 && zm <= 59 && p.done()
        }
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.b.get(self.i).copied();
        self.i += 1;
        c
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Plain {
        Plain::Int(n.into())
    }

    #[test]
    fn resolves_like_go_yaml_v2() {
        let cases = [
            ("", Plain::Null),
            ("~", Plain::Null),
            ("yes", Plain::Bool(true)),
            ("OFF", Plain::Bool(false)),
            ("yEs", Plain::Str),
            ("0777", int(511)),
            ("0o17", int(15)),
            ("0X1f", int(31)),
            ("-0b101", int(-5)),
            ("1_000", int(1000)),
            ("08", Plain::Float(8.0)),
            (".5", Plain::Float(0.5)),
            ("1e3", Plain::Float(1000.0)),
            ("-9223372036854775808", int(i64::MIN)),
            ("18446744073709551615", Plain::Int(u64::MAX.into())),
            ("2001-12-14", Plain::Timestamp),
            ("2001-12-14t21:59:43.10-05:00", Plain::Timestamp),
            ("2001-02-30", Plain::Str),
            ("12:30", Plain::Str),
            ("1.2.3", Plain::Str),
            ("100m", Plain::Str),
            ("-x", Plain::Str),
        ];
        for (text, want) in cases {
            assert_eq!(resolve(text), want, "{text:?}");
        }
        assert!(matches!(resolve(".nan"), Plain::Float(f) if f.is_nan()));
        assert_eq!(resolve("-.Inf"), Plain::Float(f64::NEG_INFINITY));
    }

    /// Where the decoder's and the printer's resolvers used to disagree,
    /// Go's strconv decides: ParseFloat takes underscores between digits
    /// (the printer left `.1_0` unquoted) and fails out of range (the
    /// decoder made `1e400` a null, the printer quoted it); ParseUint takes
    /// no sign (the decoder read `+18446744073709551615` as an integer).
    #[test]
    fn the_cases_the_two_old_copies_disagreed_on() {
        assert_eq!(resolve(".1_0"), Plain::Float(0.1));
        assert_eq!(resolve("._1"), Plain::Str);
        assert_eq!(resolve(".1__0"), Plain::Str);
        assert_eq!(resolve("1e400"), Plain::Str);
        assert_eq!(resolve(".5e400"), Plain::Str);
        assert_eq!(resolve("1e-400"), Plain::Float(0.0));
        assert_eq!(
            resolve("+18446744073709551615"),
            Plain::Float(18446744073709551615.0)
        );
    }
}
