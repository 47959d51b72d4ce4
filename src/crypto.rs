//! Account passwords at rest: AES-256-GCM with a key kept in its own file
//! (mode 0600, outside the web root), created on first use.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};

/// Stored ciphertexts start with this byte, so the format can change later.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

pub struct Cipher {
    aead: Aes256Gcm,
}

impl Cipher {
    /// Loads the key file, creating it when missing and `may_create` (no
    /// password sealed with an earlier key is stored). Several PHP workers may
    /// race here: the key is written to a private temporary file and linked
    /// into place, so every worker ends up reading the same whole key.
    pub fn open(path: &Path, may_create: bool) -> Result<Cipher, String> {
        crate::files::owned_file(path, "key file", true)?;
        match fs::read(path) {
            Ok(text) => return Self::from_file_text(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read key file {}: {e}", path.display())),
        }
        if !may_create {
            return Err(format!(
                "the key file {} is missing, and the database holds passwords sealed with it: restore the file \
                 (a new key could not decrypt them), or enter every account's password again after deleting the accounts",
                path.display()
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir(dir, "key file's directory")?;
        }
        let key = Aes256Gcm::generate_key(OsRng);
        let temp = path.with_extension(format!("tmp-{}", random_hex(8)));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
            file.write_all(hex(&key).as_bytes())?;
            file.sync_all()?;
            fs::hard_link(&temp, path).or_else(|e| if e.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
        };
        let result = write();
        let _ = fs::remove_file(&temp);
        result.map_err(|e| format!("cannot create key file {}: {e}", path.display()))?;
        let text = fs::read(path).map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
        Self::from_file_text(path, &text)
    }

    fn from_file_text(path: &Path, text: &[u8]) -> Result<Cipher, String> {
        let key = unhex(text.trim_ascii())
            .filter(|k| k.len() == 32)
            .ok_or_else(|| format!("key file {} is not a 64-digit hex key", path.display()))?;
        Ok(Cipher { aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)) })
    }

    pub fn encrypt(&self, plain: &str) -> Vec<u8> {
        self.encrypt_bytes(plain.as_bytes())
    }

    /// Seals bytes that need not be text (a letter kept for resending).
    pub fn encrypt_bytes(&self, plain: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self.aead.encrypt(&nonce, plain).expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<String, String> {
        let failed = || "cannot decrypt the stored password (was the key file replaced?)".to_owned();
        String::from_utf8(self.decrypt_bytes(stored).map_err(|_| failed())?).map_err(|_| failed())
    }

    pub fn decrypt_bytes(&self, stored: &[u8]) -> Result<Vec<u8>, String> {
        let failed = || "cannot decrypt what was stored (was the key file replaced?)".to_owned();
        if stored.len() < 1 + NONCE_LEN || stored[0] != FORMAT_V1 {
            return Err(failed());
        }
        let nonce = Nonce::from_slice(&stored[1..1 + NONCE_LEN]);
        self.aead.decrypt(nonce, &stored[1 + NONCE_LEN..]).map_err(|_| failed())
    }
}

/// Random hex, for file names.
pub fn random_hex(bytes: usize) -> String {
    use aes_gcm::aead::rand_core::RngCore;
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    use aes_gcm::aead::rand_core::RngCore;
    let mut buf = [0u8; N];
    OsRng.fill_bytes(&mut buf);
    buf
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("smtp34-crypto-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_a_private_key_and_round_trips() {
        let dir = temp_dir("create");
        let path = dir.join("sub/smtp34.key");
        let cipher = Cipher::open(&path, true).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = cipher.encrypt("пароль secret");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(cipher.decrypt(&sealed).unwrap(), "пароль secret");
        // same key on reopen; different nonce each time
        let again = Cipher::open(&path, true).unwrap();
        assert_eq!(again.decrypt(&sealed).unwrap(), "пароль secret");
        assert_ne!(cipher.encrypt("x"), cipher.encrypt("x"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tampering_and_other_keys_fail_cleanly() {
        let dir = temp_dir("tamper");
        let a = Cipher::open(&dir.join("a.key"), true).unwrap();
        let b = Cipher::open(&dir.join("b.key"), true).unwrap();
        let mut sealed = a.encrypt("secret");
        assert!(b.decrypt(&sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(a.decrypt(&sealed).is_err());
        assert!(a.decrypt(b"").is_err());
        let err = a.decrypt(&[9; 40]).unwrap_err();
        assert!(!err.contains("secret"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_broken_key_file_is_reported() {
        let dir = temp_dir("broken");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("bad.key"), "short").unwrap();
        fs::set_permissions(dir.join("bad.key"), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Cipher::open(&dir.join("bad.key"), true).err().unwrap().contains("not a 64-digit hex key"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_key_is_not_replaced_when_passwords_need_it() {
        let dir = temp_dir("missing");
        let error = Cipher::open(&dir.join("smtp34.key"), false).err().unwrap();
        assert!(error.contains("smtp34.key is missing, and the database holds passwords sealed with it"), "{error}");
        assert!(!dir.join("smtp34.key").exists());
    }

    #[test]
    fn a_key_others_can_read_is_refused_not_tightened() {
        let dir = temp_dir("open-key");
        let path = dir.join("smtp34.key");
        Cipher::open(&path, true).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Cipher::open(&path, true).err().unwrap().contains("chmod 600"));
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn concurrent_creation_yields_one_key() {
        let dir = temp_dir("race");
        let path = dir.join("k.key");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Cipher::open(&path, true).map(|c| c.encrypt("x")))
            })
            .collect();
        let sealed: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        let cipher = Cipher::open(&path, true).unwrap();
        for s in sealed {
            assert_eq!(cipher.decrypt(&s).unwrap(), "x");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
