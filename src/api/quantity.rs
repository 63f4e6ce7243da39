//! Kubernetes `resource.Quantity` (apimachinery pkg/api/resource): the
//! numbers of `resources.limits`, `emptyDir.sizeLimit` and friends.
//!
//! A quantity is a signed decimal number with an optional suffix: decimal SI
//! (`n u m k M G T P E`), binary SI (`Ki Mi Gi Ti Pi Ei`) or a decimal
//! exponent (`e3`, `E-2`). The value is kept as `mantissa × 10^exponent`,
//! exact down to the nano as the API server keeps it (smaller remainders
//! round up), so `100m`, `0.1` and `1e-1` compare equal, and it prints in
//! the API server's canonical form (`0.5` → `500m`, `1024Mi` → `1Gi`),
//! which parses back to the same value.

use std::cmp::Ordering;
use std::fmt;

/// How the quantity was written, which decides how it is printed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ...
    BinarySi,
    /// `m`, `k`, `M`, ... or no suffix
    DecimalSi,
    /// `e3`, `E-2`
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    /// The value is `mantissa × 10^exponent`; trailing zeros of the
    /// mantissa are folded into the exponent.
    mantissa: i128,
    exponent: i32,
    format: Format,
}

/// The errors of apimachinery's `ParseQuantity`, with its messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    #[error("quantity is too large")]
    TooLarge,
}

/// Significant decimal digits kept of a decimal quantity larger than any
/// resource (apimachinery's inf.Dec keeps them all): further non-zero
/// digits round the value up, away from zero. 36 digits times the 100 the
/// printer may multiply by still fit in an i128.
const MAX_DIGITS: usize = 36;

/// The largest binary quantity: apimachinery caps a BinarySI value at
/// 2^63-1 (`maxAllowed`), which with nine decimals (a nano is the
/// smallest unit) fits an i128 exactly.
const MAX_BINARY: i128 = i64::MAX as i128;

