//! What a test needs from the machine, and what happens when it is not there.
//!
//! Some tests drive real system software: a private Postfix or Exim instance (root, the MTA,
//! `swaks`), a tmpfs mount and the immutable attribute (root, `mount`, `chattr`), the
//! `openssl` CLI for certificates. A contributor's plain `cargo test` on a laptop has none of
//! that, and a suite that panics there cannot be run at all. So such a test starts with
//!
//! ```ignore
//! if !needs(&[Need::Root, Need::Program("postfix")]) {
//!     return;
//! }
//! ```
//!
//! and, when something is missing, prints one line — `SKIPPED <crate>::<test>: <what is
//! missing and how to get it>` — and returns early: libtest has no "skipped" status, so the
//! test shows as passed and the line is what tells. The line goes straight to the process's
//! standard error, not through `eprintln!`, which libtest captures (and hides) for tests that
//! pass.
//!
//! `./scripts/test` (what CI runs) installs everything and sets `REPLYD_REQUIRE_ALL=1`: the
//! same check then fails the test with the same reason, so CI can never skip silently.
//!
//! Programs are looked up on `PATH`, as `Command::new` resolves them, and the helpers run the
//! path found here; a program that is installed in an `sbin` folder missing from `PATH` (a
//! non-root shell's usual `PATH`) is reported as such.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable that turns a missing prerequisite into a test failure.
pub const REQUIRE_ALL: &str = "REPLYD_REQUIRE_ALL";

/// One thing a test needs from the machine.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Running as root (effective uid 0): starting an MTA, `chown` to its users, `mount`,
    /// `chattr +i`.
    Root,
    /// A program on `PATH`, by name.
    Program(&'static str),
    /// An Exim binary (see [`super::mta::find_exim`]).
    Exim,
    /// A system user, by name.
    User(&'static str),
    /// A Python module `python3` can import, by name (e.g. `prometheus_client`).
    PythonModule(&'static str),
    /// Debian's PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`), for the
    /// tests' private cluster ([`super::postgres`]).
    Postgres,
}

/// Whether everything in `needs` is there. When something is not: prints the `SKIPPED` line
/// and returns false, or, with `REPLYD_REQUIRE_ALL` set (not empty, not `0`), fails the test.
pub fn needs(needs: &[Need]) -> bool {
    let missing = missing(needs);
    if missing.is_empty() {
        return true;
    }
    let line = skip_line(&test_name(), &missing, require_all());
    // Not `eprintln!`: libtest would capture the line and show it only if the test failed.
    let _ = writeln!(std::io::stderr(), "{line}");
    false
}

/// Whether `REPLYD_REQUIRE_ALL` is set to something other than empty or `0`.
pub fn require_all() -> bool {
    std::env::var(REQUIRE_ALL).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The reasons, one per missing item, that `needs` cannot be met here (empty if it can).
pub fn missing(needs: &[Need]) -> Vec<String> {
    needs.iter().filter_map(|n| why_missing(*n)).collect()
}

/// What to do about `missing` (not empty) for `test`: with `require_all`, fail with the
/// reasons; otherwise the `SKIPPED` line to print.
pub fn skip_line(test: &str, missing: &[String], require_all: bool) -> String {
    let reasons = missing.join("; ");
    if require_all {
        panic!(
            "{test} cannot run: {reasons} ({REQUIRE_ALL} is set, so a missing prerequisite \
             fails the test instead of skipping it; ./scripts/test sets it)"
        );
    }
    format!("SKIPPED {test}: {reasons}")
}

/// `crate::test` for the running test: libtest names each test's thread after the test.
fn test_name() -> String {
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("test");
    format!("{}::{test}", env!("CARGO_CRATE_NAME"))
}

fn why_missing(need: Need) -> Option<String> {
    match need {
        Need::Root => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            (uid != 0).then(|| format!("needs root, running as uid {uid}"))
        }
        Need::Program(name) => find_program(name).err(),
        Need::Exim => super::mta::find_exim().err(),
        Need::PythonModule(module) => python_module_missing(module),
        Need::Postgres => super::postgres::bin_dir().is_none().then(|| {
            "PostgreSQL's server is not installed (/usr/lib/postgresql/<version>/bin): \
             apt-get install postgresql (./scripts/test installs it)"
                .to_string()
        }),
        Need::User(name) => (!user_exists(name)).then(|| {
            format!(
                "user `{name}` does not exist: useradd --system --no-create-home \
                 --home-dir /nonexistent --shell /usr/sbin/nologin {name} \
                 (./scripts/test creates it)"
            )
        }),
    }
}

/// The path of `name` on `PATH`, or why it cannot be had (with how to install it).
pub fn find_program(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(found) = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
    {
        return Ok(found);
    }
    // Installed but not reachable: a non-root shell's PATH usually lacks the sbin folders.
    if let Some(dir) = ["/usr/local/sbin", "/usr/sbin", "/sbin"]
        .into_iter()
        .find(|dir| is_executable(&Path::new(dir).join(name)))
    {
        return Err(format!("`{name}` is in {dir}, which is not on PATH"));
    }
    Err(format!(
        "`{name}` is not installed: {} (./scripts/test installs it)",
        install_hint(name)
    ))
}

/// The path of `name` on `PATH`; panics with the reason when it is missing. For helpers that
/// run after their test's [`needs`] check.
pub fn program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|why| panic!("{why}"))
}

fn install_hint(program: &str) -> &'static str {
    match program {
        "postfix" | "postqueue" => {
            "DEBIAN_FRONTEND=noninteractive apt-get install postfix, with debconf \
             `postfix postfix/main_mailer_type select No configuration`"
        }
        "swaks" => "apt-get install swaks",
        "openssl" => "apt-get install openssl",
        "chattr" => "apt-get install e2fsprogs",
        "mount" | "umount" => "apt-get install mount",
        "python3" => "apt-get install python3",
        _ => "install it",
    }
}

/// Why `python3` cannot import `module`, with how to install it.
fn python_module_missing(module: &str) -> Option<String> {
    let python = match find_program("python3") {
        Ok(p) => p,
        Err(why) => return Some(why),
    };
    let imported = std::process::Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!imported).then(|| {
        let package = module.replace('_', "-");
        format!(
            "python3 cannot import `{module}`: pip install --break-system-packages {package} \
             (./scripts/test installs it)"
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn user_exists(name: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: `name` is a valid NUL-terminated string; the returned record is only tested
    // for null, never read, so its static storage being reused later does not matter.
    !unsafe { libc::getpwnam(name.as_ptr()) }.is_null()
}
