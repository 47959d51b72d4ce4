//! The socket under an SMTP session: our own TCP stream (TCP_NODELAY, so a
//! small command is not held back by Nagle against a delayed-ACK receiver,
//! the ~40 ms stall SPEC §8 describes in lettre 0.11.23's own stream), and
//! rustls on top for implicit TLS or STARTTLS.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};

/// Why a TLS handshake failed, and whether trying again later may help (a
/// timeout, a dropped connection) or not (a refused certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    pub transient: bool,
    pub message: String,
}

impl TlsFailure {
    fn setup(message: String) -> Self {
        Self { transient: false, message }
    }
}

/// What a session needs of its connection: bytes both ways, each wait
/// bounded, and an upgrade to TLS. The socket ([`Stream`]) is one; a
/// scripted stream in memory is another, so the conversation is tested
/// without a network.
pub trait Transport: Read + Write {
    /// How long a read may block from now on (never unbounded).
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()>;
    /// How long a write may block from now on (never unbounded).
    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()>;
    /// STARTTLS: the handshake on this connection now, within `timeout` as a whole.
    fn start_tls(&mut self, host: &str, verify: bool, timeout: Duration) -> Result<(), TlsFailure>;
    /// The protocol, cipher and certificate once encrypted, for transcripts.
    fn tls_description(&self) -> Option<String>;
}

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only while the plain stream is being upgraded by STARTTLS.
    Closed,
}

/// Opens a TCP connection to the first address of `host:port` that answers,
/// all addresses together within `timeout`: a name with eight silent
/// addresses costs one `timeout`, not eight. `host` may be an IPv6 literal
/// in brackets (`[::1]`), as an account stores it.
pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
    let deadline = Instant::now() + timeout;
    let addresses = (unbracket(host), port).to_socket_addrs()?;
    connect_any(addresses, deadline, timeout)
}

/// The first of `addresses` that answers before `deadline`. Each address
/// waits for at most its share of the time left, so a silent first address
/// (an IPv6 route that goes nowhere) leaves time for the ones after it.
fn connect_any(
    addresses: impl IntoIterator<Item = SocketAddr>,
    deadline: Instant,
    timeout: Duration,
) -> io::Result<(TcpStream, SocketAddr)> {
    let addresses: Vec<SocketAddr> = addresses.into_iter().collect();
    let mut last_error = None;
    for (index, addr) in addresses.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last_error = Some(io::Error::new(io::ErrorKind::TimedOut, format!("no address answered within {}s", timeout.as_secs())));
            break;
        }
        let share = left / (addresses.len() - index) as u32;
        match TcpStream::connect_timeout(addr, share.max(Duration::from_millis(1))) {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                tcp.set_read_timeout(Some(timeout))?;
                tcp.set_write_timeout(Some(timeout))?;
                return Ok((tcp, *addr));
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host name resolves to no address")))
}

/// `[::1]` → `::1`; anything else as it is.
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// The socket under a TLS handshake, with the whole handshake bounded: each
/// read and write may wait only for what is left until `deadline`, so a
/// server that sends its certificate a byte at a time is cut off there.
struct Deadlined<'a> {
    tcp: &'a mut TcpStream,
    deadline: Instant,
    timeout: Duration,
}

impl Deadlined<'_> {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("the handshake took longer than {}s", self.timeout.as_secs())));
        }
        Ok(left)
    }
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.left()?))?;
        self.tcp.read(buf)
    }
}

impl Write for Deadlined<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.left()?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted roots (honours SSL_CERT_FILE / SSL_CERT_DIR), loaded once per process.
static VERIFYING: Lazy<Result<Arc<ClientConfig>, String>> = Lazy::new(|| {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("no trusted root certificates found on this system (install ca-certificates)".into());
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
});

