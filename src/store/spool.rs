//! A background page's letter bytes, apart from their outbox row.
//!
//! A 2 KB letter in its outbox row took a database page of its own: the
//! page's commit wrote it, the sender thread's claim rewrote it, and its
//! deletion freed and zeroed it again, three 4 KiB frames in the WAL and
//! one read back a letter. Written here instead, the row is a few hundred
//! bytes among others on a shared page, and the bytes cost one `pwrite`.
//!
//! Each process appends to a spool file of its own, `<pid>-<id>.spool` in
//! `<database>-spool/`, and holds an exclusive `flock` on it while it lives:
//! a file nobody holds belongs to a process that ended. A row names its
//! letter's file, offset and length; whoever claims the row reads the bytes
//! inside the claiming transaction. The file is emptied when no row names
//! it and no page is writing to it (the sender thread looks when it falls
//! idle); a process whose thread never falls idle starts a new file every
//! 64 MiB and removes the old one once no row names it. At process end the
//! rows that still name its files take their bytes back and the files are
//! removed; a killed process's files are adopted the same way by the next
//! sender thread that starts, or by `smtp34_maintain()`.
//!
//! Nothing is created at module start-up: the first letter a process spools
//! creates its file (again after a fork, under the child's pid).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::params;

use super::Store;
use crate::route::outcome::Status;

/// Where a letter's bytes are: its process's spool file, offset and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub file: String,
    pub at: i64,
    pub length: i64,
}

/// A page is writing a letter it spooled: until this is dropped (after its
/// row is committed, or not), the file is not emptied under it.
pub struct Writing(());

impl Drop for Writing {
    fn drop(&mut self) {
        if let Some(spool) = own(&mut lock()) {
            spool.writing = spool.writing.saturating_sub(1);
        }
    }
}

struct Spool {
    pid: u32,
    dir: PathBuf,
    name: String,
    file: File,
    len: u64,
    /// Letters appended whose rows are not committed (or abandoned) yet.
    writing: usize,
    /// Files this process filled before, still locked, removed once no row names them.
    retired: Vec<(String, File)>,
}

/// The size past which a process starts a new spool file.
#[cfg(not(test))]
const ROTATE_AT: u64 = 64 << 20;
#[cfg(test)]
const ROTATE_AT: u64 = 64;

/// The process's spool. A page holds the lock for one `pwrite`, the sender
/// thread for one read of the outbox; neither calls into PHP meanwhile.
static SPOOL: Mutex<Option<Spool>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Spool>> {
    SPOOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The spool in `slot` when it is this process's (not a forked parent's).
fn own(slot: &mut Option<Spool>) -> Option<&mut Spool> {
    slot.as_mut().filter(|s| s.pid == crate::process::id())
}

/// The spool directory of the database at `db`.
pub fn dir_of(db: &Path) -> PathBuf {
    let mut dir = db.as_os_str().to_owned();
    dir.push("-spool");
    PathBuf::from(dir)
}

