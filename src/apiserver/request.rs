//! One request as the handlers see it (already authenticated, its body
//! read whole), and what a handler answers.

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;
use tokio::sync::mpsc;

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

#[derive(Debug)]
pub struct Request {
    pub method: Method,
    /// The URL's path, percent-decoding not applied (names never need it).
    pub path: String,
    /// The query's parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub user: User,
}

impl Request {
    /// The last value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter as the API server converts one: absent,
    /// `0` or `false` in any case is false, anything else (`true`, the
    /// Python client's `True`, `1`, an empty `?watch`) is true.
    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    /// A header as text ("" when absent or not text).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    /// A JSON document with a status code.
    Json { code: u16, body: Value },
    /// Bytes of a given content type (logs, the openapi v2 document).
    Bytes {
        code: u16,
        content_type: &'static str,
        body: Bytes,
    },
    /// A response written as it comes (watch, log follow): each chunk is
    /// sent as soon as the handler's thread sends it; the response ends
    /// when the sender is dropped. A client that goes away closes the
    /// receiver, which the sender sees as an error.
    Stream {
        content_type: &'static str,
        chunks: mpsc::Receiver<Bytes>,
    },
    /// A reply with `Warning:` headers (unknown fields under
    /// fieldValidation=Warn, admission warnings), which kubectl prints.
    Warned {
        warnings: Vec<String>,
        reply: Box<Reply>,
    },
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Reply {
        Reply::Json { code: 200, body }
    }
}

/// Decodes `a=b&c=%20d` (`+` is a space, as Go's url.ParseQuery reads it).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_as_gos() {
        assert_eq!(
            parse_query("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1&x"),
            vec![
                (
                    "labelSelector".to_string(),
                    "app=web,tier in (a)".to_string()
                ),
                ("watch".to_string(), "1".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert_eq!(
            parse_query("a=%zz%4"),
            vec![("a".to_string(), "%zz%4".to_string())]
        );
    }

    #[test]
    fn flags_convert_as_the_api_servers_parameters_do() {
        let req = |query: &str| Request {
            method: Method::GET,
            path: "/api/v1/pods".into(),
            query: parse_query(query),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            user: User {
                name: "test".into(),
                groups: Vec::new(),
            },
        };
        for on in ["watch=true", "watch=True", "watch=1", "watch", "watch=yes"] {
            assert!(req(on).flag("watch"), "{on}");
        }
        for off in ["", "watch=false", "watch=FALSE", "watch=0", "follow=1"] {
            assert!(!req(off).flag("watch"), "{off}");
        }
    }
}
