//! DKIM signing (SPEC §9, RFC 6376; Ed25519 per RFC 8463): keys read from
//! PEM or generated, the TXT record to publish, which key signs a From
//! domain, and the signature itself (through `mail-auth`, over `ring`).
//! No PHP, no store, no network: the key arrives decrypted, the letter as
//! the bytes the outbox keeps.

use base64::Engine as _;
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};

use crate::config::fields::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    pub fn parse(text: &str) -> Option<Algorithm> {
        [Algorithm::RsaSha256, Algorithm::Ed25519Sha256].into_iter().find(|a| a.as_str() == text)
    }
}

/// The headers signed when present (SPEC §9); never Bcc, which is not sent anyway.
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// A private key ready to sign, with what the DNS must publish for it.
pub struct Key {
    pub algorithm: Algorithm,
    /// The PEM the store keeps (encrypted).
    pub pem: String,
    /// The `p=` value of the TXT record.
    pub public_key: String,
    key: DkimKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the key itself
        f.debug_struct("Key").field("algorithm", &self.algorithm).field("public_key", &self.public_key).finish()
    }
}

fn bad_key(message: impl Into<String>) -> FieldError {
    FieldError::new("private_key", message)
}

impl Key {
    /// A key from PEM: PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`, RSA or Ed25519).
    pub fn from_pem(pem: &str) -> Result<Key, FieldError> {
        let (label, der) = pem_block(pem)
            .ok_or_else(|| bad_key("is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"))?;
        let key = match label.as_str() {
            "RSA PRIVATE KEY" => DkimKey::Rsa(
                RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.as_slice())))
                    .map_err(|_| bad_key("is not a usable RSA key"))?,
            ),
            "PRIVATE KEY" => match RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.as_slice()))) {
                Ok(rsa) => DkimKey::Rsa(rsa),
                Err(_) => DkimKey::Ed25519(
                    Ed25519Key::from_pkcs8_maybe_unchecked_der(&der)
                        .map_err(|_| bad_key("is neither an RSA nor an Ed25519 key (PKCS#8)"))?,
                ),
            },
            "ENCRYPTED PRIVATE KEY" => return Err(bad_key("is encrypted; export it without a passphrase")),
            other => return Err(bad_key(format!("is a PEM '{other}', not a private key"))),
        };
        let (algorithm, public_key) = match &key {
            DkimKey::Rsa(key) => {
                if key_bits(&key.public_key()) < 1024 {
                    return Err(bad_key("RSA keys shorter than 1024 bits are refused by receivers; use 2048"));
                }
                (Algorithm::RsaSha256, BASE64.encode(subject_public_key_info(&key.public_key())))
            }
            DkimKey::Ed25519(key) => (Algorithm::Ed25519Sha256, BASE64.encode(key.public_key())),
        };
        Ok(Key { algorithm, pem: pem.trim().to_owned() + "\n", public_key, key })
    }

    /// The TXT record to publish at `<selector>._domainkey.<domain>`.
    pub fn dns_value(&self) -> String {
        dns_value(self.algorithm, &self.public_key)
    }

    /// The signer for letters from `domain` (or its subdomains) under `selector`.
    pub fn signer(self, domain: &str, selector: &str) -> Signer {
        let inner = DkimSigner::from_key(self.key)
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        Signer { inner }
    }
}

/// A key ready to sign, kept per process so a letter does not decrypt and parse it.
pub struct Signer {
    inner: DkimSigner<DkimKey, Done>,
}

impl Signer {
    /// The message with a `DKIM-Signature` header in front: relaxed/relaxed,
    /// over the SPEC's headers that are present, From signed once more than
    /// it occurs so none can be added.
    pub fn sign(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
        let present = header_names(message);
        let mut headers: Vec<String> =
            SIGNED_HEADERS.iter().filter(|h| present.iter().any(|p| p.eq_ignore_ascii_case(h.as_bytes()))).map(|h| h.to_string()).collect();
        headers.push("From".into());
        self.inner.template.h = headers;
        let header = self.inner.sign(message).map_err(|e| format!("DKIM signing failed: {e}"))?.to_header();
        let mut signed = Vec::with_capacity(header.len() + message.len() + 2);
        signed.extend_from_slice(header.as_bytes());
        if !header.ends_with("\r\n") {
            signed.extend_from_slice(b"\r\n");
        }
        signed.extend_from_slice(message);
        Ok(signed)
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn dns_value(algorithm: Algorithm, public_key: &str) -> String {
    let kind = match algorithm {
        Algorithm::RsaSha256 => "rsa",
        Algorithm::Ed25519Sha256 => "ed25519",
    };
    format!("v=DKIM1; k={kind}; p={public_key}")
}

/// The names of the header fields, up to the blank line.
fn header_names(message: &[u8]) -> Vec<&[u8]> {
    let head_end = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |i| i + 2);
    message[..head_end]
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty() && !matches!(line[0], b' ' | b'\t' | b'\r'))
        .filter_map(|line| line.iter().position(|b| *b == b':').map(|colon| &line[..colon]))
        .collect()
}

