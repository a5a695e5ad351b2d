//! TLS bound to Ed25519 identities.
//!
//! A node's certificate is self-signed with its own Ed25519 identity key. A peer that expects a
//! node accepts the connection only if the TLS 1.3 handshake signature verifies under the Ed25519
//! key it expected (taken from the signed node list): possession of that key is the proof, so
//! names, dates and issuers in the certificate are irrelevant and nothing is trusted by default.
//!
//! Nodes also present the same certificate as a TLS *client* certificate when they connect to
//! other nodes (mutual TLS). The server accepts connections without one (clients), checks the
//! handshake signature of one that is presented, and reports the proven key
//! ([`peer_identity`]); whether that key belongs to a listed node is the caller's decision.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::ring as provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use session_crypto::Ed25519PublicKey;
use zeroize::Zeroizing;

use crate::NetError;

/// DER prefix of a PKCS#8 v1 Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// The name clients put in SNI. Certificates are checked by key, never by name.
pub const TLS_SERVER_NAME: &str = "session-node";

/// A self-signed certificate for the Ed25519 identity with seed `seed`, and its private key.
pub fn identity_certificate(
    seed: &[u8; 32],
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), NetError> {
    let mut pkcs8 = Zeroizing::new(Vec::with_capacity(48));
    pkcs8.extend_from_slice(&PKCS8_ED25519_PREFIX);
    pkcs8.extend_from_slice(seed);
    let der = PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
        .map_err(|e| NetError::Certificate(e.to_string()))?;
    let params = rcgen::CertificateParams::new(vec![TLS_SERVER_NAME.to_owned()])
        .map_err(|e| NetError::Certificate(e.to_string()))?;
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| NetError::Certificate(e.to_string()))?;
    Ok((cert.der().clone(), PrivateKeyDer::Pkcs8(der)))
}

/// The Ed25519 key certified by `certificate` (a certificate made by [`identity_certificate`]).
pub fn certificate_key(certificate: &[u8]) -> Option<Ed25519PublicKey> {
    let start = certificate
        .windows(SPKI_ED25519_PREFIX.len())
        .position(|w| w == SPKI_ED25519_PREFIX)?
        + SPKI_ED25519_PREFIX.len();
    Ed25519PublicKey::from_slice(certificate.get(start..start + 32)?).ok()
}

/// The Ed25519 key a TLS client proved in the handshake of `connection`, if it presented a
/// certificate (only nodes do).
pub fn peer_identity(connection: &rustls::ServerConnection) -> Option<Ed25519PublicKey> {
    certificate_key(connection.peer_certificates()?.first()?.as_ref())
}

/// The TLS configuration of a node's HTTPS listener (TLS 1.3 only, HTTP/1.1): it asks for an
/// optional client certificate, which nodes present and clients do not.
pub fn server_config(seed: &[u8; 32]) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let (cert, key) = identity_certificate(seed)?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| NetError::Certificate(e.to_string()))?
            .with_client_cert_verifier(Arc::new(OptionalNodeVerifier::new()))
            .with_single_cert(vec![cert], key)
            .map_err(|e| NetError::Certificate(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS configuration for connecting to the node whose identity key is `expected`.
pub fn client_config(expected: Ed25519PublicKey) -> Result<Arc<rustls::ClientConfig>, NetError> {
    client_config_as(expected, None)
}

/// A node's own certificate and key, presented when it connects to other nodes.
#[derive(Clone)]
pub struct NodeIdentity {
    certificate: CertificateDer<'static>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity").finish_non_exhaustive()
    }
}

impl NodeIdentity {
    /// The identity of the Ed25519 key with seed `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, NetError> {
        let (certificate, key) = identity_certificate(seed)?;
        Ok(Self {
            certificate,
            key: Arc::new(key),
        })
    }

    /// The key this identity proves.
    pub fn public_key(&self) -> Option<Ed25519PublicKey> {
        certificate_key(self.certificate.as_ref())
    }
}

