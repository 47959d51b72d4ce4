//! The SQLite file every PHP worker of a site shares: accounts, settings and
//! the journal here, the [`outbox`] and account [`health`] beside them, all
//! methods of one [`Store`]. WAL so readers never wait for a sender, a busy timeout so
//! writers queue instead of failing, and numbered migrations so a newer
//! extension upgrades an older file in place.

pub mod alerts;
pub mod dkim;
pub mod health;
pub mod journal;
pub mod oauth;
pub mod outbox;
pub mod spool;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::config::account::{Account, AccountDraft};
use crate::config::settings::Settings;
use crate::route::outcome::Status;
use crate::smtp::{AuthKind, Endpoint, Security};

/// Secrets of an account save, sealed; `None` keeps what is stored.
#[derive(Debug, Default)]
pub struct Sealed {
    pub password: Option<Vec<u8>>,
    pub client_secret: Option<Vec<u8>>,
}

/// Each entry moves the schema one version up; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, settings, journal
    "CREATE TABLE accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        active INTEGER NOT NULL DEFAULT 1,
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        security TEXT NOT NULL,
        auth TEXT NOT NULL,
        login TEXT NOT NULL DEFAULT '',
        password BLOB,
        mailing_first INTEGER NOT NULL DEFAULT 0,
        verify_tls INTEGER NOT NULL DEFAULT 1,
        daily_limit INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX accounts_email ON accounts (email COLLATE NOCASE);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        account_id INTEGER,
        mailing_id TEXT,
        from_addr TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        message_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reply TEXT NOT NULL,
        duration_ms INTEGER NOT NULL
    );",
    // 2: a revision per account, bumped by every save, so a transcript log
    // knows exactly when its account's parameters changed (SPEC §5 "Logs")
    "ALTER TABLE accounts ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;",
    // 3: nothing lost. The outbox holds every letter from just before its
    // first attempt (a claimed row) until it is delivered or given up; the
    // health of each account (failures, back-off) and the recipients it sent
    // today (daily_limit) are shared by every worker.
    // No AUTOINCREMENT and no index on next_try_at: every letter passes
    // through here, and each would cost a page write twice per letter; the
    // outbox is small, and a flush walks it by primary key.
    "CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        journal_id INTEGER,
        created_at INTEGER NOT NULL,
        from_name TEXT NOT NULL,
        from_email TEXT NOT NULL,
        mailing INTEGER NOT NULL,
        envelope_from TEXT,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        message BLOB NOT NULL,
        account_id INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at INTEGER NOT NULL,
        last_try_at INTEGER,
        last_error TEXT NOT NULL DEFAULT '',
        claimed_by TEXT,
        claim_until INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE account_health (
        account_id INTEGER PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        last_error_at INTEGER,
        last_success_at INTEGER,
        backoff_until INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE daily_usage (
        account_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        recipients INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, day)
    );",
    // 4: what a worker caches (settings, accounts, their health) changed
    // when this counter moved: a letter reads one row instead of three tables
    "CREATE TABLE config_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
    INSERT INTO config_version VALUES (1, 1);
    CREATE TRIGGER accounts_insert AFTER INSERT ON accounts BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER accounts_update AFTER UPDATE ON accounts BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER accounts_delete AFTER DELETE ON accounts BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER settings_insert AFTER INSERT ON settings BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER settings_update AFTER UPDATE ON settings BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER health_insert AFTER INSERT ON account_health BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER health_update AFTER UPDATE ON account_health BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER health_delete AFTER DELETE ON account_health BEGIN UPDATE config_version SET version = version + 1; END;",
    // 5: DKIM keys (SPEC §9); a worker's cached signers follow config_version
    "CREATE TABLE dkim_keys (
        id INTEGER PRIMARY KEY,
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        public_key TEXT NOT NULL,
        private_key BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX dkim_keys_name ON dkim_keys (domain COLLATE NOCASE, selector COLLATE NOCASE);
    CREATE TRIGGER dkim_insert AFTER INSERT ON dkim_keys BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER dkim_update AFTER UPDATE ON dkim_keys BEGIN UPDATE config_version SET version = version + 1; END;
    CREATE TRIGGER dkim_delete AFTER DELETE ON dkim_keys BEGIN UPDATE config_version SET version = version + 1; END;",
    // 6: OAuth 2.0 accounts (SPEC §9): settings on the account, tokens and pending authorizations apart
    "ALTER TABLE accounts ADD COLUMN oauth_provider TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN oauth_client_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN oauth_client_secret BLOB;
    ALTER TABLE accounts ADD COLUMN oauth_tenant TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN oauth_authorize_url TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN oauth_token_url TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN oauth_scope TEXT NOT NULL DEFAULT '';
    CREATE TABLE oauth_tokens (
        account_id INTEGER PRIMARY KEY,
        refresh_token BLOB,
        access_token BLOB,
        expires_at INTEGER NOT NULL DEFAULT 0,
        refreshed_at INTEGER,
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE oauth_pending (
        state TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL,
        verifier BLOB NOT NULL,
        redirect_uri TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );",
    // 7: a claim and the interrupted-attempt check read these narrow indexes, not every
    // waiting letter's row with its bytes (a sender thread behind 2,000 queued letters
    // read 80 pages a letter)
    "CREATE INDEX outbox_claimable ON outbox (id, claim_until, next_try_at);
    CREATE INDEX outbox_claims ON outbox (claim_until, journal_id);",
    // 8: the operator's journal (SPEC §6): pages filtered by status or account walk these
    // indexes newest first; a letter refused or given up keeps its bytes (sealed) so it
    // can be resent, and the row a resend writes points at the one it came from
    "CREATE INDEX journal_status ON journal (status, id);
    CREATE INDEX journal_account ON journal (account_id, id);
    ALTER TABLE journal ADD COLUMN resent_from INTEGER;
    CREATE TABLE kept_letters (
        journal_id INTEGER PRIMARY KEY,
        kept_at INTEGER NOT NULL,
        sealed BLOB NOT NULL
    );",
    // 9: limits per calendar hour and minute (SPEC §5); rate_usage holds each limited
    // account's current window only, started afresh when the window moves on
    "ALTER TABLE accounts ADD COLUMN hourly_limit INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN minute_limit INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE rate_usage (
        account_id INTEGER NOT NULL,
        period INTEGER NOT NULL,
        start INTEGER NOT NULL,
        recipients INTEGER NOT NULL,
        PRIMARY KEY (account_id, period)
    );
    ALTER TABLE kept_letters ADD COLUMN from_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE kept_letters ADD COLUMN from_email TEXT NOT NULL DEFAULT '';
    ALTER TABLE kept_letters ADD COLUMN mailing INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE kept_letters ADD COLUMN envelope_from TEXT;
    ALTER TABLE kept_letters ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
    ALTER TABLE kept_letters ADD COLUMN subject TEXT NOT NULL DEFAULT '';
    CREATE TABLE alert_state (
        event TEXT NOT NULL,
        account_id INTEGER NOT NULL,
        raised INTEGER NOT NULL DEFAULT 0,
        last_sent_at INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (event, account_id)
    );
    CREATE TABLE alert_log (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
        event TEXT NOT NULL,
        account_id INTEGER,
        text TEXT NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE TABLE marks (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    // 10: the journal indexes of 8 cost every letter about 9 more writes (a quarter of
    // `delivery = wait`'s rate): statuses a letter passes through on its way (sending,
    // queued, sent) leave the index, which keeps the rows an admin looks for among
    // many (the failed and the fallen back); the account filter walks the rows
    "DROP INDEX journal_status;
    DROP INDEX journal_account;
    CREATE INDEX journal_trouble ON journal (status, id) WHERE status IN ('failed', 'fallback', 'refused', 'disabled', 'interrupted');",
    // 11: a background page's letter bytes go to its process's spool file, the row names
    // where (see `spool`): `message` is empty while `spool` is set
    "ALTER TABLE outbox ADD COLUMN spool TEXT;
    ALTER TABLE outbox ADD COLUMN spool_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN spool_length INTEGER NOT NULL DEFAULT 0;",
    // 12: only a page's own attempt (`delivery = wait`, its claim `mail-…`) writes a
    // `sending` journal row, so only its claims can be an interrupted attempt: the index of
    // 7 keeps those alone (with the claim, so the check still reads no row). Every
    // background letter (claimed for the sender thread, claimed again for its window, then
    // removed) had paid for this index in each of those transactions
    "DROP INDEX outbox_claims;
    CREATE INDEX outbox_claims ON outbox (claim_until, journal_id, claimed_by) WHERE substr(claimed_by, 1, 5) = 'mail-';",
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A journal row's status; only [`Status::as_str`] ever wrote one.
fn stored_status(row: &rusqlite::Row, column: usize) -> rusqlite::Result<Status> {
    let text: String = row.get(column)?;
    Status::parse(&text).ok_or_else(|| rusqlite::Error::InvalidColumnType(column, format!("status '{text}'"), rusqlite::types::Type::Text))
}

/// How long a write waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The busy handler: SQLite's own first sleeps a whole millisecond, which a
/// page's letter waiting behind the sender thread's short transaction would
/// pay each time. See [`busy_sleep`].
fn wait_for_lock(tries: i32) -> bool {
    match busy_sleep(tries.max(0) as u32) {
        Some(sleep) => {
            std::thread::sleep(sleep);
            true
        }
        None => false,
    }
}

/// How long a writer sleeps before its `tries`-th new attempt at the lock,
/// having waited `waited` since its first; `None` once it has waited
/// [`BUSY_TIMEOUT`]: 20, 40, 80, 160 µs, then 250 µs for the
/// first 20 ms, then 2 ms. A page and its sender thread write one after the
/// other all the time, each for well under a millisecond: sleeping up to
/// 5 ms there (as this did) left the lock unused most of the wait (a
/// mailing's 2,000 letters delivered at ~2,350 letters/s against ~3,100
/// with these sleeps). A long wait (another process's checkpoint) goes on
/// in coarser steps.
fn busy_step(tries: u32, waited: Duration) -> Option<Duration> {
    const FIRST_MICROS: u64 = 20;
    const DOUBLINGS: u32 = 4;
    const SHORT: Duration = Duration::from_micros(250);
    const SHORT_UNTIL: Duration = Duration::from_millis(20);
    const LONG: Duration = Duration::from_millis(2);
    if waited >= BUSY_TIMEOUT {
        return None;
    }
    if tries < DOUBLINGS {
        return Some(Duration::from_micros(FIRST_MICROS << tries));
    }
    Some(if waited < SHORT_UNTIL { SHORT } else { LONG })
}

thread_local! {
    /// When this thread's writer began to wait for the lock.
    static WAITING_SINCE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// [`busy_step`] on this thread's clock (`tries` 0 starts it). A busy
/// handler woken early (see `delivery::background`: a page's commit wakes
/// the sender thread) tries more often, so it gives up after the same
/// time, not after the same number of tries.
pub(crate) fn busy_sleep(tries: u32) -> Option<Duration> {
    let now = std::time::Instant::now();
    let since = WAITING_SINCE.with(|since| match since.get() {
        Some(at) if tries > 0 => at,
        _ => {
            since.set(Some(now));
            now
        }
    });
    busy_step(tries, now - since)
}

/// The page cache (KiB) of a connection that mostly writes: a background
/// page's and the sender thread's (see their methods for the measurements).
const SMALL_CACHE_KIB: i64 = 256;

/// The WAL's size (pages) at which a connection that mostly writes runs a
/// checkpoint itself (SQLite's default: 1000); see
/// [`Store::leave_checkpoints_to_sender`] for why.
const WAL_PAGES_BETWEEN_CHECKPOINTS: i64 = 25000;

/// True, and the time noted, when `last` is more than a second ago (or never).
fn once_a_second(last: &std::cell::Cell<Option<std::time::Instant>>) -> bool {
    if last.get().is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
        return false;
    }
    last.set(Some(std::time::Instant::now()));
    true
}

/// Prepared statements a connection keeps (see [`Store::open`]).
const STATEMENTS_KEPT: usize = 128;

/// A transaction begun and ended with cached statements: rusqlite's
/// `Transaction` parses `BEGIN` and `COMMIT` again each time, twice a letter.
/// Dropped without [`Tx::commit`] it rolls back.
pub(crate) struct Tx<'a> {
    conn: &'a Connection,
    open: bool,
}

impl Tx<'_> {
    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.prepare_cached("ROLLBACK").and_then(|mut rollback| rollback.execute([]));
        }
    }
}

