//! The parser (client-go's `parser.go`): template text inside braces
//! into nodes.

use super::{JsonPathError, Node, Param};

pub(super) struct Parser<'a> {
    pub(super) input: &'a str,
    pub(super) pos: usize,
}

fn is_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Parses the inside of `{…}`; with `braced`, a `}` ends it (and is
    /// consumed), otherwise the end of input does (filter operands).
    pub(super) fn inside_action(
        &mut self,
        cur: &mut Vec<Node>,
        braced: bool,
    ) -> Result<(), JsonPathError> {
        loop {
            let rest = self.rest();
            if braced && rest.starts_with('}') {
                self.pos += 1;
                return Ok(());
            }
            if rest.starts_with("[?(") {
                self.filter(cur)?;
                continue;
            }
            if rest.starts_with("..") {
                if cur.last() == Some(&Node::Recursive) {
                    return Err(JsonPathError("invalid multiple recursive descent".into()));
                }
                self.pos += 2;
                cur.push(Node::Recursive);
                if self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.field(cur);
                }
                continue;
            }
            let Some(c) = self.bump() else {
                if braced {
                    return Err(JsonPathError("unclosed action".into()));
                }
                return Ok(());
            };
            match c {
                '\n' | '\r' => return Err(JsonPathError("unclosed action".into())),
                ' ' | '@' | '$' => {}
                '[' => self.array(cur)?,
                '"' | '\'' => self.quote(cur, c)?,
                '.' => self.field(cur),
                '+' | '-' | '0'..='9' => {
                    self.pos -= c.len_utf8();
                    self.number(cur)?;
                }
                c if c.is_alphanumeric() || c == '_' => {
                    self.pos -= c.len_utf8();
                    self.identifier(cur)?;
                }
                other => {
                    return Err(JsonPathError(format!(
                        "unrecognized character in action: U+{:04X} '{other}'",
                        other as u32
                    )));
                }
            }
        }
    }

    fn field(&mut self, cur: &mut Vec<Node>) {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.bump();
                if let Some(escaped) = self.bump() {
                    name.push(escaped);
                }
                continue;
            }
            if is_terminator(c) {
                break;
            }
            name.push(c);
            self.bump();
        }
        cur.push(if name == "*" {
            Node::Wildcard
        } else {
            Node::Field(name)
        });
    }

    fn identifier(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_terminator(c) {
                break;
            }
            self.bump();
        }
        let word = &self.input[start..self.pos];
        cur.push(match word {
            "range" => Node::Range,
            "end" => Node::End,
            "true" => Node::Bool(true),
            "false" => Node::Bool(false),
            other => {
                return Err(JsonPathError(format!("unrecognized identifier {other}")));
            }
        });
        Ok(())
    }

    fn number(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_terminator(c) && c != '.' {
                break;
            }
            self.bump();
        }
        let text = &self.input[start..self.pos];
        if let Ok(n) = text.parse::<i64>() {
            cur.push(Node::Int(n));
        } else if let Ok(f) = text.parse::<f64>() {
            cur.push(Node::Float(f));
        } else {
            return Err(JsonPathError(format!("cannot parse number {text}")));
        }
        Ok(())
    }

    fn quote(&mut self, cur: &mut Vec<Node>, end: char) -> Result<(), JsonPathError> {
        let start = self.pos - 1;
        loop {
            match self.bump() {
                None | Some('\n') => {
                    return Err(JsonPathError("unterminated quoted string".into()));
                }
                Some('\\') => {
                    self.bump();
                }
                Some(c) if c == end => break,
                Some(_) => {}
            }
        }
        let raw = &self.input[start..self.pos];
        let text = unquote(raw)
            .ok_or_else(|| JsonPathError(format!("unquote string {raw} error invalid syntax")))?;
        cur.push(Node::Text(text));
        Ok(())
    }

    fn array(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        let start = self.pos;
        loop {
            match self.bump() {
                None | Some('\n') => return Err(JsonPathError("unterminated array".into())),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let mut text = &self.input[start..self.pos - 1];
        if text == "*" {
            text = ":";
        }
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() > 1 {
            let mut lists = Vec::new();
            for part in parts {
                let inner = format!("[{}]", part.trim_matches(' '));
                let mut p = Parser {
                    input: &inner,
                    pos: 0,
                };
                let mut list = Vec::new();
                p.inside_action(&mut list, false)?;
                lists.push(list);
            }
            cur.push(Node::Union(lists));
            return Ok(());
        }
        if text.len() >= 2
            && text.starts_with('\'')
            && text.ends_with('\'')
            && !text[1..text.len() - 1].contains('\'')
        {
            let inner = format!(".{}}}", &text[1..text.len() - 1]);
            let mut p = Parser {
                input: &inner,
                pos: 0,
            };
            p.inside_action(cur, true)?;
            return Ok(());
        }
        cur.push(Node::Array(slice_params(text)?));
        Ok(())
    }

    fn filter(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        self.pos += 3;
        let start = self.pos;
        let (mut begin, mut end) = (false, false);
        let mut pair = '"';
        loop {
            let Some(c) = self.bump() else {
                return Err(JsonPathError("unterminated filter".into()));
            };
            match c {
                '\n' => return Err(JsonPathError("unterminated filter".into())),
                '"' | '\'' => {
                    if !begin {
                        begin = true;
                        pair = c;
                        continue;
                    }
                    let before = self.input[..self.pos - 1].chars().next_back();
                    if before != Some('\\') && c == pair {
                        end = true;
                    }
                }
                ')' if begin == end => break,
                _ => {}
            }
        }
        if self.bump() != Some(']') {
            return Err(JsonPathError("unclosed array expect ]".into()));
        }
        let text = &self.input[start..self.pos - 2];
        let parse = |t: &str| -> Result<Vec<Node>, JsonPathError> {
            let mut p = Parser { input: t, pos: 0 };
            let mut list = Vec::new();
            p.inside_action(&mut list, false)?;
            Ok(list)
        };
        // `^([^!<>=]+)([!<>=]+)(.+?)$`
        let op_start = text.find(['!', '<', '>', '=']);
        let split = op_start.filter(|&i| i > 0).and_then(|i| {
            let op_len = text[i..]
                .find(|c: char| !matches!(c, '!' | '<' | '>' | '='))
                .unwrap_or(text.len() - i);
            let rest = &text[i + op_len..];
            (!rest.is_empty()).then(|| (&text[..i], &text[i..i + op_len], rest))
        });
        match split {
            None => cur.push(Node::Filter {
                left: parse(text)?,
                right: Vec::new(),
                op: "exists".into(),
            }),
            Some((l, op, r)) => cur.push(Node::Filter {
                left: parse(l)?,
                right: parse(r)?,
                op: op.to_string(),
            }),
        }
        Ok(())
    }
}

/// `^(-?[\d]*)(:-?[\d]*)?(:-?[\d]*)?$` into start, end and step.
fn slice_params(text: &str) -> Result<[Param; 3], JsonPathError> {
    let invalid = || JsonPathError(format!("invalid array index {text}"));
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return Err(invalid());
    }
    let valid = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        digits.chars().all(|c| c.is_ascii_digit())
    };
    if !parts.iter().all(|p| valid(p)) {
        return Err(invalid());
    }
    let mut params = [Param::default(); 3];
    for i in 0..3 {
        match parts.get(i) {
            Some(s) if !s.is_empty() => {
                params[i].known = true;
                params[i].value = s
                    .parse()
                    .map_err(|_| JsonPathError(format!("array index {s} is not a number")))?;
            }
            Some(_) if i > 0 => params[i].known = false,
            _ if i == 1 => {
                params[1] = Param {
                    value: params[0].value + 1,
                    known: true,
                    derived: true,
                };
            }
            _ => {}
        }
    }
    if parts[0].is_empty() && parts.len() == 1 {
        return Err(invalid());
    }
    Ok(params)
}

/// Go's `strconv.Unquote`, extended (as client-go does) to single-quoted
/// strings of any length.
fn unquote(raw: &str) -> Option<String> {
    let quote = raw.chars().next()?;
    let body = raw.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
            }
            'u' => {
                let h: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            'U' => {
                let h: String = chars.by_ref().take(8).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            d @ '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{d}{rest}"), 8).ok()?;
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
