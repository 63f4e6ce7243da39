//! The API server's keys and certificates, kept in `<root>/serve/` (0700,
//! every file 0600): a CA made on first use, the serving certificate it
//! signs for 127.0.0.1 and localhost, the one client certificate it signs
//! for the kubeconfig (`pod kubeconfig`), and a bearer token, the other
//! way in that kubeconfig can carry. All are made together, once, under a
//! lock, so two `pod serve`/`pod kubeconfig` racing end with one set.
//!
//! The API is root on this machine: whoever holds the client key (or the
//! token) runs containers as root. Hence nothing here is ever readable by
//! another user, and the CA's key never leaves the directory.
//!
//! Keys are ECDSA P-256 (rcgen's default with ring, which rustls and
//! kubectl's Go TLS both accept).

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::store::{Lock, Store, write_atomic};

/// The user the kubeconfig's certificate names (its CN) and its group
/// (O): kubeadm's admin kubeconfig says the same, and `kubectl auth
/// whoami` shows them.
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// The PEM files of one state directory's API server.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
    pub token: String,
}

const FILES: [&str; 7] = [
    "ca.crt",
    "ca.key",
    "server.crt",
    "server.key",
    "client.crt",
    "client.key",
    "token",
];

/// `<root>/serve`: the directory of the keys, the kubeconfig and the
/// address the running server listens on.
pub fn dir(store: &Store) -> PathBuf {
    store.root().join("serve")
}

/// The keys and certificates, made when missing.
pub fn ensure(store: &Store) -> Result<Pki> {
    let dir = dir(store);
    private_dir(&dir)?;
    let _lock = Lock::exclusive(&dir.join(".lock"))
        .with_context(|| format!("locking {}", dir.display()))?;
    if !FILES.iter().all(|f| dir.join(f).exists()) {
        make(&dir)?;
    }
    let read = |name: &str| -> Result<String> {
        let path = dir.join(name);
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(Pki {
        ca_cert: read("ca.crt")?,
        server_cert: read("server.crt")?,
        server_key: read("server.key")?,
        client_cert: read("client.crt")?,
        client_key: read("client.key")?,
        token: read("token")?.trim().to_string(),
    })
}

/// Creates `dir` 0700, or tightens it.
fn private_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", dir.display()))
}

/// Makes the whole set: a partial one (a crash between two writes) is
/// made again, since a new CA invalidates every certificate of the old.
fn make(dir: &Path) -> Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = name("pod-ca", None);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    valid_for_years(&mut ca, 10);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, &ca_key);

    let server_key = KeyPair::generate()?;
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    server.distinguished_name = name("pod-apiserver", None);
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    valid_for_years(&mut server, 10);
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name = name(ADMIN_USER, Some(ADMIN_GROUP));
    client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    valid_for_years(&mut client, 10);
    let client_cert = client.signed_by(&client_key, &issuer)?;

    let files = [
        ("ca.key", ca_key.serialize_pem()),
        ("server.crt", server_cert.pem()),
        ("server.key", server_key.serialize_pem()),
        ("client.crt", client_cert.pem()),
        ("client.key", client_key.serialize_pem()),
        ("token", format!("{}\n", random_token()?)),
        // Last: its presence with the others says the set is whole.
        ("ca.crt", ca_cert.pem()),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn name(common: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

/// From an hour ago (a clock a little behind still accepts it) for
/// `years`.
fn valid_for_years(params: &mut CertificateParams, years: i64) {
    let now = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::Duration::from_secs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
    params.not_before = now - std::time::Duration::from_secs(3600);
    params.not_after = now + std::time::Duration::from_secs(years as u64 * 365 * 86400);
}

/// 32 random bytes in hex, from the kernel.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(hex::encode(bytes))
}