pub struct Store {
    pub(crate) conn: Connection,
    /// A letter left the outbox since the last [`Store::scrub_if_due`]: its
    /// bytes are zeroed in the database (`secure_delete`) but still in the WAL.
    scrub_due: std::cell::Cell<bool>,
    checkpoints_left: std::cell::Cell<bool>,
    /// The busy handler this connection waits with (see [`Store::leave_checkpoints_to_sender`]).
    busy_wait: std::cell::Cell<fn(i32) -> bool>,
    last_scrub: std::cell::Cell<Option<std::time::Instant>>,
    last_checkpoint: std::cell::Cell<Option<std::time::Instant>>,
    /// Where this database's letters are spooled ([`spool`]).
    pub spool_dir: std::path::PathBuf,
}

/// One journal row (SPEC §6), as written and as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalEntry {
    pub id: i64,
    pub time: i64,
    pub account_id: Option<i64>,
    pub mailing_id: Option<String>,
    pub from: String,
    pub recipients: String,
    pub subject: String,
    pub message_id: String,
    pub status: Status,
    pub reply: String,
    pub duration_ms: i64,
    /// The row this letter was resent from (`smtp34_journal_resend()`).
    pub resent_from: Option<i64>,
    /// Its bytes are kept: it can be resent (read only; set by keeping them).
    pub kept: bool,
}