/// As [`client_config`], presenting `identity` as the client certificate when given (nodes
/// connecting to nodes).
pub fn client_config_as(
    expected: Ed25519PublicKey,
    identity: Option<&NodeIdentity>,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let builder =
        rustls::ClientConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| NetError::Certificate(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ExpectedKeyVerifier::new(expected)));
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => builder
            .with_client_auth_cert(vec![identity.certificate.clone()], identity.key.clone_key())
            .map_err(|e| NetError::Certificate(e.to_string()))?,
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts TLS clients with no certificate (clients) or with an Ed25519 identity certificate
/// whose key signed the handshake (nodes). Which keys count as nodes is decided after the
/// handshake, against the signed node list.
#[derive(Debug)]
pub struct OptionalNodeVerifier {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl OptionalNodeVerifier {
    /// A verifier for a node's listener.
    pub fn new() -> Self {
        Self {
            algorithms: provider::default_provider().signature_verification_algorithms,
        }
    }
}

impl Default for OptionalNodeVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientCertVerifier for OptionalNodeVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // The proof is the handshake signature under the certified key, checked below.
        match certificate_key(end_entity.as_ref()) {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        let key = certificate_key(cert.as_ref()).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))?;
        let mut spki = SPKI_ED25519_PREFIX.to_vec();
        spki.extend_from_slice(key.as_bytes());
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(spki.as_slice());
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// Accepts a server only if it proves possession of one expected Ed25519 key.
#[derive(Debug)]
pub struct ExpectedKeyVerifier {
    expected: Ed25519PublicKey,
    spki: Vec<u8>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ExpectedKeyVerifier {
    /// A verifier for the node with identity key `expected`.
    pub fn new(expected: Ed25519PublicKey) -> Self {
        let mut spki = SPKI_ED25519_PREFIX.to_vec();
        spki.extend_from_slice(expected.as_bytes());
        Self {
            expected,
            spki,
            algorithms: provider::default_provider().signature_verification_algorithms,
        }
    }

    /// The key this verifier accepts.
    pub fn expected(&self) -> Ed25519PublicKey {
        self.expected
    }
}

impl ServerCertVerifier for ExpectedKeyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // A quick, clear refusal for a node behind another key. The real proof is the handshake
        // signature below, checked against the expected key itself.
        if end_entity
            .as_ref()
            .windows(self.spki.len())
            .any(|w| w == self.spki.as_slice())
        {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is offered; a TLS 1.2 signature means something is wrong.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(self.spki.as_slice());
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use session_crypto::Ed25519Seed;

    /// Runs one handshake over an in-memory pipe; the server's view of the client's key.
    async fn handshake(
        server_seed: [u8; 32],
        client: Option<&NodeIdentity>,
    ) -> Result<Option<Ed25519PublicKey>, String> {
        let server_key = Ed25519Seed::from_bytes(server_seed)
            .key_pair()
            .ed25519_public();
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&server_seed).unwrap());
        let connector =
            tokio_rustls::TlsConnector::from(client_config_as(server_key, client).unwrap());
        let (a, b) = tokio::io::duplex(64 * 1024);
        let name = ServerName::try_from(TLS_SERVER_NAME).unwrap();
        let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
        client.map_err(|e| e.to_string())?;
        let server = server.map_err(|e| e.to_string())?;
        Ok(peer_identity(server.get_ref().1))
    }

    #[tokio::test]
    async fn the_server_learns_a_nodes_key_and_nothing_from_a_client() {
        let node_seed = [7u8; 32];
        let node = NodeIdentity::from_seed(&node_seed).unwrap();
        let node_key = Ed25519Seed::from_bytes(node_seed)
            .key_pair()
            .ed25519_public();
        assert_eq!(node.public_key(), Some(node_key));
        assert_eq!(
            handshake([1; 32], Some(&node)).await.unwrap(),
            Some(node_key)
        );
        assert_eq!(handshake([1; 32], None).await.unwrap(), None);
    }

    #[test]
    fn certificate_key_reads_only_ed25519_identity_certificates() {
        let (cert, _) = identity_certificate(&[3; 32]).unwrap();
        let key = Ed25519Seed::from_bytes([3; 32]).key_pair().ed25519_public();
        assert_eq!(certificate_key(cert.as_ref()), Some(key));
        assert_eq!(certificate_key(b"not a certificate"), None);
        assert_eq!(certificate_key(&cert.as_ref()[..40]), None);
    }
}
