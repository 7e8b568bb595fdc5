//! A trusted profile from a compute resource (`ContainerAuthenticator`):
//! IAM's cr-token grant with the token the platform puts in a file
//! (Kubernetes / OpenShift service account projection, Code Engine).
//!
//! The file is read again for every token request: the platform rotates it.
//! Its contents are therefore not part of the cache key (the path and the
//! profile are). A file that is missing, empty or unreadable is
//! `ERR_INVALID_ARG` naming the file (never quoting it), at the first call.

use super::iam::{IamConfig, IamOptions};
use super::profile::{self, By, ProfileOptions};
use super::source::{BoxFuture, Canonical, Fetched, Sharing, SourceKey, TokenSource};
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::io::Read;
use std::path::{Path, PathBuf};

const CR_TOKEN_GRANT: &str = "urn:ibm:params:oauth:grant-type:cr-token";

/// Where the platforms put the token, tried in this order when no file is
/// named (ibm-cloud-sdk-core's order): IKS/ROKS vault, a projected service
/// account token, Code Engine.
pub const DEFAULT_CR_TOKEN_FILES: [&str; 3] = [
    "/var/run/secrets/tokens/vault-token",
    "/var/run/secrets/tokens/sa-token",
    "/var/run/secrets/codeengine.cloud.ibm.com/compute-resource-token/token",
];

/// A service account token is a JWT of a few KiB; refuse anything absurd.
const MAX_CR_TOKEN: u64 = 64 * 1024;

#[derive(Clone, Debug, Default)]
pub struct ContainerOptions {
    /// The file with the compute resource token; default: the first of
    /// `DEFAULT_CR_TOKEN_FILES` that can be read.
    pub cr_token_filename: Option<String>,
    pub profile: ProfileOptions,
    pub iam: IamOptions,
}

pub struct ContainerSource {
    cfg: IamConfig,
    /// The file given, or `None` for the default list.
    file: Option<PathBuf>,
    profile: Vec<(By, String)>,
    key: SourceKey,
}

impl ContainerSource {
    pub fn new(o: &ContainerOptions) -> Result<Self> {
        let profile = o.profile.given();
        if profile.is_empty() {
            return Err(Error::invalid(
                "ContainerAuthenticator needs a trusted profile: iamProfileId, iamProfileName or iamProfileCrn",
            ));
        }
        let file = match o.cr_token_filename.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(f) => Some(PathBuf::from(f)),
        };
        let cfg = IamConfig::new(&o.iam)?;
        let file_text = file.as_ref().map(|f| f.to_string_lossy().into_owned());
        let credential = profile::canonical(
            Canonical::new().part("file", file_text.as_deref()),
            &profile,
            None,
        )
        .finish();
        let key = SourceKey {
            kind: "container",
            credential,
            settings: cfg.canonical().finish(),
        };
        Ok(ContainerSource {
            cfg,
            file,
            profile,
            key,
        })
    }

    /// The compute resource token, read now.
    pub fn read_cr_token(&self) -> Result<Secret> {
        match &self.file {
            Some(f) => read_token_file(f),
            None => {
                for f in DEFAULT_CR_TOKEN_FILES {
                    let path = Path::new(f);
                    // As ibm-cloud-sdk-core: the first file that can be opened.
                    if std::fs::File::open(path).is_ok() {
                        return read_token_file(path);
                    }
                }
                Err(Error::invalid(format!(
                    "ContainerAuthenticator: no compute resource token file could be read (tried {}); set crTokenFilename",
                    DEFAULT_CR_TOKEN_FILES.join(", ")
                )))
            }
        }
    }
}

/// The token in `path`, surrounding whitespace removed (a trailing newline
/// is common in files written by hand; a JWT has no whitespace).
pub fn read_token_file(path: &Path) -> Result<Secret> {
    let shown = path.display();
    let fail = |why: String| {
        Error::invalid(format!(
            "ContainerAuthenticator: cannot use the compute resource token file {shown}: {why}"
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| fail(io_reason(&e)))?;
    let mut bytes = Vec::new();
    file.take(MAX_CR_TOKEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(io_reason(&e)))?;
    let bytes = Secret::new(String::from_utf8(bytes).map_err(|e| {
        let mut b = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut b);
        fail("it is not UTF-8 text".into())
    })?);
    if bytes.expose().len() as u64 > MAX_CR_TOKEN {
        return Err(fail(format!("it is larger than {MAX_CR_TOKEN} bytes")));
    }
    let token = bytes.expose().trim();
    if token.is_empty() {
        return Err(fail("it is empty".into()));
    }
    Ok(Secret::new(token))
}

/// Why a file could not be read, without the OS message's extras.
fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "it is a directory".into(),
        _ => format!("{:?}", e.kind()),
    }
}

impl TokenSource for ContainerSource {
    fn key(&self) -> &SourceKey {
        &self.key
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched>> {
        Box::pin(async move {
            let cr_token = self.read_cr_token()?;
            let mut form = vec![
                ("grant_type", CR_TOKEN_GRANT),
                ("cr_token", cr_token.expose()),
            ];
            for (by, v) in &self.profile {
                form.push((by.form_field(), v.as_str()));
            }
            self.cfg.request(&form, &[cr_token.expose()]).await
        })
    }

    /// The compute resource token differs from pod to pod (and the cache
    /// key holds only its file's path and the profile, nothing secret):
    /// shared only with the store secret, per trusted profile.
    fn sharing(&self) -> Sharing {
        Sharing::WithStoreKey {
            identity: profile::canonical(Canonical::new(), &self.profile, None).finish(),
        }
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.cfg.base_url)
    }

    fn fetch_budget(&self) -> std::time::Duration {
        self.cfg.transport.worst_case()
    }

    fn describe(&self) -> String {
        let (by, v) = &self.profile[0];
        format!("IAM cr-token {} {} {v}", self.cfg.base_url, by.form_field())
    }
}

#[cfg(test)]
mod tests;
