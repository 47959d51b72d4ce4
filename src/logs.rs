//! Transcript logs (SPEC §5 "Logs"): one file per account and kind in
//! `smtp34.log_dir`, `send_<id>.log` and `check_<id>.log` (`check_0.log` for
//! an account not saved yet). Each log starts with a header line naming the
//! account revision it belongs to and when it was started; it is started
//! afresh when the account changes, when `log_period` has passed, or when it
//! would grow past `log_max_mb`. Writers in several PHP processes take an
//! exclusive lock on the file, so entries never interleave.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::fields::FieldError;
use crate::config::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Send,
    Check,
    /// `alerts_0.log`: every alert raised (SPEC §10) and where it went, one
    /// line each, for the dashboard's journal of alerts.
    Alerts,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Send => "send",
            Kind::Check => "check",
            Kind::Alerts => "alerts",
        }
    }
}

/// Which log an entry goes to, and the account revision it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub account_id: i64,
    pub revision: i64,
}

impl Target {
    pub fn file_name(&self) -> String {
        format!("{}_{}.log", self.kind.as_str(), self.account_id)
    }
}

/// When a log is started afresh, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub period_seconds: i64,
    /// 0: no limit.
    pub max_bytes: u64,
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Policy {
        const DAY: i64 = 86_400;
        let period_seconds = match settings.log_period {
            "week" => 7 * DAY,
            "month" => 30 * DAY,
            "year" => 365 * DAY,
            _ => DAY,
        };
        Policy { period_seconds, max_bytes: settings.log_max_mb as u64 * 1024 * 1024 }
    }
}

const HEADER_PREFIX: &str = "# smtp34 transcript log; account revision ";

fn header(revision: i64, started: i64) -> String {
    format!("{HEADER_PREFIX}{revision}; started {started} ({} UTC)\n", crate::clock::iso(started))
}

/// `(revision, started)` from a header line.
fn parse_header(line: &str) -> Option<(i64, i64)> {
    let rest = line.strip_prefix(HEADER_PREFIX)?;
    let (revision, rest) = rest.split_once("; started ")?;
    let started = rest.split_whitespace().next()?;
    Some((revision.parse().ok()?, started.parse().ok()?))
}

/// The logs this process has open, so a letter costs a lock, a stat, a
/// read of the header and one write instead of opening the file each time.
/// The mutex also keeps this process's threads apart: `flock` does not, as
/// they share the open file.
struct OpenLogs {
    pid: u32,
    files: HashMap<PathBuf, File>,
}

static OPEN_LOGS: Mutex<Option<OpenLogs>> = Mutex::new(None);

/// At most this many logs stay open (two per account in use).
const MAX_OPEN_LOGS: usize = 64;

/// Appends one entry, starting the log afresh first when the policy says so.
pub fn append(dir: &Path, target: Target, policy: Policy, entry: &[u8], now: i64) -> Result<(), String> {
    let path = dir.join(target.file_name());
    let failed = |e: std::io::Error| format!("cannot write transcript log {}: {e}", path.display());
    let mut open = OPEN_LOGS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = crate::process::id();
    if open.as_ref().is_none_or(|logs| logs.pid != pid) {
        // a parent's files share its locks: the child opens its own
        *open = Some(OpenLogs { pid, files: HashMap::new() });
    }
    let files = &mut open.as_mut().expect("set just above").files;
    let mut file = match files.remove(&path) {
        Some(file) => file,
        None => open_log(dir, &path).map_err(failed)?,
    };
    file.lock().map_err(failed)?;
    let mut meta = file.metadata().map_err(failed)?;
    if meta.nlink() == 0 {
        // deleted since we opened it (smtp34_log_delete, an admin): write to the file that has the name
        drop(file);
        file = open_log(dir, &path).map_err(failed)?;
        file.lock().map_err(failed)?;
        meta = file.metadata().map_err(failed)?;
    }
    let written = write_entry(&file, target, policy, entry, now, meta.len()).map_err(failed);
    let _ = file.unlock();
    if files.len() >= MAX_OPEN_LOGS {
        files.clear();
    }
    files.insert(path.clone(), file);
    written
}

