//! Per-process state: where the files are (php.ini, read once at start-up),
//! the open store and the cipher. php-fpm forks its workers after start-up,
//! so nothing holding a file or socket is made before the first call in a
//! worker, and it is made again when the process id changes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::OnceCell;

use crate::crypto::Cipher;
use crate::error::{Error, Result};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub db: PathBuf,
    pub key_file: PathBuf,
    pub log_dir: PathBuf,
}

impl Paths {
    /// Resolves the ini values; empty ones get defaults beside the database,
    /// and the database itself defaults to a private data directory.
    pub fn resolve(db: &str, key_file: &str, log_dir: &str) -> Paths {
        let db = if db.trim().is_empty() { default_data_dir().join("smtp34.db") } else { PathBuf::from(db.trim()) };
        let dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
        let key_file = if key_file.trim().is_empty() { dir.join("smtp34.key") } else { PathBuf::from(key_file.trim()) };
        let log_dir = if log_dir.trim().is_empty() { dir.join("logs") } else { PathBuf::from(log_dir.trim()) };
        Paths { db, key_file, log_dir }
    }
}

/// `/var/lib/smtp34` when this process may write there, else a directory
/// private to this user under the system temp dir (never the web root).
fn default_data_dir() -> PathBuf {
    let system = PathBuf::from("/var/lib/smtp34");
    if std::fs::create_dir_all(&system).is_ok() && is_writable(&system) {
        return system;
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc_getuid() };
    let private = std::env::temp_dir().join(format!("smtp34-{uid}"));
    if std::fs::create_dir_all(&private).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700));
    }
    private
}

extern "C" {
    #[link_name = "getuid"]
    fn libc_getuid() -> u32;
}

fn is_writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".smtp34-probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(probe);
    ok
}

static PATHS: OnceCell<Paths> = OnceCell::new();

/// Set once at module start-up from php.ini.
pub fn configure(paths: Paths) {
    let _ = PATHS.set(paths);
}

pub fn paths() -> Paths {
    PATHS.get().cloned().unwrap_or_else(|| Paths::resolve("", "", ""))
}

pub struct Runtime {
    pub paths: Paths,
    pub store: Store,
    cipher: Option<Cipher>,
}

impl Runtime {
    pub fn open(paths: Paths) -> Result<Runtime> {
        let store = Store::open(&paths.db).map_err(Error::Storage)?;
        Ok(Runtime { paths, store, cipher: None })
    }

    /// The cipher, loading (or creating) the key file on first use.
    pub fn cipher(&mut self) -> Result<&Cipher> {
        if self.cipher.is_none() {
            self.cipher = Some(Cipher::open(&self.paths.key_file).map_err(Error::Storage)?);
        }
        Ok(self.cipher.as_ref().expect("set just above"))
    }
}

static RUNTIME: Mutex<Option<(u32, Runtime)>> = Mutex::new(None);

/// Runs `f` with this process's runtime, opening it on first use in this process.
pub fn with_runtime<T>(f: impl FnOnce(&mut Runtime) -> Result<T>) -> Result<T> {
    // A panic inside `f` (caught at the PHP boundary) poisons the lock: the
    // runtime is then rebuilt once rather than trusted.
    let mut guard = RUNTIME.lock().unwrap_or_else(|poisoned| {
        RUNTIME.clear_poison();
        let mut guard = poisoned.into_inner();
        *guard = None;
        guard
    });
    let pid = std::process::id();
    if guard.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        *guard = Some((pid, Runtime::open(paths())?));
    }
    let (_, runtime) = guard.as_mut().expect("set just above");
    f(runtime)
}
