//! Images: a content-addressed store, archive loading, imports and registry
//! pulls, and the layer unpacker.
//!
//! TODO(image): everything.