impl Quantity {
    /// Parses as apimachinery's `ParseQuantity`: the value is exact down to
    /// the nano, a smaller remainder rounds the magnitude up to the next
    /// nano (`inf.RoundUp` on `Nano`, so `1e-300` is `1n`), and a binary
    /// value is capped at 2^63-1. What is stored is therefore exactly what
    /// the canonical form prints, and that parses back to the same value.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let (negative, whole, fraction, suffix) = split(text)?;
        let (base, power, format) = interpret_suffix(suffix)?;
        let mut q = if base == 2 {
            binary_magnitude(whole, fraction, power as u32)
        } else {
            Quantity {
                format,
                ..decimal_magnitude(whole, fraction, power)?
            }
        };
        if negative {
            q.mantissa = -q.mantissa;
        }
        Ok(q.normalized())
    }

    /// A whole number of bytes as the kubelet makes one
    /// (`resource.NewQuantity(n, BinarySI)`): it prints with the largest
    /// binary suffix that divides it (`16318520Ki`), else as a plain number.
    pub fn binary(bytes: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(bytes),
            exponent: 0,
            format: Format::BinarySi,
        }
        .normalized()
    }

    /// A whole number in decimal SI (`resource.NewQuantity(n, DecimalSI)`):
    /// cpu cores, pod counts.
    pub fn decimal(n: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(n),
            exponent: 0,
            format: Format::DecimalSi,
        }
        .normalized()
    }

    pub fn zero() -> Quantity {
        Quantity {
            mantissa: 0,
            exponent: 0,
            format: Format::DecimalSi,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The sum, or `None` when it does not fit.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let exponent = self.exponent.min(other.exponent);
        let align =
            |q: &Quantity| pow10(q.exponent - exponent).and_then(|p| q.mantissa.checked_mul(p));
        let mantissa = align(self)?.checked_add(align(other)?)?;
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Some(
            Quantity {
                mantissa,
                exponent,
                format,
            }
            .normalized(),
        )
    }

    /// The value rounded up to an integer (bytes for memory and storage),
    /// saturating at the bounds of i64 as `Quantity.Value()` does.
    pub fn as_bytes_ceil(&self) -> i64 {
        self.scaled_ceil(0)
    }

    /// The value in thousandths rounded up (millicores for cpu), as
    /// `Quantity.MilliValue()`.
    pub fn as_millis_ceil(&self) -> i64 {
        self.scaled_ceil(-3)
    }

    /// `ceil(value / 10^scale)`, saturating.
    fn scaled_ceil(&self, scale: i32) -> i64 {
        let shift = self.exponent - scale;
        let value = if shift >= 0 {
            match pow10(shift).and_then(|p| self.mantissa.checked_mul(p)) {
                Some(v) => v,
                None if self.mantissa < 0 => i128::MIN,
                None => i128::MAX,
            }
        } else {
            match pow10(-shift) {
                Some(p) => div_ceil(self.mantissa, p),
                // Smaller than any unit of the scale.
                None => i128::from(self.mantissa > 0),
            }
        };
        value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    fn normalized(mut self) -> Quantity {
        if self.mantissa == 0 {
            self.exponent = 0;
            return self;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        self
    }

    /// The canonical text the API server stores (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        // Never below a nano: parsing rounded up to one.
        let q = *self;
        if q.mantissa == 0 {
            return "0".into();
        }
        let sign = if q.mantissa < 0 { "-" } else { "" };
        let magnitude = q.mantissa.unsigned_abs();

        if q.format == Format::BinarySi && q.exponent >= 0 {
            // An integer: the largest power of 1024 that divides it, unless
            // it is smaller than 1024, which prints as a plain number.
            if let Some(value) = pow10(q.exponent)
                .map(|p| p as u128)
                .and_then(|p| magnitude.checked_mul(p))
                && value >= 1024
            {
                const BINARY: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
                let mut value = value;
                let mut power = 0;
                while power < 6 && value % 1024 == 0 {
                    value /= 1024;
                    power += 1;
                }
                return format!("{sign}{value}{}", BINARY[power]);
            }
        }

        // Decimal: the exponent lowered to a multiple of three, so the
        // mantissa is an integer, then the SI suffix or `eN`.
        let mut mantissa = magnitude;
        let mut exponent = q.exponent;
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        if q.format == Format::DecimalSi && exponent > 18 {
            // Past exa the mantissa grows, as `1000E` prints.
            if let Some(m) = pow10(exponent - 18)
                .map(|p| p as u128)
                .and_then(|p| mantissa.checked_mul(p))
            {
                mantissa = m;
                exponent = 18;
            }
        }
        if q.format == Format::DecimalExponent {
            return if exponent == 0 {
                format!("{sign}{mantissa}")
            } else {
                format!("{sign}{mantissa}e{exponent}")
            };
        }
        let suffix = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => return format!("{sign}{mantissa}e{exponent}"),
        };
        format!("{sign}{mantissa}{suffix}")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_sign = self.mantissa.signum().cmp(&other.mantissa.signum());
        if by_sign != Ordering::Equal || self.mantissa == 0 {
            return by_sign;
        }
        // Same sign, both non-zero: align the exponents when that fits,
        // otherwise the order of magnitude decides.
        let (low, high, flipped) = if self.exponent <= other.exponent {
            (self, other, false)
        } else {
            (other, self, true)
        };
        let ordering =
            match pow10(high.exponent - low.exponent).and_then(|p| high.mantissa.checked_mul(p)) {
                Some(high_aligned) => low.mantissa.cmp(&high_aligned),
                None if high.mantissa > 0 => Ordering::Less,
                None => Ordering::Greater,
            };
        if flipped {
            ordering.reverse()
        } else {
            ordering
        }
    }
}

/// Splits `[+-]digits[.digits]suffix` as `parseQuantityString` does.
fn split(text: &str) -> Result<(bool, &str, &str, &str), QuantityError> {
    if text.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    let mut rest = text;
    let mut negative = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = digits_end(rest);
    let whole = &rest[..n];
    rest = &rest[n..];
    let mut fraction = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = digits_end(r);
        fraction = &r[..n];
        rest = &r[n..];
    }
    if whole.is_empty() && fraction.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    // The suffix: letters from the suffix alphabet, then an optional signed
    // integer (the exponent of `e3`).
    let letters = rest
        .find(|c: char| !"eEinumkKMGTP".contains(c))
        .unwrap_or(rest.len());
    let mut tail = &rest[letters..];
    tail = tail
        .strip_prefix('-')
        .or_else(|| tail.strip_prefix('+'))
        .unwrap_or(tail);
    if !tail.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuantityError::FormatWrong);
    }
    Ok((negative, whole, fraction, rest))
}

