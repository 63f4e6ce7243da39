//! What the library's tests that need root reach of it
//! (`tests/privileged/`): the layer unpacker, the merged view of unpacked
//! layers, the checked procfs root and the sysctl writes through it, the
//! binary's sealed copy, and the network's set-up with CNI CHECK. Those
//! tests make device nodes, trusted xattrs, files owned by others, mounts
//! and network namespaces, so they run in the integration suite (as root)
//! and `cargo test --lib` runs as any user. Not an API of `pod`: hidden,
//! and only for them.

pub use crate::image::blobs::digest_of;
pub use crate::image::unpack::unpack;
pub use crate::network::cni::{Attachment, Cancel};
pub use crate::network::{attach, cache_dir, detach};
pub use crate::node::config::Network;
pub use crate::runtime::exe::fd as sealed_binary_fd;
pub use crate::runtime::init::{write_sysctl, write_sysctl_in};
pub use crate::runtime::layers::read_file;
pub use crate::runtime::procfs::ProcRoot;
pub use crate::store::Store;
