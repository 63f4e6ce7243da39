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
        // No whole multiple of 1024: a plain number, which reads back as a
        // decimal quantity (printed `1088k` then), as in apimachinery.
        ("1062.5Ki", "1088000"),
        ("1088000", "1088k"),
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
