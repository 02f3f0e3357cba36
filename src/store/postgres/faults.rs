//! Storage faults on purpose, as on SQLite (`sqlite/faults.rs`): what the fault tests (and
//! an operator rehearsing one) need to make the database refuse writes the way another
//! session would, without writing SQL of their own.

use super::super::StoreError;
use super::connect::connect;
use super::db_error;
use crate::config::StoreConfig;
use std::sync::mpsc;

/// A PostgreSQL session holding every replyd table locked against writes, until released
/// (or dropped).
pub struct HeldLock {
    release: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), StoreError>>>,
}

/// Locks every replyd table `IN EXCLUSIVE MODE` in a transaction of its own session, as a
/// maintenance job or a stuck session holds them: reads go on, every write waits
/// `lock_timeout` (`[store] busy_timeout`) and then fails (`451`/`503`) until it is released.
pub fn hold_write_lock(config: &StoreConfig) -> Result<HeldLock, StoreError> {
    let config = config.clone();
    let (locked_tx, locked) = mpsc::channel::<Result<(), StoreError>>();
    let (release, released) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Io)?;
        runtime.block_on(async move {
            let taken = async {
                let client = connect(&config).await?;
                client
                    .batch_execute(
                        "BEGIN; SET LOCAL lock_timeout = 0; \
                     LOCK TABLE conversations, raw_messages, messages, attachments, inbox, \
                     used_tokens, activity, api_keys IN EXCLUSIVE MODE",
                    )
                    .await
                    .map_err(db_error)?;
                Ok::<_, StoreError>(client)
            };
            match taken.await {
                Ok(held) => {
                    let _ = locked_tx.send(Ok(()));
                    // Until released: the receiver returns when the sender is used or dropped.
                    let _ = tokio::task::spawn_blocking(move || released.recv()).await;
                    // Closing the session ends its transaction.
                    drop(held);
                    Ok(())
                }
                Err(e) => {
                    let _ = locked_tx.send(Err(StoreError::Database(e.to_string())));
                    Err(e)
                }
            }
        })
    });
    locked
        .recv()
        .map_err(|_| StoreError::Invalid("the locking thread ended".into()))??;
    Ok(HeldLock {
        release: Some(release),
        thread: Some(thread),
    })
}

impl HeldLock {
    /// Ends the transaction: writes go through again.
    pub fn release(mut self) -> Result<(), StoreError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(StoreError::Invalid("the locking thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
