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
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_every_suffix_family() {
        assert_eq!(q("100m").as_millis_ceil(), 100);
        assert_eq!(q("0.1").as_millis_ceil(), 100);
        assert_eq!(q("1e-1").as_millis_ceil(), 100);
        assert_eq!(q("2").as_millis_ceil(), 2000);
        assert_eq!(q("1Ki").as_bytes_ceil(), 1024);
        assert_eq!(q("1.5Gi").as_bytes_ceil(), 1536 * 1024 * 1024);
        assert_eq!(q("64Mi").as_bytes_ceil(), 64 << 20);
        assert_eq!(q("1k").as_bytes_ceil(), 1000);
        assert_eq!(q("1E").as_bytes_ceil(), 1_000_000_000_000_000_000);
        assert_eq!(q("2e3").as_bytes_ceil(), 2000);
        assert_eq!(q("2E3").as_bytes_ceil(), 2000);
        assert_eq!(q("+5").as_bytes_ceil(), 5);
        assert_eq!(q("-5").as_bytes_ceil(), -5);
        assert_eq!(q(".5").as_millis_ceil(), 500);
        assert_eq!(q("5.").as_bytes_ceil(), 5);
        assert_eq!(q("1n").as_millis_ceil(), 1);
        assert_eq!(q("0").as_bytes_ceil(), 0);
    }

    #[test]
    fn adds() {
        assert_eq!(q("100m").checked_add(&q("1")).unwrap(), q("1100m"));
        assert_eq!(q("1Gi").checked_add(&q("1Gi")).unwrap().canonical(), "2Gi");
        assert_eq!(q("-1").checked_add(&q("1")).unwrap(), Quantity::zero());
    }

    #[test]
    fn rounds_up() {
        assert_eq!(q("1500m").as_bytes_ceil(), 2);
        assert_eq!(q("0.1").as_bytes_ceil(), 1);
        assert_eq!(q("-1500m").as_bytes_ceil(), -1);
        assert_eq!(q("1.0001m").as_millis_ceil(), 2);
        assert_eq!(q("1u").as_millis_ceil(), 1);
    }

    #[test]
    fn saturates_at_i64() {
        assert_eq!(q("100E").as_bytes_ceil(), i64::MAX);
        assert_eq!(q("-100E").as_bytes_ceil(), i64::MIN);
        assert_eq!(q("1e400").as_bytes_ceil(), i64::MAX);
    }

    #[test]
    fn refuses_what_the_api_server_refuses() {
        for bad in [
            "", "abc", ".", "1.2.3", "1 Gi", " 1", "1Gi ", "--1", "1e2.5", "0x10", "1/2",
        ] {
            assert_eq!(
                Quantity::parse(bad).unwrap_err(),
                QuantityError::FormatWrong,
                "{bad:?}"
            );
        }
        for bad in ["1e", "1Kii", "1mi", "1GG", "1ki", "1Ge3", "1iE"] {
            assert_eq!(
                Quantity::parse(bad).unwrap_err(),
                QuantityError::Suffix,
                "{bad:?}"
            );
        }
        assert_eq!(
            QuantityError::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn compares_across_notations() {
        assert_eq!(q("100m"), q("0.1"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1k"), q("1e3"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("500m") < q("1"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert!(q("1e300") > q("1Ei"));
        // Below a nano the API server rounds up to one.
        assert_eq!(q("1e-300"), q("1n"));
        assert_eq!(q("-1e-300"), q("-1n"));
        assert!(q("-1e300") < q("-1"));
    }

    #[test]
    fn prints_the_canonical_form() {
        let cases = [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("1000", "1k"),
            ("100m", "100m"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1000Ki", "1000Ki"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("1500e0", "1500"),
            ("12e-1", "1200e-3"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-1Gi", "-1Gi"),
            ("0.1n", "1n"),
            ("1.1Ki", "1126400m"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("1000E", "1000E"),
        ];
        for (input, canonical) in cases {
            assert_eq!(q(input).canonical(), canonical, "{input}");
        }
    }

    #[test]
    fn the_kubelets_constructors_print_as_its_quantities() {
        assert_eq!(Quantity::binary(16_710_164_480).canonical(), "16318520Ki");
        assert_eq!(Quantity::binary(94_579_926_221).canonical(), "94579926221");
        assert_eq!(Quantity::binary(94_579_926_000).canonical(), "94579926000");
        assert_eq!(Quantity::binary(2 << 20).canonical(), "2Mi");
        assert_eq!(Quantity::binary(0).canonical(), "0");
        assert_eq!(Quantity::decimal(110).canonical(), "110");
        assert_eq!(Quantity::decimal(4000).canonical(), "4k");
    }

    /// A binary suffix multiplies every digit of the fraction by up to
    /// 2^60: the value the fuzzer found kept only 20 significant digits,
    /// printed 27 and read back as another number.
    #[test]
    fn a_binary_fraction_is_exact_to_the_nano() {
        let found = q(".70071001000000061Ei");
        // ceil(0.70071001000000061 × 2^60 × 10^9), in nanos.
        assert_eq!(found.canonical(), "807863639022279493903547571n");
        assert_eq!(q(&found.canonical()), found);
        assert_eq!(q("1.5Ei").canonical(), "1536Pi");
        assert_eq!(q("0.5Ki").canonical(), "512");
        // Below 1 a binary quantity is decimal (and so prints).
        assert_eq!(q("0.0000000001Ki").canonical(), "103n");
        // A fraction of any length, multiplied out exactly.
        let long = format!("0.{}1Ki", "0".repeat(5000));
        assert_eq!(q(&long).canonical(), "1n");
        assert_eq!(
            q(&format!("1.{}Mi", "5".repeat(300))).canonical(),
            "1631118222222223n"
        );
    }

    /// apimachinery caps a binary quantity at 2^63-1; a decimal one is not
    /// capped.
    #[test]
    fn a_binary_quantity_is_capped_at_the_largest_int64() {
        let most = "9223372036854775807";
        assert_eq!(q("8Ei").canonical(), most);
        assert_eq!(q("100000000000000000000000Ki").canonical(), most);
        assert_eq!(q("-8Ei").canonical(), format!("-{most}"));
        assert_eq!(q("7.99999999999999999999Ei").canonical(), most);
        assert_eq!(q("7Ei").canonical(), "7Ei");
        assert_eq!(q("1e30").canonical(), "1e30");
    }

    /// A decimal quantity keeps 36 significant digits (more than any
    /// resource has), rounding up past them, and reads back as printed.
    #[test]
    fn a_long_decimal_rounds_up_past_36_digits() {
        let digits = "123456789012345678901234567890123456";
        assert_eq!(q(digits).canonical(), digits);
        let longer = q(&format!("{digits}1"));
        assert_eq!(longer.canonical(), "1234567890123456789012345678901234570");
        assert_eq!(q(&longer.canonical()), longer);
        assert_eq!(
            q(&format!("-{digits}1")).canonical(),
            "-1234567890123456789012345678901234570"
        );
    }

    proptest::proptest! {
        /// Any digits with any suffix: printed, read back, the same value.
        #[test]
        fn any_quantity_reads_back_as_printed(
            whole in "[0-9]{0,30}",
            fraction in proptest::option::of("[0-9]{0,40}"),
            s in 0usize..16,
        ) {
            let suffixes = ["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-3", "n", "u", "T", "Ti", "Ei", "Pi"];
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let text = format!("{whole}{fraction}{}", suffixes[s]);
            proptest::prop_assume!(!whole.is_empty() || fraction.len() > 1);
            let parsed = q(&text);
            proptest::prop_assert_eq!(q(&parsed.canonical()), parsed, "{}", text);
        }
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_parses_back_to_the_same_value(m in -1_000_000_000i64..1_000_000_000, s in 0usize..16) {
            let suffixes = ["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-3", "n", "u", "T", "Ti", "E", "Pi"];
            let text = format!("{m}{}", suffixes[s]);
            let parsed = q(&text);
            proptest::prop_assert_eq!(q(&parsed.canonical()), parsed);
        }
    }
}
