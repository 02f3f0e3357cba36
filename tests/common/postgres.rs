//! A private PostgreSQL cluster for the tests: `initdb` into `target/pg-test/<pid>`, a
//! server on a free loopback port, a fresh database per test, and the cluster stopped and
//! removed when the test binary ends (by a watcher process, so a panicking or aborted test
//! binary leaves no server behind). Nothing relies on a server being there already.
//!
//! PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user
//! Debian's package creates, and its commands run through `runuser`.
//!
//! A test about PostgreSQL itself starts from [`fresh`]: a database of its own, and the nodes
//! on it ([`Database::node`]).
//!
//! `REPLYD_TEST_STORE=postgres` makes [`super::test_config`] (so every [`super::TestServer`])
//! use a fresh database of this cluster instead of a SQLite file.

use super::free_port;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Whether the tests run on PostgreSQL (`REPLYD_TEST_STORE=postgres`).
pub fn enabled() -> bool {
    std::env::var("REPLYD_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The running cluster of this test binary.
pub struct Cluster {
    pub port: u16,
    pub data: PathBuf,
    pub bin: PathBuf,
    /// Runs PostgreSQL's programs as this user (`postgres` when we are root).
    user: Option<&'static str>,
    /// The process that stops the cluster once this test binary has exited: it outlives
    /// us by design, so it is never waited for.
    watcher: Option<std::process::Child>,
}

/// Debian's PostgreSQL binaries: `/usr/lib/postgresql/<newest version>/bin`.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Cluster {
    /// The cluster, started at the first call.
    pub fn get() -> &'static Cluster {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(Cluster::start)
    }

    fn start() -> Cluster {
        let bin = bin_dir().expect(
            "PostgreSQL is not installed (/usr/lib/postgresql/<version>/bin): scripts/test installs it",
        );
        let user = is_root().then_some("postgres");
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("pg-test");
        std::fs::create_dir_all(&target).unwrap();
        let data = target.join(format!("{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        let mut cluster = Cluster {
            port: free_port(),
            data,
            bin,
            user,
            watcher: None,
        };
        if let Some(user) = user {
            assert!(Command::new("chown")
                .args([&format!("{user}:"), cluster.data.to_str().unwrap()])
                .status()
                .unwrap()
                .success());
            // The user must reach the folder through target/ (root's, but traversable).
        }
        let out = cluster
            .command("initdb")
            .args(["-D", cluster.data.to_str().unwrap()])
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.watcher = Some(cluster.watch_this_process());
        cluster.start_server();
        cluster
    }

    /// A PostgreSQL program, as the cluster's user.
    pub fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Starts the server (again, after [`Cluster::stop_immediate`]) and waits for it.
    pub fn start_server(&self) {
        let options = format!(
            // fsync off: dozens of tests share two cores and one disk, and a flush that
            // waits past the 5 s statement limit turns into a 451 the test did not ask for.
            // What the tests kill is the server process (`pg_ctl stop -m immediate`), not
            // the machine, so what PostgreSQL wrote survives as it does in production;
            // bench/store.sh measures with fsync on.
            "-h 127.0.0.1 -p {} -k {} -c max_connections=300 -c shared_buffers=32MB -c fsync=off",
            self.port,
            self.data.display()
        );
        let status = self
            .command("pg_ctl")
            .args(["-D", self.data.to_str().unwrap(), "-w", "-t", "60"])
            .args(["-l", self.data.join("server.log").to_str().unwrap()])
            .args(["-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start failed: see {}", self.log());
    }

    /// `pg_ctl stop -m immediate`: the server dies as in a crash (no checkpoint).
    pub fn stop_immediate(&self) {
        let status = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-w",
                "stop",
                "-m",
                "immediate",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl stop failed");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }

    /// Stops the server and removes its folder once this test binary has exited, however
    /// it exits.
    fn watch_this_process(&self) -> std::process::Child {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = match self.user {
            Some(user) => format!("runuser -u {user} -- {}", pg_ctl.display()),
            None => pg_ctl.display().to_string(),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {stop} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {data}",
            pid = std::process::id(),
            data = self.data.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }

    /// Runs SQL with `psql` on database `db`; its output (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The process ids of the replyd nodes' connections listening for token changes in
    /// `db` (that ran their `LISTEN`: `postgres/tokens.rs`).
    pub fn token_listeners(&self, db: &str) -> String {
        self.psql(
            db,
            "SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'replyd-listener' \
             AND query LIKE 'LISTEN%'",
        )
    }

    /// Waits until `db` has token listeners other than `before` (the pids of
    /// [`Cluster::token_listeners`]), at most 6 s (a node reconnects with a backoff capped
    /// at 5 s); their pids.
    pub fn token_listener_other_than(&self, db: &str, before: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let now = self.token_listeners(db);
            if !now.is_empty() && now != before {
                return now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "no token listener in {db}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}", N.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Waits until the server answers again (after a restart), at most `limit`.
    pub fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            let ok = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not come back: {}", self.log());
    }
}

/// The database each test's "file" stands for, when the tests run on PostgreSQL: the path
/// a test holds ([`super::TestServer::db`]) names its database.
fn databases() -> &'static Mutex<Vec<(PathBuf, String)>> {
    static DATABASES: OnceLock<Mutex<Vec<(PathBuf, String)>>> = OnceLock::new();
    DATABASES.get_or_init(Mutex::default)
}

/// A fresh database for the test whose SQLite file would be `db`; its URL.
pub fn database_for(db: &Path) -> String {
    let url = Cluster::get().fresh_database();
    databases()
        .lock()
        .unwrap()
        .push((db.to_path_buf(), url.clone()));
    url
}

/// The URL given to `db` by [`database_for`], if one was.
pub fn url_for(db: &Path) -> Option<String> {
    databases()
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(p, _)| p == db)
        .map(|(_, url)| url.clone())
}

/// A node (a server) on the PostgreSQL database `url`.
pub fn node(url: &str) -> super::TestServer {
    node_with(url, |_| {})
}

/// A node on `url`, with `tweak` applied to its configuration (its webhooks, ...).
pub fn node_with(url: &str, tweak: impl FnOnce(&mut replyd::config::Config)) -> super::TestServer {
    let url = url.to_string();
    super::TestServer::start_with(move |c| {
        c.store.path = replyd::config::DEFAULT_STORE_PATH.into();
        c.store.url = Some(url);
        tweak(c);
    })
}

/// A fresh database of this test binary's cluster, for a test about PostgreSQL itself;
/// `None` (the test is skipped, or fails under `REPLYD_REQUIRE_ALL`: [`super::needs`]) where
/// PostgreSQL is not installed. A test starts with
///
/// ```ignore
/// let Some(db) = postgres::fresh() else { return };
/// let a = db.node();
/// ```
pub fn fresh() -> Option<Database> {
    if !super::needs(&[super::Need::Postgres]) {
        return None;
    }
    let cluster = Cluster::get();
    let url = cluster.fresh_database();
    let name = url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap_or_default()
        .to_string();
    Some(Database { cluster, url, name })
}

/// One database of the cluster: what a test's nodes share.
pub struct Database {
    pub cluster: &'static Cluster,
    pub url: String,
    /// Its name, for `psql`.
    pub name: String,
}

impl Database {
    /// A node (a server) on this database.
    pub fn node(&self) -> super::TestServer {
        node(&self.url)
    }

    /// A node with `tweak` applied to its configuration (its webhooks, ...).
    pub fn node_with(&self, tweak: impl FnOnce(&mut replyd::config::Config)) -> super::TestServer {
        node_with(&self.url, tweak)
    }

    /// The `[store]` of a process on this database (no server: `migrate`, `Store::open`).
    pub fn store_config(&self) -> replyd::config::StoreConfig {
        replyd::config::StoreConfig {
            url: Some(self.url.clone()),
            ..Default::default()
        }
    }

    /// Runs SQL with `psql` on this database ([`Cluster::psql`]).
    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(&self.name, sql)
    }

    /// [`Cluster::token_listeners`] of this database.
    pub fn token_listeners(&self) -> String {
        self.cluster.token_listeners(&self.name)
    }

    /// [`Cluster::token_listener_other_than`] of this database.
    pub fn token_listener_other_than(&self, before: &str) -> String {
        self.cluster.token_listener_other_than(&self.name, before)
    }
}