/// For accounts whose admin turned verification off (`verify_tls = false`).
static NOT_VERIFYING: Lazy<Result<Arc<ClientConfig>, String>> = Lazy::new(|| {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
});

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    // Signatures are still checked: the handshake must be made by the key in the certificate.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl Stream {
    /// Runs the TLS handshake over `tcp` now, within `timeout` as a whole,
    /// so certificate problems are reported here rather than on the first read.
    pub fn tls(mut tcp: TcpStream, host: &str, verify: bool, timeout: Duration) -> Result<Stream, TlsFailure> {
        let config = if verify { &*VERIFYING } else { &*NOT_VERIFYING };
        let config = config.clone().map_err(TlsFailure::setup)?;
        let host = unbracket(host);
        let name =
            ServerName::try_from(host.to_owned()).map_err(|_| TlsFailure::setup(format!("'{host}' is not a valid TLS server name")))?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| TlsFailure::setup(format!("TLS setup failed: {e}")))?;
        let mut bounded = Deadlined { tcp: &mut tcp, deadline: Instant::now() + timeout, timeout };
        while conn.is_handshaking() {
            conn.complete_io(&mut bounded).map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TlsFailure {
                    transient: true,
                    message: format!("TLS handshake with {host} timed out: not finished within {}s", timeout.as_secs()),
                },
                // a refused certificate or protocol is the account's setup; a reset connection is not
                io::ErrorKind::InvalidData => TlsFailure::setup(format!("TLS handshake with {host} failed: {e}")),
                _ => TlsFailure { transient: true, message: format!("TLS handshake with {host} failed: {e}") },
            })?;
        }
        let restored = tcp.set_read_timeout(Some(timeout)).and_then(|()| tcp.set_write_timeout(Some(timeout)));
        restored.map_err(|e| TlsFailure { transient: true, message: format!("TLS with {host}: {e}") })?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }

    fn tcp(&self) -> io::Result<&TcpStream> {
        match self {
            Stream::Plain(tcp) => Ok(tcp),
            Stream::Tls(tls) => Ok(tls.get_ref()),
            Stream::Closed => Err(closed()),
        }
    }
}

impl Transport for Stream {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.tcp()?.set_read_timeout(Some(timeout))
    }

    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.tcp()?.set_write_timeout(Some(timeout))
    }

    fn start_tls(&mut self, host: &str, verify: bool, timeout: Duration) -> Result<(), TlsFailure> {
        match std::mem::replace(self, Stream::Closed) {
            Stream::Plain(tcp) => {
                *self = Stream::tls(tcp, host, verify, timeout)?;
                Ok(())
            }
            other => {
                *self = other;
                Err(TlsFailure::setup("STARTTLS on a connection that is already encrypted".into()))
            }
        }
    }

    /// `TLSv1_3 TLS13_AES_256_GCM_SHA384, certificate subject CN=smtp.site.ru`, for level-3 transcripts.
    fn tls_description(&self) -> Option<String> {
        let Stream::Tls(tls) = self else { return None };
        let version = tls.conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
        let suite = tls.conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
        let subject = tls
            .conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
            .map_or_else(|| "unreadable".to_owned(), |(_, cert)| cert.subject().to_string());
        Some(format!("{version} {suite}, certificate subject {subject}"))
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
            Stream::Closed => Err(closed()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
            Stream::Closed => Err(closed()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
            Stream::Closed => Err(closed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;

    /// A listener that never answers another connection: its backlog is
    /// one and full, so the kernel drops new SYNs and connecting hangs.
    fn silent(ip: &str) -> (TcpListener, TcpStream) {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        // SAFETY: listen() on our own listening socket only changes its backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let filler = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener, filler)
    }

    #[test]
    fn eight_silent_addresses_cost_one_timeout() {
        let held: Vec<_> = (2..10).map(|i| silent(&format!("127.0.0.{i}"))).collect();
        let addresses: Vec<SocketAddr> = held.iter().map(|(l, _)| l.local_addr().unwrap()).collect();
        let timeout = Duration::from_millis(800);
        let started = Instant::now();
        let error = connect_any(addresses.clone(), started + timeout, timeout).unwrap_err();
        let took = started.elapsed();
        assert!(took < timeout + Duration::from_millis(400), "all eight addresses together within the timeout, took {took:?}: {error}");
        assert!(took >= timeout - Duration::from_millis(50), "and each was waited for: {took:?}");

        // a silent address does not take the time of the one after it
        let answering = TcpListener::bind("127.0.0.1:0").unwrap();
        let mixed = vec![addresses[0], answering.local_addr().unwrap()];
        let started = Instant::now();
        let timeout = Duration::from_secs(2);
        let (_, reached) = connect_any(mixed, started + timeout, timeout).expect("the second address answers");
        assert_eq!(reached, answering.local_addr().unwrap());
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(1500), "half the time went to the silent one: {took:?}");
    }

    #[test]
    fn an_ipv6_literal_in_brackets_connects() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("this machine has no IPv6 loopback: nothing to connect to");
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let (_, addr) = connect("[::1]", port, Duration::from_secs(1)).unwrap();
        assert!(addr.is_ipv6());
        assert_eq!(unbracket("[::1]"), "::1");
        assert_eq!(unbracket("smtp.site.ru"), "smtp.site.ru");
    }
}
