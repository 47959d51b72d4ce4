//! smtp34: a PHP extension that sends the mail of 1C-Bitrix sites (and any
//! PHP application) through external SMTP accounts. See SPEC.md.
//!
//! The path of a letter, one folder a step: [`php`] (arguments) →
//! [`letter`] (the parsed letter) → [`route`] (the decision: candidate
//! accounts, and what their attempts came to) → [`smtp`] (the sessions) →
//! [`store`] (journal, outbox, health), driven by [`delivery`]. What the
//! admin sets is in [`config`]; at the top, what every step may use.

pub mod alerts;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod dkim;
pub mod error;
pub mod files;
pub mod letter;
pub mod logs;
pub mod oauth;
pub mod php;
pub mod process;
pub mod route;
pub mod runtime;
pub mod smtp;
pub mod store;

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::prelude::*;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef, IniEntryDefs, ModuleEntry};
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("SMTP34_COMMIT");

/// PHP_INI_SYSTEM: set in php.ini, never moved by ini_set().
static INI_ENTRIES: IniEntryDefs<5> = IniEntryDefs::new([
    IniEntryDef::new(c"smtp34.db", c"", IniEntryPermission::System),
    IniEntryDef::new(c"smtp34.key_file", c"", IniEntryPermission::System),
    IniEntryDef::new(c"smtp34.log_dir", c"", IniEntryPermission::System),
    // password_hash() of the standalone admin pages' password; empty: they refuse to serve
    IniEntryDef::new(c"smtp34.admin_password_hash", c"", IniEntryPermission::System),
    IniEntryDef::end(),
]);

extern "C" fn startup(_ty: i32, module_number: i32) -> i32 {
    IniEntryDef::register(INI_ENTRIES.as_slice(), module_number);
    let ini = ExecutorGlobals::get().ini_values();
    let value = |name: &str| ini.get(name).cloned().flatten().unwrap_or_default();
    // Only the strings: php-fpm's master runs this, often as root, before it
    // forks the workers. Paths are resolved, and files made, by the workers.
    runtime::configure(runtime::IniPaths { db: value("smtp34.db"), key_file: value("smtp34.key_file"), log_dir: value("smtp34.log_dir") });
    // Panics are caught at every API entry and reported as PHP errors;
    // the default hook would also print them to the worker's stderr.
    std::panic::set_hook(Box::new(|_| {}));
    0
}

extern "C" fn module_info(_module: *mut ModuleEntry) {
    let paths = runtime::paths();
    info_table_start!();
    info_table_row!("smtp34 support", "enabled");
    info_table_row!("Version", VERSION);
    info_table_row!("Commit", COMMIT);
    info_table_row!("Database in use", paths.db.display().to_string());
    info_table_row!("Key file in use", paths.key_file.display().to_string());
    info_table_row!("Log directory in use", paths.log_dir.display().to_string());
    info_table_row!("Schema version", store::SCHEMA_VERSION.to_string());
    let store = runtime::open_problem().unwrap_or_else(|| "usable by this user".to_owned());
    info_table_row!("Store", store);
    info_table_row!("Key file", key_file_state(&paths.key_file));
    info_table_row!("Spool directory", spool_state(&store::spool::dir_of(&paths.db)));
    // where this site's mail could bypass smtp34 without anyone noticing
    let cwd = std::env::current_dir().unwrap_or_default();
    for (what, state) in php::site_check::findings(&cwd, std::path::Path::new(php::site_check::FPM_DIR)) {
        info_table_row!(what, state);
    }
    info_table_end!();
    // The ini entries, but the admin password's hash only as set or not:
    // phpinfo() pages are often public, and the hash can be attacked offline.
    let ini = ExecutorGlobals::get().ini_values();
    info_table_start!();
    for name in INI_NAMES {
        let value = ini.get(name).cloned().flatten().unwrap_or_default();
        let shown = match (name, value.is_empty()) {
            ("smtp34.admin_password_hash", true) => "(empty: the standalone admin is off)".to_owned(),
            ("smtp34.admin_password_hash", false) => "(set)".to_owned(),
            (_, true) => "(empty: default)".to_owned(),
            (_, false) => value,
        };
        info_table_row!(name, shown);
    }
    info_table_end!();
}

/// The php.ini entries, as `php --ri` lists them.
const INI_NAMES: [&str; 4] = ["smtp34.db", "smtp34.key_file", "smtp34.log_dir", "smtp34.admin_password_hash"];

/// Whether the key file is there, and whether that matters.
fn key_file_state(path: &std::path::Path) -> String {
    let sealed = runtime::with_runtime(|rt| Ok(rt.store.has_sealed_passwords()?)).unwrap_or(false);
    match (path.exists(), sealed) {
        (true, _) => "present".into(),
        (false, true) => format!("MISSING: the database holds passwords sealed with {}; restore that file", path.display()),
        (false, false) => "not created yet (made when the first password is saved)".into(),
    }
}

/// Where background letters' bytes wait (`store::spool`): looked at, never created here.
fn spool_state(dir: &std::path::Path) -> String {
    if !dir.exists() {
        return format!("{} (made by the first letter queued in the background)", dir.display());
    }
    match files::private_dir(dir, "spool directory") {
        Ok(()) => format!("{} (usable by this user)", dir.display()),
        Err(problem) => format!("NOT USED: {problem}; {}", store::spool::REFUSED_MEANWHILE),
    }
}

/// Module shutdown (a php-fpm worker leaving, a CLI script done): the
/// sender thread, if this process has one, finishes within `timeout`.
extern "C" fn shutdown(_ty: i32, _module_number: i32) -> i32 {
    delivery::background::finish();
    0
}

#[php_module]
#[php(startup = startup)]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    php::register(module.name("smtp34").version(VERSION).info_function(module_info).shutdown_function(shutdown))
}
