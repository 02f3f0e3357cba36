//! SPF (RFC 7208) for the HELO and MAIL FROM identities, started while the transaction is
//! still going on, and awaited at the end of DATA.
//!
//! Both identities are known before the data, so their look-ups overlap the data's
//! transfer instead of adding to the wait after it. The check starts at the transaction's
//! first accepted recipient rather than at `MAIL FROM` itself: a client that only probes
//! addresses (every recipient refused) costs no DNS look-ups for names it chose. It runs as
//! its own task, bounded by the time limit per message; the transaction holds its handle,
//! and dropping it (RSET, a new transaction, a closed session) stops the look-ups.
//!
//! mail-auth enforces the limit of 10 DNS mechanisms (§4.6.4) but not the one of two void
//! look-ups (answers with no records, or NXDOMAIN): [`super::void`] counts them.

use super::dns::DnsCaches;
use super::void::{VoidLog, Watched};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{MessageAuthenticator, Parameters, SpfResult};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The results so far: each identity's once its check has ended.
#[derive(Debug, Clone, Default)]
pub struct SpfFound {
    /// The HELO identity's result, and the name checked.
    pub helo: Option<(SpfResult, String)>,
    /// The MAIL FROM identity's result, and its domain (lower case); never for `<>`.
    pub mail: Option<(SpfResult, String)>,
}

/// What the SPF check of one transaction needs, owned (it outlives the command that
/// started it).
pub struct SpfRequest {
    pub ip: IpAddr,
    pub helo: String,
    /// MAIL FROM (empty for the null sender).
    pub mail_from: String,
}

/// An SPF check under way for one transaction; dropping it stops it.
pub struct SpfCheck {
    found: Arc<Mutex<SpfFound>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SpfCheck {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SpfCheck {
    /// Starts both identities' checks, each bounded by `timeout` (what is not answered by
    /// then is `temperror`).
    pub(super) fn start(
        auth: Arc<MessageAuthenticator>,
        caches: Arc<DnsCaches>,
        host: String,
        timeout: Duration,
        request: SpfRequest,
    ) -> SpfCheck {
        let found = Arc::new(Mutex::new(SpfFound::default()));
        let out = found.clone();
        let task = tokio::spawn(async move {
            let checks = run(&auth, &caches, &host, &request, &out);
            if tokio::time::timeout(timeout, checks).await.is_err() {
                tracing::info!(ip = %request.ip, "SPF passed the time limit per message: temperror");
            }
        });
        SpfCheck { found, task }
    }

    /// Waits until both checks have ended (the caller bounds the wait).
    pub(super) async fn finished(&mut self) {
        // An aborted or panicked task leaves what it found: the rest is temperror.
        let _ = (&mut self.task).await;
    }

    /// What was found so far.
    pub(super) fn found(&self) -> SpfFound {
        lock(&self.found).clone()
    }
}

fn lock(found: &Mutex<SpfFound>) -> std::sync::MutexGuard<'_, SpfFound> {
    found.lock().unwrap_or_else(|e| e.into_inner())
}

/// The HELO identity's check and the MAIL FROM identity's, at once.
async fn run(
    auth: &MessageAuthenticator,
    caches: &DnsCaches,
    host: &str,
    r: &SpfRequest,
    out: &Mutex<SpfFound>,
) {
    let helo = if r.helo.is_empty() {
        "unknown"
    } else {
        r.helo.as_str()
    };
    let helo_check = async {
        let result = check(auth, caches, SpfParameters::verify_ehlo(r.ip, helo, host)).await;
        lock(out).helo = Some((result, helo.to_string()));
    };
    let mail_check = async {
        if r.mail_from.is_empty() {
            return;
        }
        let domain = r
            .mail_from
            .rsplit_once('@')
            .map_or(helo, |(_, d)| d)
            .to_ascii_lowercase();
        let result = check(
            auth,
            caches,
            SpfParameters::verify_mail_from(r.ip, helo, host, &r.mail_from),
        )
        .await;
        lock(out).mail = Some((result, domain));
    };
    tokio::join!(helo_check, mail_check);
}

/// One identity's `check_host()`, through the shared caches, with the void-lookup limit.
async fn check(
    auth: &MessageAuthenticator,
    caches: &DnsCaches,
    params: SpfParameters<'_>,
) -> SpfResult {
    let log = VoidLog::default();
    let ipv4 = Watched::ipv4(&caches.ipv4, &log);
    let ipv6 = Watched::ipv6(&caches.ipv6, &log);
    let mx = Watched::mx(&caches.mx, &log);
    let ptr = Watched::ptr(&caches.ptr, &log);
    let result = auth
        .verify_spf(
            Parameters::new(params)
                .with_txt_cache(&caches.txt)
                .with_mx_cache(&mx)
                .with_ipv4_cache(&ipv4)
                .with_ipv6_cache(&ipv6)
                .with_ptr_cache(&ptr),
        )
        .await
        .result();
    match result {
        SpfResult::TempError | SpfResult::PermError | SpfResult::None => result,
        _ if log.exceeded() => SpfResult::PermError,
        _ => result,
    }
}
