//! Where a site's mail would silently bypass smtp34, for `php --ri smtp34`:
//! php-fpm not loading the extension although this PHP does, Bitrix's own
//! SMTP switched on in `/bitrix/.settings.php` (Bitrix then never calls
//! `custom_mail()`), and another `custom_mail()` in the site's PHP files.
//! These read configuration files as text; they never run them.

use std::fs;
use std::path::{Path, PathBuf};

/// The php-fpm of the PHP this extension is built for.
pub const FPM_DIR: &str = "/etc/php/8.2/fpm";

/// Whether php-fpm's configuration loads smtp34: `Some(file)` naming the
/// file that does, `None` when none does. Only `*.ini` files count, as PHP reads them.
pub fn fpm_loading_file(fpm_dir: &Path) -> Option<PathBuf> {
    let mut files = vec![fpm_dir.join("php.ini")];
    if let Ok(entries) = fs::read_dir(fpm_dir.join("conf.d")) {
        let mut scanned: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "ini")).collect();
        scanned.sort();
        files.extend(scanned);
    }
    files.into_iter().find(|file| fs::read(file).is_ok_and(|text| ini_loads_smtp34(&text)))
}

/// An `extension=` line naming smtp34 (`smtp34`, `smtp34.so`, `/path/libsmtp34.so`).
pub fn ini_loads_smtp34(text: &[u8]) -> bool {
    String::from_utf8_lossy(text).lines().any(|line| {
        let Some((key, value)) = line.trim().split_once('=') else { return false };
        if key.trim() != "extension" {
            return false;
        }
        let value = value.split(';').next().unwrap_or("").trim().trim_matches(|c| c == '"' || c == '\'');
        let file = value.rsplit('/').next().unwrap_or(value);
        let stem = file.strip_suffix(".so").unwrap_or(file);
        stem == "smtp34" || stem == "libsmtp34"
    })
}

/// The Bitrix site this directory belongs to: the nearest ancestor with `bitrix/.settings.php`.
pub fn bitrix_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|dir| dir.join("bitrix/.settings.php").is_file()).map(Path::to_path_buf)
}

/// Whether `.settings.php` switches Bitrix's own SMTP on: its `smtp`
/// entry's value holds `'enabled' => true` (or 1, 'Y').
pub fn bitrix_smtp_enabled(settings: &str) -> bool {
    let Some(block) = entry_block(settings, "smtp") else { return false };
    let mut rest = block;
    while let Some(at) = find_key(rest, "enabled") {
        let after = rest[at..].trim_start();
        if let Some(value) = after.strip_prefix("=>") {
            let value = value.trim_start().to_ascii_lowercase();
            return value.starts_with("true") || value.starts_with('1') || value.starts_with("'y'") || value.starts_with("\"y\"");
        }
        rest = &rest[at..];
    }
    false
}

/// Where `key` ends as a quoted array key (`'key'` or `"key"`) in `text`.
fn find_key(text: &str, key: &str) -> Option<usize> {
    ["'", "\""].iter().filter_map(|q| text.find(&format!("{q}{key}{q}")).map(|at| at + key.len() + 2)).min()
}

/// The bracketed value of a top-level-looking `'key' => array(...)` or `[...]` entry.
fn entry_block<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = text;
    loop {
        let at = find_key(rest, key)?;
        let after = rest[at..].trim_start();
        if let Some(value) = after.strip_prefix("=>") {
            let value = value.trim_start();
            let value = value.strip_prefix("array").map(str::trim_start).unwrap_or(value);
            return balanced(value);
        }
        rest = &rest[at..];
    }
}

/// The text of the bracket group `text` starts with, quotes respected.
fn balanced(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[..=i]);
                }
            }
            _ if depth == 0 && !c.is_whitespace() => return None,
            _ => {}
        }
    }
    None
}

/// Whether PHP code declares a function `custom_mail` (outside line comments).
pub fn defines_custom_mail(php: &[u8]) -> bool {
    let text = String::from_utf8_lossy(php).to_ascii_lowercase();
    text.lines().any(|line| {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with('#') || code.starts_with('*') {
            return false;
        }
        code.split("function").skip(1).any(|after| {
            let name = after.trim_start();
            after.starts_with(|c: char| c.is_whitespace())
                && name.starts_with("custom_mail")
                && name["custom_mail".len()..].trim_start().starts_with('(')
        })
    })
}

/// The site files where Bitrix sites define `custom_mail()`.
pub const CUSTOM_MAIL_FILES: [&str; 3] =
    ["local/php_interface/init.php", "bitrix/php_interface/init.php", "bitrix/php_interface/dbconn.php"];