/// What a journal row keeps of a text: subjects, senders and ids up to
/// `SHORT` characters, recipient lists and replies up to `LONG`. A row is
/// read back whole by the journal page; a 2 MB subject must not make it 2 MB.
const SHORT: usize = 1_000;
const LONG: usize = 4_000;

fn cap(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> String + '_ {
    move |e| format!("database {}: {e}", path.display())
}

impl Store {
    /// Opens (creating when missing) the database; its directory must
    /// already be there and be this user's (see [`crate::files`]).
    pub fn open(path: &Path) -> Result<Store, String> {
        // Letters wait in here: the database and its -wal/-shm are private, like the key.
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            crate::files::owned_file(Path::new(&file), "database", true)?;
        }
        // Created here, private: SQLite gives its -wal and -shm files the database's mode.
        if let Err(e) = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(format!("cannot create the database {}: {e}", path.display()));
            }
        }
        let err = sql_error(path);
        let conn = Connection::open(path).map_err(&err)?;
        // every statement a letter's path runs stays prepared (rusqlite keeps 16: the sender
        // thread's ~25 pushed each other out, and a window parsed its claim again)
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        conn.busy_handler(Some(wait_for_lock)).map_err(&err)?;
        journal::register_functions(&conn).map_err(&err)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(&err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("database {}: cannot switch to WAL mode (got {mode})", path.display()));
        }
        // secure_delete: a delivered letter's bytes are overwritten, not left in free pages.
        // temp_store in memory: a statement's scratch tables (a window claimed with RETURNING,
        // its letters' bytes too) opened a temporary file each time; they hold a window at most.
        // journal_size_limit: a WAL started afresh after a checkpoint keeps at most 64 MiB of its
        // file (a background letter's bytes are spooled, so nothing truncates it after a burst)
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;
             PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(&err)?;
        let mut store = Store {
            conn,
            scrub_due: Default::default(),
            checkpoints_left: Default::default(),
            busy_wait: std::cell::Cell::new(wait_for_lock),
            last_scrub: Default::default(),
            last_checkpoint: Default::default(),
            spool_dir: spool::dir_of(path),
        };
        store.migrate().map_err(|e| {
            if e.to_string().contains("readonly") {
                format!("database {} is not writable by this PHP process: {e}", path.display())
            } else {
                err(e)
            }
        })?;
        Ok(store)
    }

    /// A page's connection in background mode leaves the WAL's routine
    /// checkpoints to the sender thread ([`Store::checkpoint_if_due`]), and
    /// checkpoints itself only past [`WAL_PAGES_BETWEEN_CHECKPOINTS`]
    /// (~100 MB, so a WAL stays bounded while the thread waits on a frozen
    /// server). With pages and the thread writing all the time, a
    /// checkpoint rarely catches up and the WAL grows (14 MB over a burst of
    /// 2,000 letters); past 1000 pages every page commit tried again, with
    /// two fsyncs each (`custom_mail()`'s p99 5–14 ms); past 3000 pages it
    /// still did for one letter in forty (p99 2.6–4.5 ms; with 25000,
    /// 0.4–2 ms). The thread's scrub truncates the WAL once a burst is over.
    ///
    /// Its page cache shrinks to 256 KiB too: it writes a letter's rows and
    /// reads little, and with the WAL left to grow its 2 MiB default filled
    /// up: a process sending 10,000 letters peaked 2.3 MB higher (24.5
    /// against 22.2 MB), handing letters over no slower.
    ///
    /// It waits for the lock with `busy_wait`: the sender thread lets it in
    /// between two of its transactions (see `delivery::background`).
    pub fn leave_checkpoints_to_sender(&self, busy_wait: fn(i32) -> bool) {
        if !self.checkpoints_left.get() {
            self.checkpoints_left.set(true);
            self.write_mostly(busy_wait);
        }
    }

    /// The sender thread's connection reads a window's letters once and writes
    /// their rows: 256 KiB of page cache serve it (SQLite's default is 2 MiB).
    /// Its passive checkpoints had made a sending process ~3 MB bigger; with
    /// this cache it is ~1 MB smaller again, and delivery no slower (faster, in
    /// three runs each: ~2,000 against ~1,760 letters/s).
    ///
    /// Like a page's, it leaves the WAL to grow up to
    /// [`WAL_PAGES_BETWEEN_CHECKPOINTS`] between checkpoints: past 1000,
    /// with pages writing all the time, every one of its commits tried a
    /// checkpoint again, with two fsyncs each (80 fsyncs in a burst of
    /// 2,000 letters, half a second of the thread's time). It
    /// checkpoints once a second instead ([`Store::checkpoint_if_due`] after
    /// each window).
    ///
    /// It waits for the lock with `busy_wait`: a page of its process that
    /// commits wakes it (see `delivery::background`).
    pub fn configure_for_sender_thread(&self, busy_wait: fn(i32) -> bool) {
        self.write_mostly(busy_wait);
    }

    /// A connection that mostly writes (a background page's, the sender
    /// thread's): a small page cache, no checkpoint of its own until the
    /// WAL is large, and `busy_wait` as its busy handler.
    fn write_mostly(&self, busy_wait: fn(i32) -> bool) {
        self.busy_wait.set(busy_wait);
        let _ = self.conn.busy_handler(Some(busy_wait));
        let _ = self.conn.pragma_update(None, "cache_size", -SMALL_CACHE_KIB);
        let _ = self.conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES_BETWEEN_CHECKPOINTS);
    }

    /// A letter left the outbox: [`Store::scrub_if_due`] will take it off the disk.
    pub fn letter_removed(&self) {
        self.scrub_due.set(true);
    }

    /// Mid-burst, at most once a second: the WAL copied back into the
    /// database without waiting for anyone (PASSIVE), so the next writer
    /// can start it afresh; the scrub truncates it once the burst is over.
    /// (The scrub itself after every window blocked every writer for its
    /// copy and fsyncs: four php-fpm workers' page hits dropped from
    /// ~1,100 to as low as ~640 letters/s in some runs.)
    pub fn checkpoint_if_due(&self) {
        if once_a_second(&self.last_checkpoint) {
            let _ = self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }

    /// After letters left the outbox, copies the WAL into the database and
    /// truncates it, so that their bytes (zeroed in the database by
    /// `secure_delete`) are gone from the WAL too. At most once a second
    /// per process, and never waiting: while another process reads, the
    /// next call (or that process's own) does it.
    pub fn scrub_if_due(&self) {
        if !self.scrub_due.get() || !once_a_second(&self.last_scrub) {
            return;
        }
        let _ = self.conn.busy_handler(None);
        let busy = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)).unwrap_or(1);
        let _ = self.conn.busy_handler(Some(self.busy_wait.get()));
        if busy == 0 {
            self.scrub_due.set(false);
        }
    }

    fn migrate(&mut self) -> rusqlite::Result<()> {
        let current: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        // IMMEDIATE: the first worker takes the write lock; the others wait
        // on the busy timeout and then see the new version.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > SCHEMA_VERSION {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "schema version {current} is newer than this extension ({SCHEMA_VERSION}); upgrade smtp34"
            )));
        }
        for migration in &MIGRATIONS[current as usize..] {
            tx.execute_batch(migration)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        tx.commit()
    }

    /// A write transaction, the write lock taken at once (in WAL a deferred
    /// read-then-write fails with SQLITE_BUSY instead of waiting).
    pub(crate) fn write_tx(&self) -> rusqlite::Result<Tx<'_>> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Tx { conn: &self.conn, open: true })
    }

    /// A read transaction: what it reads is one snapshot.
    pub(crate) fn read_tx(&self) -> rusqlite::Result<Tx<'_>> {
        self.conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Tx { conn: &self.conn, open: true })
    }

    /// One row of a statement kept prepared (`Connection::query_row` parses it each time).
    pub(crate) fn query_one<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, row)
    }

    /// Runs a statement, prepared once per connection: the hot path sends
    /// the same few statements for every letter, and parsing SQL each time
    /// showed in the profile.
    pub(crate) fn run(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    pub fn schema_version(&self) -> rusqlite::Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))
    }

    // ---- accounts ----

    const ACCOUNT_COLUMNS: &'static str = "id, active, name, email, host, port, security, auth, login, \
        password IS NOT NULL AND length(password) > 0, mailing_first, verify_tls, daily_limit, created_at, updated_at, revision, \
        oauth_provider, oauth_client_id, oauth_client_secret IS NOT NULL AND length(oauth_client_secret) > 0, oauth_tenant, \
        oauth_authorize_url, oauth_token_url, oauth_scope, hourly_limit, minute_limit";

    fn account_from_row(row: &rusqlite::Row) -> rusqlite::Result<Account> {
        let security: String = row.get(6)?;
        let auth: String = row.get(7)?;
        let provider: String = row.get(16)?;
        let oauth = crate::oauth::Provider::parse(&provider).map(|provider| crate::oauth::OAuthConfig {
            provider,
            client_id: row.get(17).unwrap_or_default(),
            tenant: row.get(19).unwrap_or_default(),
            authorize_url: row.get(20).unwrap_or_default(),
            token_url: row.get(21).unwrap_or_default(),
            scope: row.get(22).unwrap_or_default(),
        });
        Ok(Account {
            oauth,
            has_client_secret: row.get(18)?,
            id: row.get(0)?,
            active: row.get(1)?,
            name: row.get(2)?,
            email: row.get(3)?,
            server: Endpoint {
                host: row.get(4)?,
                port: row.get(5)?,
                security: Security::parse(&security).unwrap_or(Security::None),
                verify_tls: row.get(11)?,
                auth: AuthKind::parse(&auth).unwrap_or(AuthKind::None),
                login: row.get(8)?,
            },
            has_password: row.get(9)?,
            mailing_first: row.get(10)?,
            daily_limit: row.get(12)?,
            hourly_limit: row.get(23)?,
            minute_limit: row.get(24)?,
            created_at: row.get(13)?,
            updated_at: row.get(14)?,
            revision: row.get(15)?,
        })
    }

    /// All accounts, highest id first.
    pub fn accounts(&self) -> rusqlite::Result<Vec<Account>> {
        let sql = format!("SELECT {} FROM accounts ORDER BY id DESC", Self::ACCOUNT_COLUMNS);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], Self::account_from_row)?;
        rows.collect()
    }

    pub fn account(&self, id: i64) -> rusqlite::Result<Option<Account>> {
        let sql = format!("SELECT {} FROM accounts WHERE id = ?1", Self::ACCOUNT_COLUMNS);
        self.query_one(&sql, [id], Self::account_from_row).optional()
    }

    /// The encrypted password of an account, if it has one.
    pub fn sealed_password(&self, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
        self.sealed_secret(id, "password")
    }

    /// The encrypted OAuth client secret of an account, if it has one.
    pub fn sealed_client_secret(&self, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
        self.sealed_secret(id, "oauth_client_secret")
    }

    fn sealed_secret(&self, id: i64, column: &'static str) -> rusqlite::Result<Option<Vec<u8>>> {
        self.query_one(&format!("SELECT {column} FROM accounts WHERE id = ?1"), [id], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()
            .map(Option::flatten)
            .map(|p| p.filter(|p| !p.is_empty()))
    }

    /// A new account from `draft` (its id, if any, is not used); its id.
    pub fn insert_account(&self, draft: &AccountDraft, sealed: Sealed, now: i64) -> rusqlite::Result<i64> {
        let s = &draft.server;
        let o = draft.oauth.as_ref();
        self.run(
            "INSERT INTO accounts (active, name, email, host, port, security, auth, login, password,
                mailing_first, verify_tls, daily_limit, created_at, updated_at, oauth_provider, oauth_client_id,
                oauth_client_secret, oauth_tenant, oauth_authorize_url, oauth_token_url, oauth_scope, hourly_limit, minute_limit)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
            params![
                draft.active,
                draft.name,
                draft.email,
                s.host,
                s.port,
                s.security.as_str(),
                s.auth.as_str(),
                s.login,
                sealed.password,
                draft.mailing_first,
                s.verify_tls,
                draft.daily_limit,
                now,
                o.map_or("", |o| o.provider.as_str()),
                o.map_or("", |o| o.client_id.as_str()),
                sealed.client_secret,
                o.map_or("", |o| o.tenant.as_str()),
                o.map_or("", |o| o.authorize_url.as_str()),
                o.map_or("", |o| o.token_url.as_str()),
                o.map_or("", |o| o.scope.as_str()),
                draft.hourly_limit,
                draft.minute_limit,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Writes only what `draft` changes of `before` (the account as this
    /// call read it), so a concurrent change to another field (a
    /// deactivation while this save's check ran) is never reverted.
    /// Returns false when the account no longer exists.
    pub fn update_account(&self, before: &Account, draft: &AccountDraft, sealed: Sealed, now: i64) -> rusqlite::Result<bool> {
        use rusqlite::types::ToSql;
        let (old, new) = (&before.server, &draft.server);
        let mut columns: Vec<(&str, Box<dyn ToSql>)> = Vec::new();
        let mut changed = |column: &'static str, differs: bool, value: Box<dyn ToSql>| {
            if differs {
                columns.push((column, value));
            }
        };
        changed("active", before.active != draft.active, Box::new(draft.active));
        changed("name", before.name != draft.name, Box::new(draft.name.clone()));
        changed("email", before.email != draft.email, Box::new(draft.email.clone()));
        changed("host", old.host != new.host, Box::new(new.host.clone()));
        changed("port", old.port != new.port, Box::new(new.port));
        changed("security", old.security != new.security, Box::new(new.security.as_str()));
        changed("auth", old.auth != new.auth, Box::new(new.auth.as_str()));
        changed("login", old.login != new.login, Box::new(new.login.clone()));
        changed("mailing_first", before.mailing_first != draft.mailing_first, Box::new(draft.mailing_first));
        changed("verify_tls", old.verify_tls != new.verify_tls, Box::new(new.verify_tls));
        changed("daily_limit", before.daily_limit != draft.daily_limit, Box::new(draft.daily_limit));
        changed("hourly_limit", before.hourly_limit != draft.hourly_limit, Box::new(draft.hourly_limit));
        changed("minute_limit", before.minute_limit != draft.minute_limit, Box::new(draft.minute_limit));
        changed("password", sealed.password.is_some(), Box::new(sealed.password));
        let columns_of = |o: Option<&crate::oauth::OAuthConfig>| o.map_or_else(crate::oauth::OAuthConfig::no_columns, |o| o.columns());
        for ((column, was), (_, will)) in columns_of(before.oauth.as_ref()).into_iter().zip(columns_of(draft.oauth.as_ref())) {
            changed(column, was != will, Box::new(will));
        }
        changed("oauth_client_secret", sealed.client_secret.is_some(), Box::new(sealed.client_secret));
        let assignments: String = columns.iter().enumerate().map(|(i, (column, _))| format!("{column} = ?{}, ", i + 3)).collect();
        let sql = format!("UPDATE accounts SET {assignments}updated_at = ?2, revision = revision + 1 WHERE id = ?1");
        let mut values: Vec<&dyn ToSql> = vec![&before.id, &now];
        values.extend(columns.iter().map(|(_, value)| value.as_ref()));
        Ok(self.conn.prepare_cached(&sql)?.execute(values.as_slice())? == 1)
    }

    pub fn delete_account(&self, id: i64) -> rusqlite::Result<bool> {
        self.run("DELETE FROM account_health WHERE account_id = ?1", [id])?;
        Ok(self.run("DELETE FROM accounts WHERE id = ?1", [id])? == 1)
    }

    /// Moves whenever settings, accounts or their health change (triggers).
    pub fn config_version(&self) -> rusqlite::Result<i64> {
        self.query_one("SELECT version FROM config_version", [], |r| r.get(0))
    }

    /// Whether any account holds a password sealed with the key file.
    pub fn has_sealed_passwords(&self) -> rusqlite::Result<bool> {
        self.query_one("SELECT EXISTS (SELECT 1 FROM accounts WHERE length(password) > 0) OR EXISTS (SELECT 1 FROM dkim_keys)", [], |r| {
            r.get(0)
        })
    }

    // ---- settings ----

    pub fn settings(&self) -> rusqlite::Result<Settings> {
        let mut stmt = self.conn.prepare_cached("SELECT key, value FROM settings")?;
        let pairs: Vec<(String, String)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(Settings::from_stored(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    /// Applies `changes` to the settings as they are now, in one write
    /// transaction, and writes only the keys that changed: two processes
    /// changing different settings at once never undo each other.
    pub fn update_settings(&mut self, changes: &crate::config::fields::Fields) -> crate::error::Result<Settings> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = {
            let mut stmt = tx.prepare_cached("SELECT key, value FROM settings")?;
            let pairs: Vec<(String, String)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Settings::from_stored(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        };
        let mut after = before.clone();
        after.apply(changes)?;
        for key in crate::config::settings::KEYS.iter().filter(|k| after.stored(k) != before.stored(k)) {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, after.stored(key)],
            )?;
        }
        tx.commit()?;
        Ok(after)
    }

    // ---- journal ----

    pub fn append_journal(&self, entry: &JournalEntry) -> rusqlite::Result<i64> {
        self.run(
            "INSERT INTO journal (time, account_id, mailing_id, from_addr, recipients, subject, message_id, status, reply, duration_ms, resent_from)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                entry.time,
                entry.account_id,
                entry.mailing_id.as_deref().map(|m| cap(m, SHORT)),
                cap(&entry.from, SHORT),
                cap(&entry.recipients, LONG),
                cap(&entry.subject, SHORT),
                cap(&entry.message_id, SHORT),
                entry.status.as_str(),
                cap(&entry.reply, LONG),
                entry.duration_ms,
                entry.resent_from
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Removes journal rows older than `before` (unix time), but never the
    /// row of a letter still in the outbox. Walks the primary key, which
    /// grows with time, so it costs a few page reads when there is nothing to do.
    pub fn prune_journal(&self, before: i64) -> rusqlite::Result<usize> {
        self.run(
            "DELETE FROM journal
             WHERE id < COALESCE((SELECT min(id) FROM journal WHERE time >= ?1), (SELECT max(id) + 1 FROM journal))
               AND id NOT IN (SELECT journal_id FROM outbox WHERE journal_id IS NOT NULL)",
            [before],
        )
        .and_then(|pruned| {
            self.run("DELETE FROM kept_letters WHERE kept_at < ?1", [before])?;
            Ok(pruned)
        })
    }

    /// Completes a row written before the work: its final status and reply
    /// (`None` keeps what the row has).
    pub fn complete_journal(
        &self,
        id: i64,
        status: Status,
        account_id: Option<i64>,
        reply: &str,
        duration_ms: Option<i64>,
    ) -> rusqlite::Result<()> {
        self.run(
            "UPDATE journal SET status = ?2, account_id = COALESCE(?3, account_id), reply = ?4, duration_ms = COALESCE(?5, duration_ms)
             WHERE id = ?1",
            params![id, status.as_str(), account_id, cap(reply, LONG), duration_ms],
        )?;
        Ok(())
    }

    /// Adds what happened later (the outbox delivered or gave up on part of
    /// a letter) to a row whose status stays as it is.
    pub fn add_journal_note(&self, id: i64, note: &str) -> rusqlite::Result<()> {
        self.run("UPDATE journal SET reply = substr(reply || '; ' || ?2, 1, ?3) WHERE id = ?1", params![id, note, LONG as i64])?;
        Ok(())
    }

    pub fn journal_status(&self, id: i64) -> rusqlite::Result<Option<Status>> {
        self.query_one("SELECT status FROM journal WHERE id = ?1", [id], |r| stored_status(r, 0)).optional()
    }

    /// The newest `limit` rows, newest first.
    pub fn journal(&self, limit: i64) -> rusqlite::Result<Vec<JournalEntry>> {
        self.journal_page(limit, 0, &journal::JournalFilter::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fields::{Fields, Value};

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("smtp34-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        dir.join("nested/smtp34.db")
    }

    #[test]
    fn a_writer_waiting_for_the_lock_sleeps_briefly_first_and_gives_up_after_the_busy_timeout() {
        let mut waited = Duration::ZERO;
        let sleeps: Vec<Duration> = (0..)
            .map_while(|tries| {
                let sleep = busy_step(tries, waited)?;
                waited += sleep;
                Some(sleep)
            })
            .collect();
        let micros = |d: &Duration| d.as_micros() as u64;
        assert_eq!(sleeps[..5].iter().map(micros).collect::<Vec<_>>(), [20, 40, 80, 160, 250]);
        let first_20_ms: Vec<u64> = sleeps
            .iter()
            .scan(0, |slept, d| {
                (*slept < 20_000).then(|| {
                    *slept += micros(d);
                    micros(d)
                })
            })
            .collect();
        assert!(first_20_ms.iter().all(|&us| us <= 250), "{first_20_ms:?}");
        assert!(sleeps.iter().all(|d| micros(d) <= 2_000));
        let total: Duration = sleeps.iter().sum();
        assert!(total >= BUSY_TIMEOUT && total < BUSY_TIMEOUT + Duration::from_millis(3), "{total:?}");
    }

    #[test]
    fn a_writer_woken_early_again_and_again_still_waits_the_whole_busy_timeout() {
        // woken every 10 µs, it has tried 100,000 times after a second: it waits on
        assert_eq!(busy_step(100_000, Duration::from_secs(1)), Some(Duration::from_millis(2)));
        assert_eq!(busy_step(100_000, BUSY_TIMEOUT - Duration::from_micros(1)), Some(Duration::from_millis(2)));
        assert_eq!(busy_step(5, BUSY_TIMEOUT), None);
        // and on its own clock: the first try starts it, the next ones run from there
        assert!(busy_sleep(0).is_some());
        assert!(busy_sleep(100_000).is_some());
    }

    fn setting(key: &str, value: Value) -> Fields {
        [(key.to_string(), value)].into_iter().collect()
    }

    fn draft(email: &str) -> AccountDraft {
        let fields: Fields = [
            ("email".to_string(), Value::Bytes(email.as_bytes().to_vec())),
            ("host".to_string(), Value::Bytes(b"smtp.site.ru".to_vec())),
            ("name".to_string(), Value::Bytes("Магазин".as_bytes().to_vec())),
        ]
        .into_iter()
        .collect();
        AccountDraft::from_fields(&fields, None).unwrap()
    }

    #[test]
    fn creates_schema_in_wal_and_reopens() {
        let path = temp_db("schema");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn the_database_and_its_wal_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_db("modes");
        let store = Store::open(&path).unwrap();
        store.append_journal(&JournalEntry::default()).unwrap();
        for file in [path.clone(), path.with_extension("db-wal"), path.with_extension("db-shm")] {
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn the_config_version_moves_with_settings_accounts_and_health_only() {
        let mut store = Store::open(&temp_db("version")).unwrap();
        let v0 = store.config_version().unwrap();
        store.append_journal(&JournalEntry::default()).unwrap();
        assert_eq!(store.config_version().unwrap(), v0, "letters do not move it");
        let id = store.insert_account(&draft("a@site.ru"), Sealed::default(), 1).unwrap();
        let v1 = store.config_version().unwrap();
        assert!(v1 > v0);
        store.update_settings(&setting("timeout", Value::Int(7))).unwrap();
        let v2 = store.config_version().unwrap();
        assert!(v2 > v1);
        store.record_failure(id, "down", 10).unwrap();
        let v3 = store.config_version().unwrap();
        assert!(v3 > v2);
        store.record_success(id, 20).unwrap();
        let v4 = store.config_version().unwrap();
        assert!(v4 > v3, "recovery moves it");
        store.record_success(id, 30).unwrap();
        assert_eq!(store.config_version().unwrap(), v4, "a healthy account's success within the minute writes nothing");
    }

    #[test]
    fn a_version_3_file_gets_the_config_version_in_place() {
        let path = temp_db("v3");
        let v3 = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..3] {
            v3.execute_batch(migration).unwrap();
        }
        v3.execute_batch("PRAGMA user_version = 3").unwrap();
        drop(v3);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.config_version().unwrap(), 1);
    }

    #[test]
    fn upgrades_a_version_1_file_in_place() {
        let path = temp_db("upgrade");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let v1 = Connection::open(&path).unwrap();
        v1.execute_batch(MIGRATIONS[0]).unwrap();
        v1.execute_batch("PRAGMA user_version = 1;
            INSERT INTO accounts (email, host, port, security, auth, created_at, updated_at) VALUES ('a@b.ru', 'h', 25, 'none', 'none', 1, 1);").unwrap();
        drop(v1);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.accounts().unwrap()[0].revision, 1);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let path = temp_db("newer");
        let store = Store::open(&path).unwrap();
        store.conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(store);
        assert!(Store::open(&path).err().unwrap().contains("newer than this extension"));
    }

    #[test]
    fn accounts_round_trip_highest_first_and_keep_password_on_update() {
        let store = Store::open(&temp_db("accounts")).unwrap();
        let one = store.insert_account(&draft("a@site.ru"), Sealed { password: Some(vec![1, 2, 3]), client_secret: None }, 100).unwrap();
        let two = store.insert_account(&draft("b@site.ru"), Sealed::default(), 101).unwrap();
        let list = store.accounts().unwrap();
        assert_eq!(list.iter().map(|a| a.id).collect::<Vec<_>>(), vec![two, one]);
        assert!(list[1].has_password && !list[0].has_password);
        assert_eq!(list[1].name, "Магазин");

        let mut update = draft("a2@site.ru");
        update.id = Some(one);
        let before = store.account(one).unwrap().unwrap();
        assert!(store.update_account(&before, &update, Sealed::default(), 200).unwrap());
        let got = store.account(one).unwrap().unwrap();
        assert_eq!((got.email.as_str(), got.created_at, got.updated_at, got.revision), ("a2@site.ru", 100, 200, 2));
        assert_eq!(store.sealed_password(one).unwrap(), Some(vec![1, 2, 3]), "no new password: the stored one is kept");

        // a concurrent change to another column is not reverted by an update made from an older read
        store.run("UPDATE accounts SET active = 0 WHERE id = ?1", [one]).unwrap();
        update.name = "Новое имя".into();
        assert!(store.update_account(&got, &update, Sealed::default(), 300).unwrap());
        let now = store.account(one).unwrap().unwrap();
        assert_eq!((now.active, now.name.as_str()), (false, "Новое имя"));

        let mut gone = before.clone();
        gone.id = 999;
        assert!(!store.update_account(&gone, &update, Sealed::default(), 200).unwrap());
        assert!(store.delete_account(one).unwrap());
        assert!(!store.delete_account(one).unwrap());
        assert_eq!(store.account(one).unwrap(), None);
    }

    #[test]
    fn settings_default_then_persist() {
        let path = temp_db("settings");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.settings().unwrap(), Settings::default());
        let mut changes = setting("enabled", Value::Bool(true));
        changes.insert("timeout".into(), Value::Int(3));
        let s = store.update_settings(&changes).unwrap();
        assert!(s.enabled && s.timeout == 3);
        drop(store);
        assert_eq!(Store::open(&path).unwrap().settings().unwrap(), s);
    }

    #[test]
    fn journal_newest_first_with_limit() {
        let store = Store::open(&temp_db("journal")).unwrap();
        for i in 0..5 {
            store.append_journal(&JournalEntry { time: i, status: Status::Sent, subject: format!("s{i}"), ..Default::default() }).unwrap();
        }
        let rows = store.journal(3).unwrap();
        assert_eq!(rows.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>(), ["s4", "s3", "s2"]);
    }

    #[test]
    fn long_texts_are_capped_and_old_rows_pruned_but_not_those_of_waiting_letters() {
        let store = Store::open(&temp_db("prune")).unwrap();
        let big = "Тема ".repeat(100_000);
        let id = store.append_journal(&JournalEntry { time: 100, subject: big.clone(), reply: big.clone(), ..Default::default() }).unwrap();
        let row = &store.journal(1).unwrap()[0];
        assert_eq!((row.subject.chars().count(), row.reply.chars().count()), (SHORT, LONG));
        store.add_journal_note(id, &big).unwrap();
        assert_eq!(store.journal(1).unwrap()[0].reply.chars().count(), LONG);

        for time in [200, 300, 400] {
            store.append_journal(&JournalEntry { time, ..Default::default() }).unwrap();
        }
        let waiting = crate::store::outbox::OutboxLetter { recipients: vec!["a@b.ru".into()], ..Default::default() };
        let entry = JournalEntry { time: 150, ..Default::default() };
        store
            .begin_letter(&crate::store::outbox::NewLetter {
                entry: &entry,
                row: &waiting,
                message: b"x",
                spooled: None,
                claim: None,
                now: 150,
            })
            .unwrap();
        assert_eq!(store.prune_journal(350).unwrap(), 3, "100, 200 and 300 go (150 waits in the outbox; 400 is new)");
        let left: Vec<i64> = store.journal(10).unwrap().iter().map(|r| r.time).collect();
        assert_eq!(left, [150, 400]);
        assert_eq!(store.prune_journal(350).unwrap(), 0);
        assert_eq!(store.prune_journal(1000).unwrap(), 1, "every row old: all go but the waiting letter's");
        assert_eq!(store.journal(10).unwrap().iter().map(|r| r.time).collect::<Vec<_>>(), [150]);
    }

    #[test]
    fn concurrent_writers_all_land() {
        let path = temp_db("concurrent");
        Store::open(&path).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let store = Store::open(&path).unwrap();
                    for i in 0..50 {
                        store.append_journal(&JournalEntry { time: t * 100 + i, ..Default::default() }).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(Store::open(&path).unwrap().journal(1000).unwrap().len(), 200);
    }
}
