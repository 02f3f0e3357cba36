//! Private by default: the database is its owner's alone.
//!
//! The database holds customers' mail. Left to the process umask (a shell's usual `022`),
//! SQLite would create it `0644` and `create_dir_all` its folder `0755`: every local user
//! could read every reply. So replyd creates the database file `0600` before SQLite first
//! opens it, the folders it creates for it `0700`, and a backup's file `0600` — exactly,
//! whatever the umask. SQLite's unix VFS creates a database's `-wal`, `-shm` and `-journal`
//! with the database file's own mode (it reads it back and `fchmod`s the new file to
//! match), and our WAL-writes VFS hands those opens to it unchanged, so they follow.
//!
//! Files and folders that exist already are left as they are (the operator may have chosen
//! their modes, e.g. a group for a helpdesk reader), but [`permission_warning`] names any
//! part of the database that group or others may read or write, for the commands to show
//! at start.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the files replyd creates: owner read/write.
const FILE_MODE: u32 = 0o600;
/// Mode of the folders replyd creates: owner only.
const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents `0700`. Folders that exist keep their mode.
pub(crate) fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut next = Some(dir);
    while let Some(d) = next {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d);
        next = d.parent();
    }
    for d in missing.into_iter().rev() {
        match DirBuilder::new().mode(DIR_MODE).create(d) {
            // The umask can only have removed bits: put the owner's back.
            Ok(()) => fs::set_permissions(d, Permissions::from_mode(DIR_MODE))?,
            // Another process made it meanwhile: theirs to have chosen.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates an empty file `0600`; `AlreadyExists` if there is one (never opened).
pub(crate) fn create_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// One line naming each part of the database at `db` — the file, its `-wal` and `-shm`,
/// its folder — that group or others may read or write, with its mode and the `chmod`
/// that fixes it; `None` when they are private (or do not exist).
pub fn permission_warning(db: &Path) -> Option<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        if let Some(mode) = loose_mode(&path) {
            found.push(format!("{} has mode {mode:04o}", path.display()));
            files.push(path);
        }
    }
    let folder = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder_mode = loose_mode(folder);
    if let Some(mode) = folder_mode {
        found.push(format!(
            "its folder {} has mode {mode:04o}",
            folder.display()
        ));
    }
    if found.is_empty() {
        return None;
    }
    let mut fixes = Vec::new();
    if !files.is_empty() {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        fixes.push(format!("chmod 600 {}", names.join(" ")));
    }
    match folder_mode {
        // A shared folder such as /tmp: chmod would break it for everyone else.
        Some(mode) if mode & 0o1000 != 0 => {
            fixes.push("move the database into a folder of its own with mode 700".into())
        }
        Some(_) => fixes.push(format!("chmod 700 {}", folder.display())),
        None => {}
    }
    Some(format!(
        "customer mail is readable or writable by group or others: {}; fix: {}",
        found.join(", "),
        fixes.join(" and ")
    ))
}

/// The mode of `path` if group or others have any access to it.
fn loose_mode(path: &Path) -> Option<u32> {
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_private_folders_and_files_and_names_loose_ones() {
        let base = std::env::temp_dir().join(format!("replyd-perm-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, Permissions::from_mode(0o755)).unwrap();

        let nested = base.join("a/b/c");
        create_private_dirs(&nested).unwrap();
        for d in [base.join("a"), base.join("a/b"), nested.clone()] {
            assert_eq!(mode(&d), 0o700, "{}", d.display());
        }
        // Existing folders keep their mode.
        assert_eq!(mode(&base), 0o755);
        create_private_dirs(&nested).unwrap();

        let db = nested.join("x.sqlite3");
        drop(create_private_file(&db).unwrap());
        assert_eq!(mode(&db), 0o600);
        let again = create_private_file(&db).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(permission_warning(&db), None);

        fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&nested, Permissions::from_mode(0o750)).unwrap();
        let w = permission_warning(&db).unwrap();
        assert!(!w.contains('\n'), "{w}");
        let file = db.display();
        let dir = nested.display();
        assert!(w.contains(&format!("{file} has mode 0644")), "{w}");
        assert!(
            w.contains(&format!("its folder {dir} has mode 0750")),
            "{w}"
        );
        assert!(
            w.ends_with(&format!("fix: chmod 600 {file} and chmod 700 {dir}")),
            "{w}"
        );

        // A sticky, shared folder is not to be chmodded.
        fs::set_permissions(&db, Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&nested, Permissions::from_mode(0o1777)).unwrap();
        let w = permission_warning(&db).unwrap();
        assert!(w.contains("mode 1777"), "{w}");
        assert!(w.contains("a folder of its own"), "{w}");
        assert!(!w.contains("chmod 600"), "{w}");

        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_backup_is_private_and_a_failed_one_leaves_no_file() {
        let base = std::env::temp_dir().join(format!("replyd-perm-backup-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let conn = super::super::open_connection(
            &base.join("db/x.sqlite3"),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(mode(&base.join("db")), 0o700);
        assert_eq!(mode(&base.join("db/x.sqlite3")), 0o600);
        let copy = base.join("copy.sqlite3");
        super::super::reads::backup(&conn, &copy).unwrap();
        assert_eq!(mode(&copy), 0o600);
        // VACUUM INTO fails inside a transaction: the file made for it goes again.
        let failed = base.join("failed.sqlite3");
        conn.execute_batch("BEGIN").unwrap();
        assert!(super::super::reads::backup(&conn, &failed).is_err());
        conn.execute_batch("ROLLBACK").unwrap();
        assert!(!failed.exists());
        drop(conn);
        fs::remove_dir_all(&base).unwrap();
    }
}
