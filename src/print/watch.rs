//! `get -w`: print rows again as objects change.
//!
//! TODO(print): first cut.

use anyhow::Result;

use super::{OutputFormat, TableOptions};
use crate::api::Object;
use crate::store::Store;

pub fn run(
    _store: &Store,
    _namespace: Option<&str>,
    _shown: &[Object],
    _format: &OutputFormat,
    _options: &TableOptions,
) -> Result<()> {
    anyhow::bail!("watch is not implemented yet")
}
