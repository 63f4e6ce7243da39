//! Label selectors in kubectl's grammar: `a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined.
//!
//! TODO(api): the full grammar.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Selector {
    equals: Vec<(String, String)>,
}

impl Selector {
    pub fn parse(text: &str) -> anyhow::Result<Selector> {
        let mut equals = Vec::new();
        for term in text.split(',').filter(|t| !t.is_empty()) {
            let (k, v) = term
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("unable to parse requirement: {term}"))?;
            equals.push((k.to_string(), v.to_string()));
        }
        Ok(Selector { equals })
    }

    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        self.equals
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    }
}