fn open_log(dir: &Path, path: &Path) -> std::io::Result<File> {
    crate::files::private_dir(dir, "log directory").map_err(std::io::Error::other)?;
    open_regular(OpenOptions::new().read(true).append(true).create(true).mode(0o600), path)
}

fn write_entry(mut file: &File, target: Target, policy: Policy, entry: &[u8], now: i64, size: u64) -> std::io::Result<()> {
    let current = first_line(file).and_then(|line| parse_header(&line));
    let restart = match current {
        None => true,
        Some((revision, started)) => {
            revision != target.revision
                || now - started >= policy.period_seconds
                || (policy.max_bytes > 0 && size + entry.len() as u64 > policy.max_bytes)
        }
    };
    let mut out = Vec::with_capacity(entry.len() + 128);
    if restart {
        file.set_len(0)?;
        out.extend_from_slice(header(target.revision, now).as_bytes());
    }
    out.extend_from_slice(entry);
    // One write under the lock: a reader never sees half an entry from another writer.
    file.write_all(&out)
}

fn first_line(file: &File) -> Option<String> {
    let mut head = [0u8; 256];
    let read = file.read_at(&mut head, 0).ok()?;
    let line = head[..read].split(|b| *b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).into_owned())
}

/// A log as `smtp34_log_list()` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    pub name: String,
    pub kind: Kind,
    pub account_id: i64,
    pub size: u64,
    pub modified: i64,
}

/// The log a name stands for; only names this extension writes are accepted,
/// so no path, `..` or other file can be reached.
pub fn parse_name(name: &str) -> Result<(Kind, i64), FieldError> {
    let bad = || {
        FieldError::new(
            "name",
            format!("'{}' is not a smtp34 log name (send_<id>.log, check_<id>.log or alerts_0.log)", name.escape_default()),
        )
    };
    let stem = name.strip_suffix(".log").ok_or_else(bad)?;
    let (kind, id) = stem.split_once('_').ok_or_else(bad)?;
    let kind = match kind {
        "send" => Kind::Send,
        "check" => Kind::Check,
        "alerts" => Kind::Alerts,
        _ => return Err(bad()),
    };
    if id.is_empty() || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) || (id.len() > 1 && id.starts_with('0')) {
        return Err(bad());
    }
    if kind == Kind::Alerts && id != "0" {
        return Err(bad());
    }
    Ok((kind, id.parse().map_err(|_| bad())?))
}

fn path_of(dir: &Path, name: &str) -> Result<PathBuf, FieldError> {
    parse_name(name).map(|_| dir.join(name))
}

/// The logs in `dir`, by account then kind.
pub fn list(dir: &Path) -> Vec<LogInfo> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut logs: Vec<LogInfo> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let (kind, account_id) = parse_name(&name).ok()?;
            // DirEntry::metadata does not follow links: a planted link is not listed
            let meta = entry.metadata().ok().filter(|m| m.is_file())?;
            let modified =
                meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs() as i64);
            Some(LogInfo { name, kind, account_id, size: meta.len(), modified })
        })
        .collect();
    logs.sort_by(|a, b| (a.account_id, a.kind.as_str()).cmp(&(b.account_id, b.kind.as_str())));
    logs
}

#[derive(Debug)]
pub enum ReadError {
    BadName(FieldError),
    Missing(String),
}

/// A log's bytes, or, when it is longer than `max`, a line saying so and
/// the last `max` bytes of it from a line's start: what the caller can
/// hold (a page, PHP under its `memory_limit`) bounds what is read.
pub fn read(dir: &Path, name: &str, max: u64) -> Result<Vec<u8>, ReadError> {
    let path = path_of(dir, name).map_err(ReadError::BadName)?;
    let missing = |e: std::io::Error| ReadError::Missing(format!("cannot read log {name}: {e}"));
    let mut file = open_regular(OpenOptions::new().read(true), &path).map_err(missing)?;
    let size = file.metadata().map_err(missing)?.len();
    if size <= max {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).map_err(missing)?;
        return Ok(bytes);
    }
    file.seek(SeekFrom::Start(size - max)).map_err(missing)?;
    let mut tail = Vec::with_capacity(max as usize);
    file.take(max).read_to_end(&mut tail).map_err(missing)?;
    let from = tail.iter().position(|b| *b == b'\n').map_or(0, |at| at + 1);
    let mut bytes = format!("# smtp34: this log is {size} bytes; only its last {} are shown here\n", tail.len() - from).into_bytes();
    bytes.extend_from_slice(&tail[from..]);
    Ok(bytes)
}

