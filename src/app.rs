//! The state every request handler shares.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::{self, AuditEvent};
use crate::auth::allowlist::Allowlists;
use crate::auth::cache::CredentialCache;
use crate::auth::throttle::Throttle;
use crate::auth::tokens::TokenKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::abs::catalog::Catalog;
use crate::http::abs::me::MeCache;
use crate::realtime::Realtime;
use crate::store::Store;
use crate::tasks::Tasks;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub data_dir: PathBuf,
    pub store: Store,
    pub keys: TokenKeys,
    pub clock: SharedClock,
    /// Socket.IO; absent in contexts without an HTTP server (CLI tools).
    pub realtime: Option<Realtime>,
    pub throttle: Arc<Throttle>,
    pub allowlists: Allowlists,
    pub catalog: Catalog,
    /// Authenticated credentials, current while the `auth` counter stands still.
    pub credentials: CredentialCache,
    /// Rendered `/api/me` bodies, current while the counters behind them stand still.
    pub me_bodies: MeCache,
    pub tasks: Tasks,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Appends an audit event in its own transaction (for events that change nothing else, such
    /// as a refused login). Failure to audit is logged, never hidden.
    pub async fn audit(&self, event: AuditEvent) {
        let now = self.now_ms();
        if let Err(e) = self
            .store
            .write(move |tx| audit::append(tx, &event, now).map(|_| ()))
            .await
        {
            tracing::error!(error = %e, "could not append audit event");
        }
    }
}
