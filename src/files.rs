//! The files smtp34 keeps (database, key, logs) belong to the PHP user that
//! uses them and to nobody else. A directory is created 0700 when missing;
//! one that exists must be owned by this process's user and not writable by
//! others, and a key file must be owned by this user and readable by nobody
//! else. Anything else is refused with a message that says how to fix it:
//! silently "tightening" somebody else's file is not ours to do (and another
//! user may have planted it).

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// The effective user of this process (a php-fpm worker's, not its master's).
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn user_name(uid: u32) -> String {
    // /etc/passwd is enough here: the name only makes the message readable.
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut parts = line.split(':');
                let name = parts.next()?;
                let id = parts.nth(1)?.parse::<u32>().ok()?;
                (id == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| "?".into())
}

fn who(uid: u32) -> String {
    format!("{} (uid {uid})", user_name(uid))
}

/// Makes sure `dir` exists and is private to this user; `what` names it in messages.
pub fn private_dir(dir: &Path, what: &str) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(meta) => check_dir(dir, what, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
            format!(
                "cannot create the {what} {}: {e} (create it for the PHP user: mkdir -m 700 {0} && chown <php user> {0})",
                dir.display()
            )
        }),
        Err(e) => Err(format!("cannot use the {what} {}: {e}", dir.display())),
    }
}

fn check_dir(dir: &Path, what: &str, meta: &fs::Metadata) -> Result<(), String> {
    if !meta.is_dir() {
        return Err(format!("the {what} {} is not a directory", dir.display()));
    }
    check_owner_and_mode(dir, what, meta, 0o022, "is writable by other users", "700")
}

/// An existing file of ours must belong to this user; `private` files (the
/// key) must also be unreadable by others. A missing file is fine.
pub fn owned_file(path: &Path, what: &str, private: bool) -> Result<(), String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot use the {what} {}: {e}", path.display())),
    };
    if !meta.is_file() {
        return Err(format!("the {what} {} is not a regular file", path.display()));
    }
    let forbidden = if private { 0o077 } else { 0 };
    check_owner_and_mode(path, what, &meta, forbidden, "can be read or changed by other users", "600")
}

/// `path` must belong to this process's user and have none of the
/// `forbidden` mode bits; the message names the command that fixes it.
fn check_owner_and_mode(path: &Path, what: &str, meta: &fs::Metadata, forbidden: u32, open_to: &str, fix_mode: &str) -> Result<(), String> {
    let me = current_uid();
    if meta.uid() != me {
        let owner = meta.uid();
        // Root (an admin running `php --ri` or the CLI) is never the user to
        // hand the site's data to: it belongs to the PHP user that owns it.
        let advice = if me == 0 {
            format!("run this as its owner (sudo -u {} php ...)", user_name(owner))
        } else {
            format!("chown {} {} (or run this as its owner, {})", user_name(me), path.display(), user_name(owner))
        };
        return Err(format!(
            "the {what} {} belongs to {}, not to this PHP process's user {}: {advice}",
            path.display(),
            who(owner),
            who(me)
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & forbidden != 0 {
        return Err(format!("the {what} {} {open_to} (mode {mode:o}): chmod {fix_mode} {}", path.display(), path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("smtp34-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_missing_directories_private() {
        let dir = temp("create").join("a/b");
        private_dir(&dir, "data directory").unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        private_dir(&dir, "data directory").unwrap();
    }

    #[test]
    fn refuses_a_directory_others_may_write_and_leaves_it_alone() {
        let dir = temp("open");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let error = private_dir(&dir, "data directory").unwrap_err();
        assert!(error.contains("writable by other users (mode 777): chmod 700"), "{error}");
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o777, "not tightened");
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let dir = temp("key");
        fs::create_dir_all(&dir).unwrap();
        let key = dir.join("smtp34.key");
        fs::write(&key, "x").unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(owned_file(&key, "key file", true).unwrap_err().contains("chmod 600"));
        assert!(owned_file(&key, "database", false).is_ok());
        assert!(owned_file(&dir.join("missing"), "key file", true).is_ok());
    }

    #[test]
    fn names_the_owner_of_a_foreign_directory() {
        // as root (CI), a directory handed to nobody; as anyone else, "/" is root's
        let (dir, owner) = if current_uid() == 0 {
            let dir = temp("foreign");
            fs::create_dir_all(&dir).unwrap();
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
            (dir, "uid 65534")
        } else {
            (Path::new("/").to_path_buf(), "root (uid 0)")
        };
        let error = private_dir(&dir, "data directory").unwrap_err();
        assert!(error.contains(&"belongs to ".to_string()) && error.contains(owner), "{error}");
        assert!(error.contains("not to this PHP process's user"), "{error}");
        assert!(!error.contains("chown root"), "root is never the advice: {error}");
        if current_uid() == 0 {
            assert!(error.ends_with("run this as its owner (sudo -u nobody php ...)"), "{error}");
        }
    }
}
