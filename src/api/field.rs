//! Field errors as apimachinery's `field.Error` renders them:
//! `<path>: <type>[: <value>][: <detail>]`.

use std::fmt;

/// The error types of apimachinery's `field.ErrorType`, with their strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
        }
    }

    /// Whether the body shows the offending value (`Invalid value: "x"`).
    fn shows_value(self) -> bool {
        matches!(
            self,
            ErrorType::Invalid
                | ErrorType::NotSupported
                | ErrorType::NotFound
                | ErrorType::Duplicate
        )
    }
}

/// A value as apimachinery prints it in an error: strings quoted with Go's
/// `%q`, numbers and booleans bare, a list of strings with Go's `%#v`
/// (`[]string{"a", "b"}`).
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    None,
    Str(String),
    Int(i64),
    Bool(bool),
    StrList(Vec<String>),
}

/// One cause of an Invalid error.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
    pub value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        kind: ErrorType,
        field: impl Into<String>,
        value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, BadValue::None, detail)
    }

    pub fn invalid(field: impl Into<String>, value: BadValue, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, value, detail)
    }

    pub fn duplicate(field: impl Into<String>, value: BadValue) -> Self {
        Self::new(ErrorType::Duplicate, field, value, "")
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, field, BadValue::None, detail)
    }

    pub fn not_found(field: impl Into<String>, value: BadValue) -> Self {
        Self::new(ErrorType::NotFound, field, value, "")
    }

    /// `Unsupported value: "x": supported values: "a", "b"`
    pub fn not_supported(field: impl Into<String>, value: BadValue, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
        Self::new(
            ErrorType::NotSupported,
            field,
            value,
            format!("supported values: {}", list.join(", ")),
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.as_str())?;
        if self.kind.shows_value() {
            match &self.value {
                BadValue::None => f.write_str(": null")?,
                BadValue::Str(s) => write!(f, ": {}", go_quote(s))?,
                BadValue::Int(i) => write!(f, ": {i}")?,
                BadValue::Bool(b) => write!(f, ": {b}")?,
                BadValue::StrList(list) => {
                    let items: Vec<String> = list.iter().map(|s| go_quote(s)).collect();
                    write!(f, ": []string{{{}}}", items.join(", "))?
                }
            }
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Go's `strconv.Quote` (and `%q`): printable characters as they are,
/// the C escapes Go knows (`\a \b \f \n \r \t \v`), other ASCII controls
/// as `\xNN`, other unprintable characters as `\uNNNN` or `\UNNNNNNNN`.
/// Go's IsPrint is letters, marks, numbers, punctuation, symbols and the
/// ASCII space; without Unicode's category tables here, "unprintable" is
/// controls, whitespace other than the space, and the format (Cf) and
/// private-use (Co) characters; unassigned code points print as they are.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`, short of the unassigned code points.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        // Format characters (Cf).
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        // Private use (Co).
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    /// Each quoted form is what Go's strconv.Quote returns for the text.
    #[test]
    fn quotes_like_strconv_quote() {
        let cases = [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\n\r\t", r#""\n\r\t""#),
            ("\u{1b}[0m\u{7f}", r#""\x1b[0m\x7f""#),
            ("é 😀 中", "\"é 😀 中\""),
        ];
        for (text, want) in cases {
            assert_eq!(go_quote(text), want, "{text:?}");
        }
    }

    /// The cases where the manifest errors' quoter (which went by byte
    /// value only) and the jsonpath printer's disagreed: Go has escapes of
    /// its own for BEL, BS, FF and VT, and escapes unprintable characters
    /// above ASCII (C1 controls, non-ASCII spaces, format characters).
    #[test]
    fn where_the_two_old_quoters_disagreed() {
        let cases = [
            ("\u{7}\u{8}\u{c}\u{b}", r#""\a\b\f\v""#),
            ("\u{85}", r#""\u0085""#),
            ("a\u{a0}b", r#""a\u00a0b""#),
            ("\u{200b}", r#""\u200b""#),
            ("\u{feff}x", r#""\ufeffx""#),
            ("\u{2028}", r#""\u2028""#),
            ("\u{e000}", r#""\ue000""#),
            ("\u{e0041}", r#""\U000e0041""#),
        ];
        for (text, want) in cases {
            assert_eq!(go_quote(text), want, "{text:?}");
        }
    }
}