/// A spool file's name as a row gives it: `<pid>-<hex>.spool`, nothing else
/// (a row never names a path outside the directory).
fn valid_name(name: &str) -> bool {
    name.strip_suffix(".spool").is_some_and(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

/// Appends `bytes` to this process's spool in `dir` (created on first use).
/// `Err`: the letter goes into its row as before (no directory, a full
/// disk): spooling is an economy, never a condition for sending. The error
/// holds why the spool cannot be opened the first time a process finds out
/// (its page warns once); it then tries again after [`REFUSED_FOR`], and
/// says nothing meanwhile.
pub fn append(dir: &Path, bytes: &[u8]) -> Result<(Spooled, Writing), Option<String>> {
    let pid = crate::process::id();
    let mut slot = lock();
    if slot.as_ref().is_some_and(|s| s.pid != pid || s.dir != dir) {
        // a forked child's copy of its parent's (the parent keeps its lock), or another database's
        *slot = None;
    }
    let spool = match &mut *slot {
        Some(spool) => spool,
        empty => empty.insert(create(dir, pid)?),
    };
    if spool.len >= ROTATE_AT {
        if let Ok((name, file)) = open_file(&spool.dir, pid) {
            let full = (std::mem::replace(&mut spool.name, name), std::mem::replace(&mut spool.file, file));
            spool.retired.push(full);
            spool.len = 0;
        }
    }
    let at = spool.len;
    if spool.file.write_all_at(bytes, at).is_err() {
        // whatever part was written lies past `len` and is overwritten by the next letter
        return Err(None);
    }
    spool.len += bytes.len() as u64;
    spool.writing += 1;
    Ok((Spooled { file: spool.name.clone(), at: at as i64, length: bytes.len() as i64 }, Writing(())))
}

/// How long a process whose spool directory could not be used keeps its
/// letters' bytes in their rows before it tries the directory again.
#[cfg(not(test))]
const REFUSED_FOR: Duration = Duration::from_secs(60);
#[cfg(test)]
const REFUSED_FOR: Duration = Duration::from_millis(200);

/// What becomes of background letters while the spool directory cannot be used.
pub const REFUSED_MEANWHILE: &str = "letters keep their bytes in the database meanwhile";

/// The spool directory this process last failed to use, and when.
struct Refused {
    pid: u32,
    dir: PathBuf,
    at: Instant,
}

static REFUSED: Mutex<Option<Refused>> = Mutex::new(None);

fn create(dir: &Path, pid: u32) -> Result<Spool, Option<String>> {
    let mut refused = REFUSED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let before = refused.as_ref().filter(|r| r.pid == pid && r.dir == dir);
    if before.is_some_and(|r| r.at.elapsed() < REFUSED_FOR) {
        return Err(None);
    }
    let told = before.is_some();
    let opened = crate::files::private_dir(dir, "spool directory")
        .and_then(|()| open_file(dir, pid).map_err(|e| format!("cannot create a file in the spool directory {}: {e}", dir.display())));
    match opened {
        Ok((name, file)) => {
            *refused = None;
            Ok(Spool { pid, dir: dir.to_owned(), name, file, len: 0, writing: 0, retired: Vec::new() })
        }
        Err(why) => {
            *refused = Some(Refused { pid, dir: dir.to_owned(), at: Instant::now() });
            Err((!told).then(|| format!("{why}; {REFUSED_MEANWHILE}, which is slower")))
        }
    }
}

/// A new spool file of this process, locked.
fn open_file(dir: &Path, pid: u32) -> std::io::Result<(String, File)> {
    let name = format!("{pid}-{}.spool", crate::process::unique_id());
    // locked under a name no collector looks at, then renamed: a file with
    // the final name and no lock is always a dead process's
    let fresh = dir.join(format!("{name}.new"));
    let file = OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&fresh)?;
    let locked = file.try_lock().map_err(std::io::Error::from).and_then(|()| std::fs::rename(&fresh, dir.join(&name)));
    if let Err(e) = locked {
        let _ = std::fs::remove_file(&fresh);
        return Err(e);
    }
    Ok((name, file))
}

/// Reads the letters of a claimed window: each file opened once, and the
/// letters a page wrote one after another (a window's usually are) read
/// with one `pread` together.
pub struct Reader<'a> {
    dir: &'a Path,
    open: Vec<(String, std::io::Result<File>)>,
    /// One file's bytes from an offset: the span of the letters wanted.
    span: Option<(String, u64, Vec<u8>)>,
}

/// Letters read together at most: a window's, with a little room.
const SPAN_BYTES: u64 = 4 << 20;