/// A suffix as (base, power, format): the value is multiplied by
/// base^power (base 2 powers are multiples of 10).
fn interpret_suffix(suffix: &str) -> Result<(u32, i32, Format), QuantityError> {
    let decimal = |power| Ok((10, power, Format::DecimalSi));
    let binary = |power| Ok((2, power, Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .filter(|e| !e.is_empty())
                .ok_or(QuantityError::Suffix)?;
            let power: i32 = exponent.parse().map_err(|_| QuantityError::Suffix)?;
            Ok((10, power, Format::DecimalExponent))
        }
    }
}

/// The magnitude of `whole.fraction × 10^power`: exact down to the nano
/// and to MAX_DIGITS significant digits, rounded up past either.
fn decimal_magnitude(whole: &str, fraction: &str, power: i32) -> Result<Quantity, QuantityError> {
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Ok(Quantity::zero());
    }
    let mut exponent =
        i64::from(power) - fraction.len() as i64 + (digits.len() - significant.len()) as i64;
    // Positions dropped from the right (possibly more than there are):
    // those below the nano, and those past MAX_DIGITS.
    let dropped = usize::try_from(-9 - exponent)
        .unwrap_or(0)
        .max(significant.len().saturating_sub(MAX_DIGITS));
    let kept = &significant[..significant.len().saturating_sub(dropped)];
    let mut mantissa = kept
        .bytes()
        .fold(0i128, |m, d| m * 10 + i128::from(d - b'0'));
    exponent += dropped as i64;
    if dropped > 0 {
        // The last significant digit is not zero: something was dropped.
        mantissa += 1;
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    Ok(Quantity {
        mantissa,
        exponent: i32::try_from(exponent).map_err(|_| QuantityError::TooLarge)?,
        format: Format::DecimalSi,
    })
}

/// The magnitude of `whole.fraction × 2^power` in nanos, rounded up, at
/// most MAX_BINARY. The fraction is multiplied out by Horner's rule from
/// its last digit, each step keeping the floor and whether a remainder was
/// lost, so that any number of digits is exact: floor((n + e) / 10) =
/// floor(n / 10) for a whole n and 0 <= e < 1.
fn binary_magnitude(whole: &str, fraction: &str, power: u32) -> Quantity {
    const NANO: u128 = 1_000_000_000;
    let capped = Quantity {
        mantissa: MAX_BINARY,
        exponent: 0,
        format: Format::BinarySi,
    };
    let whole = whole.trim_start_matches('0');
    if whole.len() > 19 {
        return capped;
    }
    // Below 10^19 × 2^60 < 2^124.
    let units = whole
        .bytes()
        .fold(0u128, |m, d| m * 10 + u128::from(d - b'0'))
        << power;
    if units > MAX_BINARY as u128 {
        return capped;
    }
    let scale = NANO << power;
    let mut nanos = 0u128;
    let mut inexact = false;
    for d in fraction.trim_end_matches('0').bytes().rev() {
        // At most 9 × 2^90 + 2^90: fits.
        let n = u128::from(d - b'0') * scale + nanos;
        inexact |= !n.is_multiple_of(10);
        nanos = n / 10;
    }
    let nanos = units * NANO + nanos + u128::from(inexact);
    if nanos > MAX_BINARY as u128 * NANO {
        return capped;
    }
    Quantity {
        mantissa: nanos as i128,
        exponent: -9,
        // apimachinery: a binary quantity between 0 and 1 is decimal.
        format: if nanos > 0 && nanos < NANO {
            Format::DecimalSi
        } else {
            Format::BinarySi
        },
    }
}

fn pow10(n: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(n).ok()?)
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b > 0 { q + 1 } else { q }
}

#[cfg(test)]
mod tests;
