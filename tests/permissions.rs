//! Customer mail is private: the real `replyd` binary, run under the usual umask 022 (which
//! would make new files 0644 and folders 0755), creates its database, the database's WAL
//! and shared-memory files, the folders it makes and its backups for their owner only; and
//! it warns about an existing database that others can read.

mod common;

use common::*;
use std::path::Path;

/// `conversation create` under umask 022: the UUID line, asserted to have succeeded.
fn create_conversation(config: &Path) -> String {
    let args = ["conversation", "create", "--contact", "bob@example.org"];
    let out = replyd_under_umask("022", config, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_umask_022_premise_holds() {
    // Without replyd's own modes, a file made under this umask would be readable by all.
    let dir = TempDir::new("perm-premise");
    let file = dir.path().join("plain");
    let out = under_umask("022", "touch").arg(&file).output().unwrap();
    assert!(out.status.success());
    assert_mode(&file, 0o644);
}

#[test]
fn conversation_create_makes_a_private_database_in_new_folders() {
    let dir = TempDir::new("perm-create");
    let config = write_config(dir.path(), 0, "");
    let db = dir.path().join("var/lib/replyd/replyd.sqlite3");
    let existing = mode_of(dir.path());
    let out = replyd_under_umask(
        "022",
        &config,
        &[
            "--database",
            db.to_str().unwrap(),
            "conversation",
            "create",
            "--contact",
            "bob@example.org",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("customer mail"), "{stderr}");
    assert_mode(&db, 0o600);
    for folder in ["var", "var/lib", "var/lib/replyd"] {
        assert_mode(&dir.path().join(folder), 0o700);
    }
    // The folder that existed keeps its mode.
    assert_mode(dir.path(), existing);
    let store = open_store(&db);
    assert_eq!(block_on(store.conversations()).unwrap().len(), 1);
}

#[test]
fn serve_keeps_the_database_its_wal_and_shm_private_while_it_runs() {
    let dir = TempDir::new("perm-serve");
    // The folder is the operator's: private here, so the only question is the files.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let config = write_config(dir.path(), 0, "");
    let db = dir.path().join("replyd.sqlite3");
    let srv = ServeProcess::spawn(under_umask("022", replyd_bin()), &config);
    let line = create_conversation(&config);
    let address = line.split_whitespace().nth(1).unwrap().to_string();
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail(
        "bob@example.org",
        &[&address],
        &reply_message(&address, "private@example.org", "For your eyes only"),
    );
    assert_eq!(code, 250, "{text}");
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("replyd.sqlite3{suffix}"));
        assert_mode(&file, 0o600);
    }
    assert!(!srv.log().contains("customer mail"), "{}", srv.log());
    let n = block_on(open_store(&db).stats()).unwrap().incoming_messages;
    assert_eq!(n, 1);
}

#[test]
fn backup_is_private_and_never_overwrites() {
    let dir = TempDir::new("perm-backup");
    let config = write_config(dir.path(), 0, "");
    create_conversation(&config);
    let copy = dir.path().join("copy.sqlite3");
    let copy_arg = copy.to_str().unwrap();
    let out = replyd_under_umask("022", &config, &["backup", copy_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_mode(&copy, 0o600);
    let store = open_store(&copy);
    assert_eq!(block_on(store.conversations()).unwrap().len(), 1);
    drop(store);

    // An existing file is left alone, whatever it holds.
    let taken = dir.path().join("taken");
    std::fs::write(&taken, "mine").unwrap();
    let out = replyd_under_umask("022", &config, &["backup", taken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists already"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "mine");

    // A copy that cannot be written leaves no file behind.
    let nowhere = dir.path().join("missing-folder/copy.sqlite3");
    let out = replyd_under_umask("022", &config, &["backup", nowhere.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(!nowhere.exists());
}

#[test]
fn an_existing_database_open_to_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perm-warn");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = write_config(dir.path(), 0, "");
    create_conversation(&config);
    let db = dir.path().join("replyd.sqlite3");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The CLI commands: one line on stderr naming the file, its mode and the fix.
    let out = replyd_under_umask("022", &config, &["conversation", "list"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("customer mail"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].starts_with("replyd: warning: "), "{stderr}");
    let db_name = db.display().to_string();
    assert!(
        warnings[0].contains(&format!("{db_name} has mode 0644")),
        "{stderr}"
    );
    assert!(
        warnings[0].contains(&format!("chmod 600 {db_name}")),
        "{stderr}"
    );
    // replyd does not change an existing file's mode: that is the operator's call.
    assert_mode(&db, 0o644);

    // `serve`: the same line in its log.
    let srv = ServeProcess::spawn(under_umask("022", replyd_bin()), &config);
    let log = srv.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains(&format!("chmod 600 {db_name}"))),
        "{log}"
    );

    // Fixed: no warning.
    drop(srv);
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("replyd.sqlite3{suffix}"));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let out = replyd_under_umask("022", &config, &["conversation", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("customer mail"), "{stderr}");
}