impl<'a> Reader<'a> {
    /// A reader for `wanted`: when they are all in one file, close together
    /// and not too many bytes, their span is read at the first call.
    pub fn new(dir: &'a Path, wanted: &[&Spooled]) -> Reader<'a> {
        let mut reader = Reader { dir, open: Vec::new(), span: None };
        let Some(first) = wanted.first() else { return reader };
        let start = wanted.iter().map(|s| s.at).min().unwrap_or(0);
        let end = wanted.iter().map(|s| s.at.saturating_add(s.length)).max().unwrap_or(0);
        let total: i64 = wanted.iter().map(|s| s.length).sum();
        let one_file = wanted.iter().all(|s| s.file == first.file);
        if one_file && start >= 0 && end > start && ((end - start) as u64) <= SPAN_BYTES && end - start <= 2 * total {
            let span = reader.file(&first.file).and_then(|file| {
                let mut bytes = vec![0; (end - start) as usize];
                file.read_exact_at(&mut bytes, start as u64)?;
                Ok(bytes)
            });
            // a short file: each letter is read (and found missing) on its own
            reader.span = span.ok().map(|bytes| (first.file.clone(), start as u64, bytes));
        }
        reader
    }

    fn file(&mut self, name: &str) -> std::io::Result<&File> {
        if !valid_name(name) {
            return Err(std::io::Error::new(ErrorKind::InvalidData, "not a spool file name"));
        }
        if !self.open.iter().any(|(n, _)| n == name) {
            self.open.push((name.to_owned(), File::open(self.dir.join(name))));
        }
        match self.open.iter().find(|(n, _)| n == name) {
            Some((_, Ok(file))) => Ok(file),
            Some((_, Err(e))) => Err(std::io::Error::new(e.kind(), e.to_string())),
            None => Err(ErrorKind::NotFound.into()),
        }
    }

    /// One letter's bytes.
    pub fn read(&mut self, spooled: &Spooled) -> std::io::Result<Vec<u8>> {
        if spooled.at < 0 || spooled.length < 0 {
            return Err(std::io::Error::new(ErrorKind::InvalidData, "not a spool reference"));
        }
        let (at, length) = (spooled.at as u64, spooled.length as u64);
        if let Some((_, start, bytes)) = self
            .span
            .as_ref()
            .filter(|(file, start, bytes)| *file == spooled.file && at >= *start && at + length <= *start + bytes.len() as u64)
        {
            return Ok(bytes[(at - start) as usize..(at - start + length) as usize].to_vec());
        }
        let file = self.file(&spooled.file)?;
        let mut bytes = vec![0; length as usize];
        file.read_exact_at(&mut bytes, at)?;
        Ok(bytes)
    }
}

/// Removes the letters' bytes no row needs any more, when no page is
/// writing: the files this process filled before that no row names, and,
/// when the sender thread fell `idle`, the current file's (emptied, as the
/// database's WAL is once it is copied back). Mid-burst the current file is
/// not looked at (a read of the outbox that would find it in use).
pub fn tidy(store: &Store, idle: bool) {
    let mut slot = lock();
    let Some(spool) = own(&mut slot).filter(|s| s.writing == 0) else { return };
    let dir = spool.dir.clone();
    spool.retired.retain(|(name, _)| {
        let unused = matches!(store.spool_in_use(name), Ok(false));
        if unused {
            let _ = std::fs::remove_file(dir.join(name));
        }
        !unused
    });
    if idle && spool.len > 0 && matches!(store.spool_in_use(&spool.name), Ok(false)) && spool.file.set_len(0).is_ok() {
        spool.len = 0;
    }
}

/// This process's spool holds letters' bytes (some may still be needed).
pub fn holds_bytes() -> bool {
    own(&mut lock()).is_some_and(|s| s.len > 0 || !s.retired.is_empty())
}

/// Files this process filled before wait for [`tidy`].
pub fn has_retired() -> bool {
    own(&mut lock()).is_some_and(|s| !s.retired.is_empty())
}

/// This process has a spool file (it wrote a letter to it).
pub fn is_open() -> bool {
    own(&mut lock()).is_some()
}

/// Process end: the rows that still name this process's spool take their
/// bytes back, and the file is removed. Left as it is when that fails: the
/// next sender thread to start adopts it.
pub fn retire(store: &Store) {
    let mut slot = lock();
    let Some(spool) = slot.take_if(|s| s.pid == crate::process::id()) else { return };
    for name in spool.retired.iter().map(|(name, _)| name).chain([&spool.name]) {
        if store.adopt_spool(&spool.dir, name).is_ok() {
            let _ = std::fs::remove_file(spool.dir.join(name));
        }
    }
}

/// How long a live process may take from creating its new spool file to
/// locking and renaming it: far longer than it ever takes.
const CREATING_FOR_AT_MOST: Duration = Duration::from_secs(60);

/// Adopts every spool of the database whose process ended (nobody holds its lock):
/// its rows take their bytes back and the file is removed.
pub fn collect_dead(store: &Store) {
    let dir = &store.spool_dir;
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        // a file a process was creating when it died: empty, named by no row. Only an old one: a
        // live process locks its new file just after creating it, and a collector that locked it
        // first and removed it made that process's spool fail (and its page warn) for a minute
        if name.strip_suffix(".new").is_some_and(valid_name) {
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| at.elapsed().is_ok_and(|age| age >= CREATING_FOR_AT_MOST));
            if old && OpenOptions::new().write(true).open(entry.path()).is_ok_and(|file| file.try_lock().is_ok()) {
                let _ = std::fs::remove_file(entry.path());
            }
            continue;
        }
        // this process's own files are locked by it: try_lock below leaves them alone
        if !valid_name(&name) {
            continue;
        }
        let Ok(file) = OpenOptions::new().read(true).write(true).open(entry.path()) else { continue };
        if file.try_lock().is_err() {
            continue;
        }
        if store.adopt_spool(dir, &name).is_ok() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Store {
    /// Whether any outbox row names the spool file `name`.
    pub fn spool_in_use(&self, name: &str) -> rusqlite::Result<bool> {
        self.query_one("SELECT EXISTS (SELECT 1 FROM outbox WHERE spool = ?1)", [name], |r| r.get(0))
    }

    /// The rows naming spool file `name` take their bytes into the row, in
    /// one transaction; a row whose bytes cannot be read is journaled
    /// `failed` and leaves the outbox (there is nothing left to send).
    pub fn adopt_spool(&self, dir: &Path, name: &str) -> rusqlite::Result<()> {
        let tx = self.write_tx()?;
        let rows: Vec<(i64, Option<i64>, Spooled)> = self
            .conn
            .prepare_cached("SELECT id, journal_id, spool_at, spool_length FROM outbox WHERE spool = ?1")?
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, Spooled { file: name.to_owned(), at: r.get(2)?, length: r.get(3)? })))?
            .collect::<rusqlite::Result<_>>()?;
        let mut reader = Reader::new(dir, &rows.iter().map(|(_, _, spooled)| spooled).collect::<Vec<_>>());
        for (id, journal_id, spooled) in rows {
            match reader.read(&spooled) {
                Ok(bytes) => {
                    self.run(
                        "UPDATE outbox SET message = ?2, spool = NULL, spool_at = 0, spool_length = 0 WHERE id = ?1",
                        params![id, bytes],
                    )?;
                }
                Err(e) => self.lose_letter(id, journal_id, &e)?,
            }
        }
        tx.commit()
    }

    /// A spooled letter whose bytes are gone (its file removed by hand, or
    /// cut short by a crash of the machine): `failed`, out of the outbox.
    pub(super) fn lose_letter(&self, id: i64, journal_id: Option<i64>, why: &std::io::Error) -> rusqlite::Result<()> {
        self.remove_from_outbox(id)?;
        if let Some(journal_id) = journal_id {
            let reply = format!("not sent: the letter's bytes were lost from its spool file ({})", why.kind());
            self.complete_journal(journal_id, Status::Failed, None, &reply, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::{Claim, NewLetter, OutboxLetter, Retry};
    use crate::store::JournalEntry;

    /// The spool is the process's: tests that write to it take turns.
    static TURN: Mutex<()> = Mutex::new(());

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("smtp34-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("smtp34.db")).unwrap()
    }

    fn row() -> OutboxLetter {
        OutboxLetter { from_email: "shop@site.ru".into(), recipients: vec!["a@b.ru".into()], subject: "s".into(), ..Default::default() }
    }

    fn claim(token: &str) -> Claim {
        Claim { token: token.into(), until: 100 }
    }

    /// Writes a letter as a background page does: bytes spooled, then its rows.
    fn write(store: &Store, bytes: &[u8]) -> (i64, i64) {
        let (spooled, writing) = append(&store.spool_dir, bytes).expect("spooled");
        let entry = JournalEntry { status: crate::route::outcome::Status::Queued, ..Default::default() };
        let row = row();
        let new = NewLetter { entry: &entry, row: &row, message: bytes, spooled: Some(&spooled), claim: None, now: 1 };
        let ids = store.begin_letter(&new).unwrap();
        drop(writing);
        ids
    }

    /// The name of this process's current spool file.
    fn current() -> String {
        lock().as_ref().unwrap().name.clone()
    }

    fn file_len(store: &Store) -> u64 {
        std::fs::metadata(store.spool_dir.join(current())).unwrap().len()
    }

    fn stored_bytes(store: &Store, id: i64) -> (Vec<u8>, Option<String>, i64) {
        store
            .conn
            .query_row("SELECT message, spool, length(message) + spool_length FROM outbox WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap()
    }

    #[test]
    fn a_spooled_letter_is_claimed_with_its_bytes_and_its_file_emptied_once_it_left() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("claim");
        let (_, first) = write(&store, b"first letter\r\n");
        let (_, second) = write(&store, b"second\r\n");
        let (row_bytes, spool, size) = stored_bytes(&store, first);
        assert_eq!((row_bytes.len(), spool.is_some(), size), (0, true, 14), "the row holds no bytes, yet lists the size");
        assert_eq!(store.outbox(1).unwrap()[1].size, 8);

        let claimed = store.claim_due(&claim("t"), 5, 0, 16, usize::MAX).unwrap();
        let bytes: Vec<&[u8]> = claimed.iter().map(|l| l.message.as_slice()).collect();
        assert_eq!(bytes, [&b"first letter\r\n"[..], &b"second\r\n"[..]]);

        tidy(&store, true);
        assert_eq!(file_len(&store), 22, "rows still name the file");
        store.remove_from_outbox(first).unwrap();
        assert!(!store.scrub_due.get(), "its bytes were never in the database: no WAL to scrub");
        tidy(&store, true);
        assert_eq!(file_len(&store), 22, "one row still names it");
        store.remove_from_outbox(second).unwrap();
        tidy(&store, true);
        assert_eq!(file_len(&store), 0, "no row names it: its letters' bytes are gone");

        // a page writing (its row not committed yet) keeps the file as it is
        let (_, writing) = append(&store.spool_dir, b"third").unwrap();
        tidy(&store, true);
        assert_eq!(file_len(&store), 5);
        drop(writing);
        tidy(&store, true);
        assert_eq!(file_len(&store), 0);
        retire(&store);
    }

    #[test]
    fn a_full_file_is_followed_by_a_new_one_and_removed_once_no_row_names_it() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("rotate");
        let letter = [b'x'; 40];
        let (_, first) = write(&store, &letter);
        let (_, second) = write(&store, &letter);
        let full = current();
        let (_, third) = write(&store, &letter);
        let next = current();
        assert_ne!(full, next, "past {ROTATE_AT} bytes the process starts a new file");
        assert!(has_retired());
        let letters = store.claim_due(&claim("t"), 5, 0, 16, usize::MAX).unwrap();
        assert!(letters.iter().all(|l| l.message == letter), "each read from its own file");

        store.remove_from_outbox(first).unwrap();
        tidy(&store, false);
        assert!(store.spool_dir.join(&full).exists(), "a row still names it");
        store.remove_from_outbox(second).unwrap();
        tidy(&store, false);
        assert!(!store.spool_dir.join(&full).exists(), "no row names it: removed, mid-burst too");
        assert!(!has_retired());
        assert_eq!(file_len(&store), 40, "the current file is left to the idle thread");
        store.remove_from_outbox(third).unwrap();
        retire(&store);
        assert!(!store.spool_dir.join(&next).exists());
    }

    #[test]
    fn a_letter_that_waits_takes_its_bytes_into_its_row() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("retry");
        let (_, id) = write(&store, b"later\r\n");
        let letter = store.claim_due(&claim("t"), 5, 0, 16, usize::MAX).unwrap().remove(0);
        let recipients = letter.recipients.clone();
        let retry =
            Retry { recipients: &recipients, message: &letter.message, account_id: None, error: "451", attempts: 1, next_try_at: 9 };
        store.retry_later(id, &retry, 6).unwrap();
        assert_eq!(stored_bytes(&store, id), (b"later\r\n".to_vec(), None, 7));
        tidy(&store, true);
        assert_eq!(file_len(&store), 0);
        let again = store.claim_due(&claim("t2"), 10, 0, 16, usize::MAX).unwrap();
        assert_eq!(again[0].message, b"later\r\n");
        store.remove_from_outbox(id).unwrap();
        assert!(store.scrub_due.get(), "its bytes were in its row, so in the WAL");
        retire(&store);
    }

    #[test]
    fn at_process_end_rows_take_their_bytes_back_and_the_file_goes() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("retire");
        let (_, id) = write(&store, b"left over\r\n");
        let name = current();
        retire(&store);
        assert_eq!(stored_bytes(&store, id), (b"left over\r\n".to_vec(), None, 11));
        assert!(!store.spool_dir.join(&name).exists());
        assert_eq!(store.claim_next(&claim("f"), 5, true, 0).unwrap().unwrap().message, b"left over\r\n");
    }

    #[test]
    fn a_dead_process_spool_is_adopted_and_a_live_one_left_alone() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("dead");
        let (_, ours) = write(&store, b"ours\r\n");
        // another process's file, its lock gone with it
        let dead = "4242-00ff.spool";
        std::fs::write(store.spool_dir.join(dead), b"xxdead letter\r\n").unwrap();
        let spooled = Spooled { file: dead.into(), at: 2, length: 13 };
        let entry = JournalEntry::default();
        let (_, theirs) = store
            .begin_letter(&NewLetter { entry: &entry, row: &row(), message: b"", spooled: Some(&spooled), claim: None, now: 1 })
            .unwrap();
        // and one a process died creating, a while ago
        let abandoned = store.spool_dir.join("4243-00aa.spool.new");
        std::fs::write(&abandoned, b"").unwrap();
        let long_ago = std::time::SystemTime::now() - CREATING_FOR_AT_MOST - Duration::from_secs(1);
        File::options().write(true).open(&abandoned).unwrap().set_modified(long_ago).unwrap();
        // and one another process is creating now (it locks and renames it in a moment)
        let being_made = store.spool_dir.join("4244-00bb.spool.new");
        std::fs::write(&being_made, b"").unwrap();
        collect_dead(&store);
        assert!(!abandoned.exists());
        assert!(being_made.exists(), "a file just created is not taken from the process creating it");
        assert_eq!(stored_bytes(&store, theirs), (b"dead letter\r\n".to_vec(), None, 13));
        assert!(!store.spool_dir.join(dead).exists());
        assert!(stored_bytes(&store, ours).1.is_some(), "this process's own spool is alive: left alone");
        retire(&store);
    }

    #[test]
    fn a_letter_whose_bytes_are_gone_is_failed_not_sent_empty() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("lost");
        let (journal_id, _) = write(&store, b"vanishes\r\n");
        let name = current();
        std::fs::OpenOptions::new().write(true).open(store.spool_dir.join(&name)).unwrap().set_len(3).unwrap();
        assert!(store.claim_due(&claim("t"), 5, 0, 16, usize::MAX).unwrap().is_empty());
        assert_eq!(store.outbox_size().unwrap(), 0);
        let (status, reply): (String, String) =
            store.conn.query_row("SELECT status, reply FROM journal WHERE id = ?1", [journal_id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(status, "failed");
        assert!(reply.contains("bytes were lost"), "{reply}");
        retire(&store);
    }

    #[test]
    fn a_spool_directory_others_may_write_to_is_refused_said_once_and_tried_again_later() {
        use std::os::unix::fs::PermissionsExt;
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let store = store("refused");
        std::fs::create_dir(&store.spool_dir).unwrap();
        std::fs::set_permissions(&store.spool_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = append(&store.spool_dir, b"first").err().expect("refused").expect("said why");
        assert!(why.contains("writable by other users") && why.contains("in the database meanwhile"), "{why}");
        assert_eq!(append(&store.spool_dir, b"second").err(), Some(None), "said once, not on every letter");
        std::fs::set_permissions(&store.spool_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(append(&store.spool_dir, b"third").err(), Some(None), "not tried again at once");
        std::thread::sleep(REFUSED_FOR);
        let (spooled, writing) = append(&store.spool_dir, b"fourth").expect("tried again, and usable now");
        assert_eq!((spooled.at, spooled.length), (0, 6));
        drop(writing);
        retire(&store);
    }

    #[test]
    fn a_row_never_names_a_file_outside_the_spool_directory() {
        for name in ["../smtp34.db", "/etc/passwd", "a/b.spool", ".spool", "12-ab.spool.new"] {
            assert!(!valid_name(name), "{name}");
        }
        assert!(valid_name("123-00ff.spool"));
        let dir = std::env::temp_dir();
        let e = Reader::new(&dir, &[]).read(&Spooled { file: "../x.spool".into(), at: 0, length: 1 }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
    }
}
