//! Group commit: one flusher makes the store durable for every request that wrote before it started.
//!
//! Writes happen under the hub's state lock and bump `written`. A request that
//! must not answer before its writes (and any it observed) are durable calls
//! [`Journal::durable`], which waits until a sync that started after
//! `written` reached its current value has finished. A single flusher task
//! runs those syncs back to back, so under load one fsync covers many
//! requests and no blocking threads pile up.

use crate::error::HubError;
use fieldlens_store::{Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Notify, watch};

#[derive(Debug, Clone, Default)]
struct Synced {
    /// Every write numbered up to this one is durable.
    up_to: u64,
    /// The last sync failure: writes up to this number may not be durable.
    failed: Option<(u64, String)>,
}

/// Counts writes and makes them durable in groups.
pub struct Journal {
    store: Arc<dyn Store>,
    written: AtomicU64,
    wake: Notify,
    synced: watch::Sender<Synced>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("written", &self.written.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// A journal over `store`; call [`Journal::run_flusher`] on a task.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Journal {
            store,
            written: AtomicU64::new(0),
            wake: Notify::new(),
            synced: watch::channel(Synced::default()).0,
        }
    }

    /// The store, for reads and for writes followed by [`Journal::wrote`].
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Records that a write reached the store (call it after every write, under the lock).
    pub fn wrote(&self) {
        self.written.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until every write recorded so far is durable.
    pub async fn durable(&self) -> Result<(), HubError> {
        let target = self.written.load(Ordering::SeqCst);
        let mut synced = self.synced.subscribe();
        if synced.borrow().up_to >= target {
            return Ok(());
        }
        self.wake.notify_one();
        let state = synced
            .wait_for(|s| s.up_to >= target || s.failed.as_ref().is_some_and(|(n, _)| *n >= target))
            .await
            .map_err(|_| HubError::ShuttingDown)?
            .clone();
        match state.failed {
            Some((n, error)) if n >= target && state.up_to < target => {
                Err(HubError::Store(StoreError::Io(error)))
            }
            _ => Ok(()),
        }
    }

    /// Runs syncs whenever someone waits, until `stop` turns true; then one last sync.
    pub async fn run_flusher(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            self.sync_once().await;
        }
        self.sync_once().await;
    }

    async fn sync_once(&self) {
        let target = self.written.load(Ordering::SeqCst);
        if self.synced.borrow().up_to >= target {
            return;
        }
        let store = Arc::clone(&self.store);
        let result = crate::bulk::spawn(move || store.sync())
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        self.synced.send_modify(|synced| match result {
            Ok(()) => synced.up_to = synced.up_to.max(target),
            Err(error) => {
                tracing::error!(%error, "store sync failed");
                synced.failed = Some((target, error));
            }
        });
    }
}