fn pem_block(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body_start = label_end + 5;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let body: String = rest[body_start..end].chars().filter(|c| !c.is_whitespace()).collect();
    if body.contains(':') {
        // "Proc-Type: 4,ENCRYPTED": an old-style encrypted PKCS#1 key
        return Some(("ENCRYPTED PRIVATE KEY".into(), Vec::new()));
    }
    Some((label, BASE64.decode(body).ok()?))
}

fn der_length(length: usize, out: &mut Vec<u8>) {
    match length {
        0..=127 => out.push(length as u8),
        128..=255 => out.extend_from_slice(&[0x81, length as u8]),
        _ => out.extend_from_slice(&[0x82, (length >> 8) as u8, length as u8]),
    }
}

/// An RSAPublicKey (what `ring` gives) wrapped as the SubjectPublicKeyInfo
/// every DKIM verifier reads from `p=` (what `openssl rsa -pubout` prints).
fn subject_public_key_info(rsa_public_key: &[u8]) -> Vec<u8> {
    const RSA_ALGORITHM: &[u8] = &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut bit_string = vec![0x03];
    der_length(rsa_public_key.len() + 1, &mut bit_string);
    bit_string.push(0);
    bit_string.extend_from_slice(rsa_public_key);
    let mut spki = vec![0x30];
    der_length(RSA_ALGORITHM.len() + bit_string.len(), &mut spki);
    spki.extend_from_slice(RSA_ALGORITHM);
    spki.extend_from_slice(&bit_string);
    spki
}

/// The modulus size of an RSAPublicKey, roughly (its length in bits).
fn key_bits(rsa_public_key: &[u8]) -> usize {
    // SEQUENCE { INTEGER modulus, INTEGER exponent }: the modulus's length field after the sequence header
    let mut at = 1;
    let skip_length = |at: &mut usize| -> Option<usize> {
        let first = *rsa_public_key.get(*at)?;
        *at += 1;
        if first < 0x80 {
            return Some(first as usize);
        }
        let bytes = (first & 0x7f) as usize;
        let mut length = 0;
        for _ in 0..bytes {
            length = (length << 8) | *rsa_public_key.get(*at)? as usize;
            *at += 1;
        }
        Some(length)
    };
    if skip_length(&mut at).is_none() || rsa_public_key.get(at) != Some(&0x02) {
        return 0;
    }
    at += 1;
    let modulus = skip_length(&mut at).unwrap_or(0);
    let leading_zero = usize::from(rsa_public_key.get(at) == Some(&0));
    (modulus - leading_zero.min(modulus)) * 8
}

/// What `generate` may ask for.
pub const GENERATED: &[&str] = &["rsa-2048", "ed25519"];

/// A new private key as PEM. Ed25519 comes from `ring`; RSA from the
/// system's `openssl` (no well-kept Rust crate generates RSA keys without
/// the `rsa` crate, whose timing advisory we keep out of this process).
pub fn generate(kind: &str, timeout: std::time::Duration) -> Result<String, FieldError> {
    match kind {
        "ed25519" => {
            let der =
                Ed25519Key::generate_pkcs8().map_err(|e| FieldError::new("generate", format!("cannot generate an Ed25519 key: {e}")))?;
            Ok(pem("PRIVATE KEY", &der))
        }
        "rsa-2048" => generate_rsa(timeout),
        other => Err(FieldError::new("generate", format!("'{}' is not one of {}", other.escape_default(), GENERATED.join(", ")))),
    }
}

fn generate_rsa(timeout: std::time::Duration) -> Result<String, FieldError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let failed = |why: String| {
        FieldError::new("generate", format!("cannot generate an RSA key with openssl ({why}); import one as private_key instead"))
    };
    let mut child = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "PEM"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let deadline = std::time::Instant::now() + timeout.max(std::time::Duration::from_secs(10));
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(status)) => return Err(failed(status.to_string())),
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed("it took too long".into()));
            }
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    let mut out = String::new();
    child.stdout.take().ok_or_else(|| failed("no output".into()))?.read_to_string(&mut out).map_err(|e| failed(e.to_string()))?;
    Ok(out)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Which of the active keys signs mail from `from_domain`: its own, else