/// The rows `php --ri smtp34` adds: (what, finding).
pub fn findings(cwd: &Path, fpm_dir: &Path) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if fpm_dir.is_dir() {
        let state = match fpm_loading_file(fpm_dir) {
            Some(file) => format!("loads smtp34 ({})", file.display()),
            None => format!(
                "does NOT load smtp34: its letters bypass it (phpenmod -s fpm smtp34, then reload php-fpm; config in {})",
                fpm_dir.display()
            ),
        };
        rows.push(("php-fpm".to_owned(), state));
    }
    if let Some(root) = bitrix_root(cwd) {
        let settings = root.join("bitrix/.settings.php");
        let text = fs::read(&settings).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let state = if bitrix_smtp_enabled(&text) {
            format!("ON in {}: Bitrix then never calls custom_mail(); set 'smtp' => ['enabled' => false]", settings.display())
        } else {
            format!("off ({})", settings.display())
        };
        rows.push(("Bitrix own SMTP".to_owned(), state));
        let others: Vec<String> = CUSTOM_MAIL_FILES
            .iter()
            .map(|file| root.join(file))
            .filter(|file| fs::read(file).is_ok_and(|text| defines_custom_mail(&text)))
            .map(|file| file.display().to_string())
            .collect();
        let state = if others.is_empty() {
            "none in php_interface".to_owned()
        } else {
            format!(
                "ALSO DEFINED in {}: PHP without smtp34 sends through it, and with smtp34 loaded an unguarded one is a fatal error",
                others.join(", ")
            )
        };
        rows.push(("Other custom_mail()".to_owned(), state));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smtp34-site-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn extension_lines_naming_smtp34() {
        for line in
            ["extension=smtp34.so", "extension = smtp34", "extension=\"/opt/smtp34/libsmtp34.so\" ; built here", " extension=libsmtp34.so"]
        {
            assert!(ini_loads_smtp34(line.as_bytes()), "{line}");
        }
        for line in [
            ";extension=smtp34.so",
            "extension=smtp345.so",
            "zend_extension=smtp34.so",
            "smtp34.db=/var/lib/smtp34/smtp34.db",
            "extension=mbstring",
        ] {
            assert!(!ini_loads_smtp34(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn fpm_configuration_is_read_like_php_reads_it() {
        let dir = temp_dir("fpm");
        fs::create_dir_all(dir.join("conf.d")).unwrap();
        fs::write(dir.join("php.ini"), "memory_limit=128M\n").unwrap();
        fs::write(dir.join("conf.d/20-smtp34.ini.disabled"), "extension=smtp34.so\n").unwrap();
        assert_eq!(fpm_loading_file(&dir), None);
        fs::write(dir.join("conf.d/20-smtp34.ini"), "; priority=20\nextension=smtp34.so\n").unwrap();
        assert_eq!(fpm_loading_file(&dir), Some(dir.join("conf.d/20-smtp34.ini")));
        assert!(findings(&dir, &dir)[0].1.starts_with("loads smtp34"));
        fs::remove_file(dir.join("conf.d/20-smtp34.ini")).unwrap();
        assert!(findings(&dir, &dir)[0].1.starts_with("does NOT load smtp34"));
        assert!(findings(&dir, &dir.join("absent")).is_empty(), "no php-fpm here: nothing to say");
    }

    const BITRIX_SETTINGS: &str = r#"<?php
return array (
  'utf_mode' => array ('value' => true, 'readonly' => true),
  'smtp' =>
  array (
    'value' =>
    array (
      'enabled' => ENABLED,
      'debug' => true,
      'log_file' => '/var/log/smtp(enabled).log',
    ),
    'readonly' => false,
  ),
  'cache_flags' => array ('value' => array ('enabled' => true)),
);"#;

    #[test]
    fn bitrix_smtp_switch_is_read_from_its_own_entry() {
        assert!(bitrix_smtp_enabled(&BITRIX_SETTINGS.replace("ENABLED", "true")));
        assert!(bitrix_smtp_enabled(&BITRIX_SETTINGS.replace("ENABLED", "TRUE")));
        assert!(!bitrix_smtp_enabled(&BITRIX_SETTINGS.replace("ENABLED", "false")));
        assert!(!bitrix_smtp_enabled(&BITRIX_SETTINGS.replace("'enabled' => ENABLED,", "")), "another entry's 'enabled' does not count");
        assert!(bitrix_smtp_enabled("<?php return ['smtp' => ['value' => ['enabled' => true]]];"));
        assert!(!bitrix_smtp_enabled("<?php return ['exception_handling' => ['value' => ['debug' => true]]];"));
        assert!(!bitrix_smtp_enabled("<?php return ['smtp' => "), "broken text: nothing claimed");
    }

    #[test]
    fn custom_mail_definitions_are_found_outside_comments() {
        assert!(defines_custom_mail(b"<?php\nfunction custom_mail($to, $subject, $message) { return true; }"));
        assert!(defines_custom_mail(b"<?php if (!function_exists('custom_mail')) { function Custom_Mail ($to) {} }"));
        assert!(!defines_custom_mail(b"<?php\n// function custom_mail($to) {}\n"));
        assert!(!defines_custom_mail(b"<?php\nfunction custom_mailer($to) {}\n$x = custom_mail('a', 'b', 'c');"));
    }

    #[test]
    fn a_site_is_found_from_any_of_its_directories() {
        let root = temp_dir("bitrix");
        fs::create_dir_all(root.join("bitrix/php_interface")).unwrap();
        fs::create_dir_all(root.join("local/php_interface")).unwrap();
        fs::create_dir_all(root.join("catalog/item")).unwrap();
        fs::write(root.join("bitrix/.settings.php"), BITRIX_SETTINGS.replace("ENABLED", "true")).unwrap();
        fs::write(root.join("local/php_interface/init.php"), "<?php\nfunction custom_mail($to, $s, $m) { return mail($to, $s, $m); }\n")
            .unwrap();
        let rows = findings(&root.join("catalog/item"), &root.join("no-fpm"));
        assert_eq!(rows.len(), 2);
        assert!(rows[0].1.starts_with("ON in"), "{}", rows[0].1);
        assert!(rows[1].1.contains("local/php_interface/init.php"), "{}", rows[1].1);
        let elsewhere = temp_dir("not-bitrix");
        assert!(findings(&elsewhere, &root.join("no-fpm")).is_empty(), "not a Bitrix site: nothing to say");
    }
}
