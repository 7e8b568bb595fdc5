//! The rustls configuration behind every client: the Mozilla roots plus the
//! system's, the caller's `caCert` on top, and one addition to webpki's
//! rules: a server certificate that is byte for byte one of the certificates
//! given in `caCert` is accepted even where webpki refuses it (a self-signed
//! certificate that is its own CA, as `openssl req -x509` makes and as Cloud
//! Pak for Data and OpenShift clusters serve: webpki says
//! `CaUsedAsEndEntity`). Node's TLS and ibm-cloud-sdk-core accept such a
//! certificate given as a CA, so users pass it that way. The host name and
//! the validity dates are still checked, and the handshake signature is
//! verified with the certificate's key as always.

use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The Mozilla roots and the system's, loaded once per process (reading the
/// system store costs milliseconds).
fn base_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // Native stores often hold a few unparsable certificates; skip them.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        roots
    })
}

/// The certificates of a PEM bundle (`caCert`), DER.
pub fn parse_pem_bundle(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        out.push(item.map_err(|_| Error::invalid("caCert is not a valid PEM certificate bundle"))?);
    }
    if out.is_empty() {
        return Err(Error::invalid("caCert holds no PEM certificate"));
    }
    Ok(out)
}

/// A rustls client configuration (HTTP's and the token store's):
/// verifying, with `ca_cert` trusted on top of the usual roots, or, with
/// `verify` false, accepting any certificate. No ALPN: the caller sets it.
pub fn client_config(verify: bool, ca_cert: Option<&str>) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(&format!("TLS versions: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if verify {
        let pinned = match ca_cert {
            Some(pem) => parse_pem_bundle(pem)?,
            None => Vec::new(),
        };
        let mut roots = base_roots().clone();
        for c in &pinned {
            // A certificate webpki cannot take as an anchor may still be
            // pinned (matched exactly), so a refusal here is not an error.
            let _ = roots.add(c.clone());
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| Error::invalid(format!("caCert cannot be used: {e}")))?;
        Arc::new(PinningVerifier { inner, pinned })
    } else {
        Arc::new(AcceptAny)
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// webpki's verdict, or for a certificate given in `caCert` byte for byte,
/// our own check of its host name and validity dates.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(e)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                check_pinned(end_entity, server_name, now).map_err(|own| {
                    // Our own check's reason when it has one, else webpki's.
                    own.unwrap_or(e)
                })
            }
            v => v,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A pinned certificate must name the host and be within its dates.
/// `Err(None)`: unreadable (webpki's own error stands).
fn check_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<ServerCertVerified, Option<rustls::Error>> {
    use rustls::CertificateError;
    use x509_cert::der::Decode;
    let parsed = rustls::server::ParsedCertificate::try_from(cert).map_err(|_| None)?;
    rustls::client::verify_server_name(&parsed, server_name).map_err(Some)?;
    let x509 = x509_cert::Certificate::from_der(cert.as_ref()).map_err(|_| None)?;
    let validity = &x509.tbs_certificate().validity();
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    let now = now.as_secs();
    if now < not_before {
        return Err(Some(CertificateError::NotValidYet.into()));
    }
    if now > not_after {
        return Err(Some(CertificateError::Expired.into()));
    }
    Ok(ServerCertVerified::assertion())
}

/// `disableSslVerification`: any certificate, though the handshake signature
/// must still match the certificate presented.
#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