/// Opens a log without following a symbolic link and only if it is a
/// regular file: a link planted in the log directory (`send_7.log ->
/// /etc/passwd`) is neither read, written nor truncated through.
fn open_regular(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    let file = options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(file)
}

/// Deletes a log; false when there was none.
pub fn delete(dir: &Path, name: &str) -> Result<bool, FieldError> {
    let path = path_of(dir, name)?;
    Ok(fs::remove_file(path).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fork must not happen while another test holds the open logs' mutex.
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: Mutex<()> = Mutex::new(());
        SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smtp34-logs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    const DAY: Policy = Policy { period_seconds: 86_400, max_bytes: 0 };

    #[test]
    fn links_are_never_followed() {
        let _serial = serial();
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("links");
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.with_extension("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("send_7.log")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("check_0.log")).unwrap();

        assert!(matches!(read(&dir, "send_7.log", u64::MAX), Err(ReadError::Missing(_))));
        let target = Target { kind: Kind::Check, account_id: 0, revision: 0 };
        assert!(append(&dir, target, DAY, b"entry\n", 1).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious", "not truncated through the link");
        assert!(list(&dir).is_empty());

        append(&dir, SEND_1, DAY, b"entry\n", 1).unwrap();
        assert_eq!(fs::metadata(dir.join("send_1.log")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    const SEND_1: Target = Target { kind: Kind::Send, account_id: 1, revision: 1 };

    fn text(dir: &Path, name: &str) -> String {
        String::from_utf8(fs::read(dir.join(name)).unwrap()).unwrap()
    }

    #[test]
    fn reads_only_the_tail_of_a_log_longer_than_asked() {
        let _serial = serial();
        let dir = temp_dir("tail");
        fs::create_dir_all(&dir).unwrap();
        let lines: String = (0..1000).map(|i| format!("line {i:04}\n")).collect();
        fs::write(dir.join("send_1.log"), &lines).unwrap();
        assert_eq!(read(&dir, "send_1.log", lines.len() as u64).unwrap(), lines.as_bytes());
        let tail = String::from_utf8(read(&dir, "send_1.log", 105).unwrap()).unwrap();
        assert_eq!(tail, "# smtp34: this log is 10000 bytes; only its last 100 are shown here\nline 0990\nline 0991\nline 0992\nline 0993\nline 0994\nline 0995\nline 0996\nline 0997\nline 0998\nline 0999\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn appends_under_one_header() {
        let _serial = serial();
        let dir = temp_dir("append");
        append(&dir, SEND_1, DAY, b"one\n", 1000).unwrap();
        append(&dir, SEND_1, DAY, b"two\n", 1001).unwrap();
        let log = text(&dir, "send_1.log");
        assert!(log.starts_with("# smtp34 transcript log; account revision 1; started 1000 "));
        assert!(log.ends_with("\none\ntwo\n"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn restarts_on_account_change_period_and_size() {
        let _serial = serial();
        let dir = temp_dir("restart");
        append(&dir, SEND_1, DAY, b"old\n", 1000).unwrap();
        append(&dir, Target { revision: 2, ..SEND_1 }, DAY, b"new revision\n", 1001).unwrap();
        assert!(!text(&dir, "send_1.log").contains("old"));

        append(&dir, Target { revision: 2, ..SEND_1 }, DAY, b"same day\n", 1001 + 86_399).unwrap();
        assert!(text(&dir, "send_1.log").contains("new revision"));
        append(&dir, Target { revision: 2, ..SEND_1 }, DAY, b"next day\n", 1001 + 86_400).unwrap();
        let log = text(&dir, "send_1.log");
        assert!(!log.contains("same day") && log.contains("next day"));

        let small = Policy { period_seconds: 86_400, max_bytes: 300 }; // header ~75 + 100 + 50 fits, + 100 more does not
        append(&dir, SEND_1, small, &[b'a'; 100], 5000).unwrap();
        append(&dir, SEND_1, small, &[b'b'; 50], 5000).unwrap();
        assert!(text(&dir, "send_1.log").contains(&"a".repeat(100)));
        append(&dir, SEND_1, small, &[b'c'; 100], 5000).unwrap();
        let log = text(&dir, "send_1.log");
        assert!(!log.contains(&"a".repeat(100)) && log.contains(&"c".repeat(100)));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn names_are_validated() {
        let _serial = serial();
        assert_eq!(parse_name("send_12.log"), Ok((Kind::Send, 12)));
        assert_eq!(parse_name("check_0.log"), Ok((Kind::Check, 0)));
        assert_eq!(parse_name("alerts_0.log"), Ok((Kind::Alerts, 0)));
        for bad in [
            "alerts_1.log",
            "../send_1.log",
            "send_1.log/..",
            "/etc/passwd",
            "send_-1.log",
            "send_01.log",
            "send_1.txt",
            "mail_1.log",
            "send_.log",
            "send_1.log\0",
            "send_1",
            "check_99999999999999999999.log",
        ] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_only_our_logs() {
        let _serial = serial();
        let dir = temp_dir("list");
        append(&dir, SEND_1, DAY, b"x\n", 1).unwrap();
        append(&dir, Target { kind: Kind::Check, account_id: 0, revision: 0 }, DAY, b"x\n", 1).unwrap();
        fs::write(dir.join("other.txt"), b"not ours").unwrap();
        let names: Vec<String> = list(&dir).into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["check_0.log", "send_1.log"]);
        assert!(matches!(read(&dir, "../other.txt", u64::MAX), Err(ReadError::BadName(_))));
        assert!(delete(&dir, "send_1.log").unwrap());
        assert!(!delete(&dir, "send_1.log").unwrap());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let _serial = serial();
        let dir = temp_dir("concurrent");
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let mut entry = vec![b'0' + t; 5000];
                        entry.push(b'\n');
                        append(&dir, SEND_1, DAY, &entry, 1).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let log = text(&dir, "send_1.log");
        let lines: Vec<&str> = log.lines().skip(1).collect();
        assert_eq!(lines.len(), 200);
        for line in lines {
            assert_eq!(line.len(), 5000);
            assert!(line.bytes().all(|b| b == line.as_bytes()[0]));
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_log_deleted_while_open_is_written_again_under_its_name() {
        let _serial = serial();
        let dir = temp_dir("deleted");
        append(&dir, SEND_1, DAY, b"one\n", 1).unwrap();
        assert!(delete(&dir, "send_1.log").unwrap());
        append(&dir, SEND_1, DAY, b"two\n", 2).unwrap();
        let log = text(&dir, "send_1.log");
        assert!(log.starts_with(HEADER_PREFIX) && log.ends_with("\ntwo\n") && !log.contains("one"), "{log}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_forked_child_takes_the_lock_apart_from_its_parent() {
        let _serial = serial();
        let dir = temp_dir("forked");
        append(&dir, SEND_1, DAY, b"parent opened it\n", 1).unwrap();
        // the parent holds the lock through the file it keeps open; had the child
        // inherited that file (one open file, one lock), flock would not stop it
        let path = dir.join("send_1.log");
        let holder = OPEN_LOGS.lock().unwrap().as_ref().unwrap().files[&path].try_clone().unwrap();
        holder.lock().unwrap();
        // SAFETY: the child appends, then leaves with _exit; nothing else runs in it
        let child = unsafe { libc::fork() };
        if child == 0 {
            let _ = append(&dir, SEND_1, DAY, b"child\n", 1);
            unsafe { libc::_exit(0) };
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!text(&dir, "send_1.log").contains("child"), "the child wrote past the lock");
        holder.unlock().unwrap();
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
        assert!(text(&dir, "send_1.log").ends_with("parent opened it\nchild\n"));
        fs::remove_dir_all(dir).unwrap();
    }
}