/// the nearest parent domain's (`news.site.ru` under `site.ru`).
pub fn key_for<'a, K>(from_domain: &str, keys: &'a [K], domain_of: impl Fn(&'a K) -> &'a str) -> Option<&'a K> {
    let from_domain = from_domain.trim_end_matches('.').to_ascii_lowercase();
    let mut candidate = from_domain.as_str();
    loop {
        if let Some(key) = keys.iter().find(|k| domain_of(k).eq_ignore_ascii_case(candidate)) {
            return Some(key);
        }
        candidate = candidate.split_once('.')?.1;
        if !candidate.contains('.') {
            // a bare top-level domain never signs
            return None;
        }
    }
}

/// A selector: dot-separated labels of letters, digits and hyphens.
pub fn check_selector(selector: &str) -> Result<(), FieldError> {
    let ok = !selector.is_empty()
        && selector.len() <= 63
        && selector.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(FieldError::new("selector", format!("'{}' is not a DKIM selector (letters, digits, hyphens, dots)", selector.escape_default())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: &[u8] = b"From: Shop <shop@site.ru>\r\nTo: user@example.test\r\nSubject: Hi\r\nX-Other: 1\r\n\r\nBody\r\n";

    #[test]
    fn an_ed25519_key_signs_the_present_headers_and_from_once_more() {
        let key = Key::from_pem(&generate("ed25519", std::time::Duration::from_secs(5)).unwrap()).unwrap();
        assert_eq!(key.algorithm, Algorithm::Ed25519Sha256);
        assert!(key.dns_value().starts_with("v=DKIM1; k=ed25519; p="));
        let signed = key.signer("site.ru", "mail").sign(LETTER).unwrap();
        let text = String::from_utf8(signed).unwrap();
        assert!(text.starts_with("DKIM-Signature: "), "{text}");
        assert!(text.ends_with(std::str::from_utf8(LETTER).unwrap()));
        let header = &text[..text.find("\r\nFrom:").unwrap()];
        let h = header.split("h=").nth(1).unwrap().split(';').next().unwrap().replace([' ', '\r', '\n', '\t'], "");
        let mut names: Vec<&str> = h.split(':').collect();
        names.sort();
        assert_eq!(names, ["From", "From", "Subject", "To"], "{header}");
        assert!(header.contains("c=relaxed/relaxed") && header.contains("d=site.ru") && header.contains("s=mail"));
    }

    #[test]
    fn rsa_keys_are_read_as_pkcs8_and_pkcs1_and_published_as_spki() {
        let pkcs8 = generate("rsa-2048", std::time::Duration::from_secs(20)).unwrap();
        let key = Key::from_pem(&pkcs8).unwrap();
        assert_eq!(key.algorithm, Algorithm::RsaSha256);
        // SubjectPublicKeyInfo of a 2048-bit key: 294 bytes, starting 30 82 01 22 30 0d 06 09
        let spki = BASE64.decode(&key.public_key).unwrap();
        assert_eq!(spki.len(), 294);
        assert_eq!(&spki[..8], &[0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09]);
        assert!(key.signer("site.ru", "s1").sign(LETTER).is_ok());
    }

    #[test]
    fn what_is_not_a_usable_key_is_refused_by_name() {
        for pem in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert_eq!(Key::from_pem(pem).unwrap_err().field, "private_key", "{pem}");
        }
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(Key::from_pem(encrypted).unwrap_err().message.contains("encrypted"));
        assert_eq!(generate("dsa", std::time::Duration::from_secs(1)).unwrap_err().field, "generate");
    }

    #[test]
    fn a_subdomain_is_signed_by_its_nearest_parent_and_never_by_a_tld() {
        let keys = ["site.ru", "shop.site.ru", "ru"];
        fn domain<'a>(k: &&'a str) -> &'a str {
            k
        }
        assert_eq!(key_for("news.site.ru", &keys, domain), Some(&"site.ru"));
        assert_eq!(key_for("a.shop.site.ru", &keys, domain), Some(&"shop.site.ru"));
        assert_eq!(key_for("SITE.RU", &keys, domain), Some(&"site.ru"));
        assert_eq!(key_for("other.ru", &keys, domain), None);
        assert_eq!(key_for("othersite.ru", &keys, domain), None);
    }

    #[test]
    fn selectors() {
        assert!(check_selector("mail").is_ok());
        assert!(check_selector("s2026.eu").is_ok());
        for bad in ["", "a b", "-x", "a..b", "x;y"] {
            assert!(check_selector(bad).is_err(), "{bad}");
        }
    }
}
