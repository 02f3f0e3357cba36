//! Reaching the database: the settings of `[store] url` with replyd's time limits, TLS
//! (`sslmode`) with rustls on `ring`, the pool, a single connection outside the pool
//! (migrations, `replyd migrate`, `check-config`, `copy-store`), and the read-only-standby
//! check every write path asks.
//!
//! Apart from the backend (`mod.rs`) because it is how a node gets a connection, not what
//! it does with one; the waits it bounds are explained there.

use super::{db_error, describe, schema, StoreError, SCHEMA_VERSION};
use crate::config::StoreConfig;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::sync::Arc;
use std::time::Duration;

/// Connections per node: the sessions' look-ups, the API's reads, the writer.
const POOL_SIZE: usize = 16;

/// The connection settings of `config.url`, with replyd's time limits.
pub(super) fn pg_config(config: &StoreConfig) -> Result<tokio_postgres::Config, StoreError> {
    let url = config.url.as_deref().unwrap_or_default();
    let mut pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Invalid(format!("store.url: {e}")))?;
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(config.busy_timeout);
    }
    let ms = config.busy_timeout.as_millis().max(1);
    let ours = format!("-c statement_timeout={ms} -c lock_timeout={ms} -c synchronous_commit=on");
    let options = match pg.get_options() {
        Some(theirs) if !theirs.is_empty() => format!("{theirs} {ours}"),
        _ => ours,
    };
    pg.options(&options);
    if pg.get_application_name().is_none() {
        pg.application_name("replyd");
    }
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(30));
    Ok(pg)
}

/// rustls for `sslmode=prefer|require`; the system's trust anchors (none is no error: a
/// server without TLS is then still reached with `prefer` or `disable`).
pub(super) fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let config = crate::http_client::client_config(None).unwrap_or_else(|_| {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
    });
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// Connects once, outside the pool (migrations, `replyd migrate`).
pub(super) async fn connect(config: &StoreConfig) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = pg_config(config)?.connect(tls()).await.map_err(db_error)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %describe(&e), "store: PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own:
/// [`super::PgStore::open`] is synchronous (as opening SQLite is) and may be called inside
/// or outside a runtime.
fn run_apart<T: Send + 'static>(
    f: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Io)?
            .block_on(f)
    })
    .join()
    .unwrap_or_else(|_| Err(StoreError::Invalid("the migration thread panicked".into())))
}

/// Applies the pending migrations (`replyd migrate`, and every open); the schema version
/// and compatibility version after.
pub fn migrate(config: &StoreConfig) -> Result<(i64, i64), StoreError> {
    let config = config.clone();
    run_apart(async move {
        let mut client = connect(&config).await?;
        schema::migrate(&mut client).await?;
        schema::schema_versions(&client).await
    })
}

/// A read-only standby takes no deliveries: said in so many words, not as a failed write.
pub(super) async fn refuse_standby(tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    let standby: bool = tx
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(db_error)?
        .try_get(0)
        .map_err(db_error)?;
    if standby {
        return Err(StoreError::Database(
            "the PostgreSQL server is a read-only standby".into(),
        ));
    }
    Ok(())
}

/// What `replyd check-config` asks of the database, changing nothing: reachable, a schema
/// this program can use (or none yet: `serve` will create it), and writable (a write made
/// and rolled back).
pub fn check_database(config: &StoreConfig) -> Result<(), StoreError> {
    let config = config.clone();
    run_apart(async move {
        let mut client = connect(&config).await?;
        let (_, compatible) = schema::schema_versions(&client).await?;
        if compatible > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: compatible,
                supported: SCHEMA_VERSION,
            });
        }
        let tx = client.transaction().await.map_err(db_error)?;
        tx.batch_execute("CREATE TEMPORARY TABLE replyd_check (x INT) ON COMMIT DROP")
            .await
            .map_err(db_error)?;
        refuse_standby(&tx).await?;
        tx.rollback().await.map_err(db_error)
    })
}

/// The node's pool of connections: waiting for one, opening one and checking one before
/// reuse are each bounded by `[store] busy_timeout`.
pub(super) fn pool(config: &StoreConfig, pg: tokio_postgres::Config) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        pg,
        tls(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .wait_timeout(Some(config.busy_timeout))
        .create_timeout(Some(config.busy_timeout))
        .recycle_timeout(Some(config.busy_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Invalid(format!("PostgreSQL pool: {e}")))
}
