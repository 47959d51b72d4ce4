//! Per-process state: where the files are, the open store and the cipher.
//!
//! php-fpm runs module start-up in its master (often root) and forks workers
//! that run as the site's user, so start-up only remembers the php.ini
//! strings: the default data directory is chosen, and every file and
//! directory is opened or created, at the first call in a worker, and again
//! when the process id changes.
//!
//! No lock guards the runtime. A PHP fatal error longjmps over Rust frames,
//! and a `Mutex` guard skipped that way stays locked for the life of the
//! worker (SPEC §8). Instead a call takes the runtime out of its slot and
//! puts it back when it is done: a call that never comes back (a bailout, a
//! panic) only costs the next call a fresh open.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

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

/// The php.ini values, as read at module start-up (nothing resolved yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniPaths {
    pub db: String,
    pub key_file: String,
    pub log_dir: String,
}

/// Where smtp34 keeps its data when php.ini says nothing: the system
/// directory when it exists (a package or an admin made it for the PHP
/// user), else a directory private to this user under the system temp dir.
/// Neither is created here: only the first use in a worker creates a missing
/// one, as the worker's own user.
pub const SYSTEM_DATA_DIR: &str = "/var/lib/smtp34";

impl Paths {
    /// Resolves the ini values; empty ones get defaults beside the database.
    pub fn resolve(ini: &IniPaths) -> Paths {
        let db = if ini.db.trim().is_empty() { default_data_dir().join("smtp34.db") } else { PathBuf::from(ini.db.trim()) };
        let dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
        let key_file = if ini.key_file.trim().is_empty() { dir.join("smtp34.key") } else { PathBuf::from(ini.key_file.trim()) };
        let log_dir = if ini.log_dir.trim().is_empty() { dir.join("logs") } else { PathBuf::from(ini.log_dir.trim()) };
        Paths { db, key_file, log_dir }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.db.parent().map(Path::to_path_buf).filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."))
    }
}

fn default_data_dir() -> PathBuf {
    let system = PathBuf::from(SYSTEM_DATA_DIR);
    if system.is_dir() {
        return system;
    }
    std::env::temp_dir().join(format!("smtp34-{}", crate::files::current_uid()))
}

static INI: OnceCell<IniPaths> = OnceCell::new();

/// Called once at module start-up with the php.ini strings; creates nothing.
pub fn configure(ini: IniPaths) {
    let _ = INI.set(ini);
}

/// The paths this process uses (resolved now, as this process's user).
pub fn paths() -> Paths {
    Paths::resolve(INI.get().unwrap_or(&IniPaths::default()))
}

/// What a worker keeps of the store between letters, and the
/// `config_version` it was read at.
pub struct Config {
    pub version: i64,
    pub settings: crate::config::settings::Settings,
    pub accounts: Vec<crate::config::account::Account>,
    pub health: std::collections::HashMap<i64, crate::store::health::Health>,
    pub dkim: Vec<crate::store::dkim::DkimKey>,
}

pub struct Runtime {
    pub paths: Paths,
    pub store: Store,
    config: Option<std::rc::Rc<Config>>,
    /// SMTP connections kept per account (see [`crate::smtp::pool`]).
    pub pool: crate::smtp::Pool,
    cipher: Option<Cipher>,
    pid: u32,
    /// DKIM keys decrypted and parsed, by id, for the `config_version` they were read at.
    pub signers: (i64, std::collections::HashMap<i64, crate::dkim::Signer>),
}

impl Runtime {
    pub fn open(paths: Paths) -> Result<Runtime> {
        crate::files::private_dir(&paths.data_dir(), "data directory").map_err(Error::Storage)?;
        let store = Store::open(&paths.db).map_err(Error::Storage)?;
        Ok(Runtime {
            paths,
            store,
            config: None,
            pool: Default::default(),
            cipher: None,
            pid: crate::process::id(),
            signers: Default::default(),
        })
    }

    /// The configuration this process read last, as it was then (whoever
    /// acts on it confirms its `version` in the same transaction).
    pub fn cached_config(&self) -> Option<std::rc::Rc<Config>> {
        self.config.clone()
    }

    /// Settings, accounts and their health, read again only when another
    /// save (in any worker) moved the store's `config_version`.
    pub fn config(&mut self) -> Result<std::rc::Rc<Config>> {
        let version = self.store.config_version()?;
        if let Some(config) = self.config.as_ref().filter(|c| c.version == version) {
            return Ok(config.clone());
        }
        let reading = self.store.read_tx()?;
        let config = std::rc::Rc::new(Config {
            version: self.store.config_version()?,
            settings: self.store.settings()?,
            accounts: self.store.accounts()?,
            health: self.store.health()?,
            dkim: self.store.dkim_keys()?,
        });
        reading.commit()?;
        self.config = Some(config.clone());
        Ok(config)
    }

    /// The cipher. The key file is created on first use, unless the store
    /// already holds passwords sealed with a key that is now missing: a new
    /// key would silently make every one of them undecryptable.
    /// The cipher if an earlier call opened it (for code that holds the store in a transaction).
    pub fn opened_cipher(&self) -> Option<&Cipher> {
        self.cipher.as_ref()
    }

    pub fn cipher(&mut self) -> Result<&Cipher> {
        if self.cipher.is_none() {
            let may_create = !self.store.has_sealed_passwords()?;
            self.cipher = Some(Cipher::open(&self.paths.key_file, may_create).map_err(Error::Storage)?);
        }
        Ok(self.cipher.as_ref().expect("set just above"))
    }
}

thread_local! {
    static SLOT: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// Runs `f` with this process's runtime, opening it on first use in this
/// process. `f` must not call into PHP (see the module comment): a call into
/// PHP belongs between two `with_runtime` calls.
pub fn with_runtime<T>(f: impl FnOnce(&mut Runtime) -> Result<T>) -> Result<T> {
    let pid = crate::process::id();
    let mut runtime = match SLOT.with(|slot| slot.borrow_mut().take()) {
        Some(runtime) if runtime.pid == pid => runtime,
        inherited => {
            // A connection (SQLite or SMTP) inherited through fork belongs to the parent: never close it here.
            std::mem::forget(inherited);
            Runtime::open(paths())?
        }
    };
    let result = f(&mut runtime);
    runtime.store.scrub_if_due();
    SLOT.with(|slot| *slot.borrow_mut() = Some(runtime));
    result
}

/// Whether this process can open its store at all (for `php --ri` and warnings).
pub fn open_problem() -> Option<String> {
    with_runtime(|_| Ok(())).err().map(|e| e.to_string())
}
