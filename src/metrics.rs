//! The daemon's numbers for Prometheus, served at `/metrics` (`src/http/operator/`) in the
//! Prometheus text format, every name under `replyd_`.
//!
//! Counting must cost the SMTP path next to nothing, so every series a message can touch is
//! created at start — one per way in, one per refusal reason — and counted with one atomic
//! add, without the label look-up (a lock) of a metric family. The histograms are atomic
//! buckets of our own: prometheus-client's take a mutex per observation. Label values come
//! from closed lists (ways in, reasons, matched HTTP routes, status codes), never from what
//! a client sends, so the number of series stays bounded.
//!
//! The store knows nothing of this module: it reports its commits through
//! [`CommitObserver`], and what is read rather than counted (the WAL size; the webhook
//! backlog, once there are webhooks) is read when `/metrics` is scraped, in
//! [`Metrics::refresh`].

use crate::intake::WayIn;
use crate::store::{CommitObserver, Reason, Store, WebhookEndpoint};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A label set of one label.
type One = [(&'static str, &'static str); 1];

/// The labels of an HTTP request: the route it matched (its template, not the raw path)
/// and the status answered.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpRequest {
    pub route: String,
    pub status: u16,
}

/// The label of a webhook endpoint's gauges: its name in `[[webhooks]]` (operator-chosen,
/// so the series are bounded by the config).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Endpoint {
    pub endpoint: String,
}

/// What an open connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Smtp,
    Lmtp,
    Http,
}

const LISTENERS: [&str; 3] = ["smtp", "lmtp", "http"];

/// Why a connection was refused before any session ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionRefusal {
    /// `limits.max_connections` reached.
    MaxConnections,
    /// `limits.max_connections_per_ip` reached.
    MaxConnectionsPerIp,
    /// `limits.max_connection_rate_per_ip` reached.
    ConnectionRate,
    /// A trusted proxy sent no valid PROXY header.
    ProxyHeader,
    /// The client talked before the greeting.
    EarlyTalker,
}

const CONNECTION_REFUSALS: [&str; 5] = [
    "max_connections",
    "max_connections_per_ip",
    "connection_rate",
    "proxy_header",
    "early_talker",
];

/// The ways in, by their activity-log names (`other`: a way in missing here, a bug).
const WAYS_IN: [&str; 11] = [
    "smtp", "esmtp", "esmtps", "lmtp", "pipe", "mailgun", "sendgrid", "mandrill", "postmark",
    "relay", OTHER,
];

/// Where an unknown label value is counted (a bug if it ever moves).
const OTHER: &str = "other";

/// Histogram bounds for durations, in nanoseconds: 100 µs to 10 s.
const SECONDS_BOUNDS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Histogram bounds for commit batch sizes (deliveries; the writer takes at most 512).
const BATCH_BOUNDS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/// Every metric, and the registry that encodes them.
pub(crate) struct Metrics {
    registry: Registry,
    connections_open: Vec<Gauge>,
    connections_refused: Vec<Counter>,
    stored: Vec<Counter>,
    stored_bytes: Vec<Counter>,
    duplicates: Vec<Counter>,
    /// Refusal reasons, in the order of `refusals`.
    refusal_reasons: Vec<&'static str>,
    refusals: Vec<Counter>,
    end_of_data: Histogram,
    commit_seconds: Histogram,
    commit_batch: Histogram,
    commit_failures: Counter,
    wal_bytes: Gauge,
    http_requests: Family<HttpRequest, Counter>,
    /// Webhook events not yet delivered, per endpoint.
    webhook_backlog: Family<Endpoint, Gauge>,
    /// Age of the oldest of them, per endpoint (0 with none).
    webhook_oldest_age: Family<Endpoint, Gauge<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("replyd");
        let connections_open = labelled(
            &mut registry,
            "connections_open",
            "Connections open now, by listener (SMTP, LMTP, HTTP)",
            "listener",
            &LISTENERS,
        );
        let connections_refused = labelled(
            &mut registry,
            "connections_refused",
            "Connections refused before a session started, by reason",
            "reason",
            &CONNECTION_REFUSALS,
        );
        let stored = labelled(
            &mut registry,
            "messages_stored",
            "Messages committed (retries of stored ones not included), by way in",
            "way_in",
            &WAYS_IN,
        );
        let stored_bytes = labelled(
            &mut registry,
            "stored_bytes",
            "Bytes of the messages committed, as received, by way in",
            "way_in",
            &WAYS_IN,
        );
        let duplicates = labelled(
            &mut registry,
            "messages_duplicate",
            "Retries of messages already stored: acknowledged, not stored again, by way in",
            "way_in",
            &WAYS_IN,
        );
        let mut refusal_reasons: Vec<&'static str> = Reason::KNOWN
            .iter()
            .copied()
            .filter(|w| !matches!(*w, "stored" | "duplicate" | "to_operator"))
            .collect();
        refusal_reasons.push(OTHER);
        let refusals = labelled(
            &mut registry,
            "refusals",
            "Delivery attempts refused or deferred, per recipient, by reason (as in the \
             activity log)",
            "reason",
            &refusal_reasons,
        );
        let end_of_data = Histogram::new(&SECONDS_BOUNDS, 1e-9);
        registry.register(
            "end_of_data_to_250_seconds",
            "SMTP and LMTP: from the end of the message data to the 250 (checks, parsing, commit)",
            end_of_data.clone(),
        );
        let commit_seconds = Histogram::new(&SECONDS_BOUNDS, 1e-9);
        registry.register(
            "commit_duration_seconds",
            "The writer's transactions, from their start to the end of the commit (fsync included)",
            commit_seconds.clone(),
        );
        let commit_batch = Histogram::new(&BATCH_BOUNDS, 1.0);
        registry.register(
            "commit_batch_size",
            "Deliveries committed per transaction (group commit)",
            commit_batch.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "commit_failures",
            "Writer transactions that failed (their clients were answered 451/503)",
            commit_failures.clone(),
        );
        let wal_bytes = Gauge::default();
        registry.register(
            "wal_size_bytes",
            "Size of the database's write-ahead log, read at the scrape",
            wal_bytes.clone(),
        );
        let http_requests = Family::<HttpRequest, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route (\"unmatched\" for none) and status",
            http_requests.clone(),
        );
        let webhook_backlog = Family::<Endpoint, Gauge>::default();
        registry.register(
            "webhook_backlog",
            "Webhook events not yet delivered to the endpoint, read at the scrape",
            webhook_backlog.clone(),
        );
        let webhook_oldest_age = Family::<Endpoint, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "webhook_oldest_age_seconds",
            "Age of the endpoint's oldest undelivered event (0 with none), read at the scrape",
            webhook_oldest_age.clone(),
        );
        Metrics {
            registry,
            connections_open,
            connections_refused,
            stored,
            stored_bytes,
            duplicates,
            refusal_reasons,
            refusals,
            end_of_data,
            commit_seconds,
            commit_batch,
            commit_failures,
            wal_bytes,
            http_requests,
            webhook_backlog,
            webhook_oldest_age,
        }
    }

    /// A connection opened; it counts as open until the guard is dropped.
    pub(crate) fn connection(self: &Arc<Self>, listener: Listener) -> OpenConnection {
        let i = match listener {
            Listener::Smtp => 0,
            Listener::Lmtp => 1,
            Listener::Http => 2,
        };
        self.connections_open[i].inc();
        OpenConnection {
            metrics: self.clone(),
            index: i,
        }
    }

    /// A connection refused before its session.
    pub(crate) fn connection_refused(&self, why: ConnectionRefusal) {
        let i = match why {
            ConnectionRefusal::MaxConnections => 0,
            ConnectionRefusal::MaxConnectionsPerIp => 1,
            ConnectionRefusal::ConnectionRate => 2,
            ConnectionRefusal::ProxyHeader => 3,
            ConnectionRefusal::EarlyTalker => 4,
        };
        self.connections_refused[i].inc();
    }

    /// A message committed: `new` rows written for it (or none: a retry of a stored one).
    pub(crate) fn stored(&self, way_in: WayIn, bytes: usize, new: bool) {
        let i = way_in_index(way_in);
        if new {
            self.stored[i].inc();
            self.stored_bytes[i].inc_by(bytes as u64);
        } else {
            self.duplicates[i].inc();
        }
    }

    /// A delivery attempt refused or deferred, for one recipient.
    pub(crate) fn refused(&self, reason: &Reason) {
        let word = reason.as_str();
        let i = self
            .refusal_reasons
            .iter()
            .position(|r| *r == word)
            .unwrap_or(self.refusal_reasons.len() - 1);
        self.refusals[i].inc();
    }

    /// SMTP/LMTP: the time from the end of the data to the `250`.
    pub(crate) fn answered_250(&self, took: Duration) {
        self.end_of_data.observe(nanos(took));
    }

    /// An HTTP request answered. `route` is the matched route's template (`None`: no route
    /// matched), so a client cannot make up new series.
    pub(crate) fn http_request(&self, route: Option<&str>, status: u16) {
        let labels = HttpRequest {
            route: route.unwrap_or("unmatched").to_string(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
    }

    /// Reads what is read rather than counted, just before a scrape is encoded.
    pub(crate) fn refresh(&self, store: &Store, webhooks: &[WebhookEndpoint]) {
        self.wal_bytes
            .set(i64::try_from(store.wal_size()).unwrap_or(i64::MAX));
        let now = crate::time::unix_now_ms();
        for endpoint in webhooks {
            let labels = Endpoint {
                endpoint: endpoint.name.clone(),
            };
            self.webhook_backlog
                .get_or_create(&labels)
                .set(endpoint.backlog);
            let age = endpoint
                .oldest_pending_ms
                .map_or(0.0, |ms| (now - ms).max(0) as f64 / 1000.0);
            self.webhook_oldest_age.get_or_create(&labels).set(age);
        }
    }

    /// The Prometheus text format (0.0.4) of every metric.
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

impl CommitObserver for Metrics {
    fn committed(&self, deliveries: usize, took: Duration) {
        self.commit_seconds.observe(nanos(took));
        if deliveries > 0 {
            self.commit_batch.observe(deliveries as u64);
        }
    }

    fn failed(&self) {
        self.commit_failures.inc();
    }
}

/// Counts a connection as open until dropped.
pub(crate) struct OpenConnection {
    metrics: Arc<Metrics>,
    index: usize,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.metrics.connections_open[self.index].dec();
    }
}

/// One metric per value of a label, created now and registered as one family; the metrics
/// are returned in the order of `values` (they share their counts with the family's).
fn labelled<M>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &'static str,
    values: &[&'static str],
) -> Vec<M>
where
    M: Clone + Default + EncodeMetric + prometheus_client::metrics::TypedMetric,
    M: Send + Sync + std::fmt::Debug + 'static,
{
    let family = Family::<One, M>::default();
    let metrics = values
        .iter()
        .map(|v| family.get_or_create_owned(&[(label, *v)]))
        .collect();
    registry.register(name, help, family);
    metrics
}

fn way_in_index(way_in: WayIn) -> usize {
    let name = way_in.name();
    WAYS_IN
        .iter()
        .position(|w| *w == name)
        .unwrap_or(WAYS_IN.len() - 1)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A histogram counted with atomics only: a bucket, the sum and the count are each one
/// atomic add. A scrape may see an observation in the count but not yet in the sum; the
/// count is taken from the buckets, so the `+Inf` bucket and `_count` always agree.
/// Clones share their counts (one is registered, one is counted into).
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    /// Upper bounds, in the unit observed (nanoseconds, or a count).
    bounds: &'static [u64],
    /// The exported unit per observed unit (1e-9: nanoseconds to seconds).
    scale: f64,
    counts: Arc<Counts>,
}

#[derive(Debug)]
struct Counts {
    /// One count per bound, then the overflow.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [u64], scale: f64) -> Histogram {
        Histogram {
            bounds,
            scale,
            counts: Arc::new(Counts {
                buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum: AtomicU64::new(0),
            }),
        }
    }

    fn observe(&self, v: u64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.counts.sum.fetch_add(v, Ordering::Relaxed);
    }
}

impl prometheus_client::metrics::TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts: Vec<u64> = self
            .counts
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let finite: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .zip(&counts)
            .map(|(b, c)| (*b as f64 * self.scale, *c))
            .collect();
        let count = counts.iter().sum();
        let sum = self.counts.sum.load(Ordering::Relaxed) as f64 * self.scale;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &finite, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_agree_with_the_count() {
        let h = Histogram::new(&BATCH_BOUNDS, 1.0);
        for v in [1, 1, 3, 600] {
            h.observe(v);
        }
        let m = Metrics::new();
        let mut registry = Registry::default();
        registry.register("b", "batches", h);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("b_bucket{le=\"1\"} 2\n"), "{text}");
        assert!(text.contains("b_bucket{le=\"4\"} 3\n"), "{text}");
        assert!(text.contains("b_bucket{le=\"512\"} 3\n"), "{text}");
        assert!(text.contains("b_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("b_sum 605.0\n"), "{text}");
        assert!(text.contains("b_count 4\n"), "{text}");
        // Every series a message can touch exists before the first message.
        let all = m.encode().unwrap();
        assert!(all.contains("replyd_messages_stored_total{way_in=\"esmtp\"} 0"));
        assert!(all.contains("replyd_refusals_total{reason=\"unknown_token\"} 0"));
        assert!(!all.contains("reason=\"stored\""));
    }

    #[test]
    fn every_way_in_has_its_own_series() {
        use crate::http::Ingress;
        let smtp = |esmtp, tls| WayIn::Smtp { esmtp, tls };
        let mut ways = vec![
            smtp(false, false),
            smtp(true, false),
            smtp(true, true),
            WayIn::Lmtp,
            WayIn::Pipe,
        ];
        for ingress in [
            Ingress::Mailgun,
            Ingress::Sendgrid,
            Ingress::Mandrill,
            Ingress::Postmark,
            Ingress::Relay,
        ] {
            ways.push(WayIn::Http { ingress, tls: true });
        }
        let mut seen: Vec<usize> = ways.iter().map(|w| way_in_index(*w)).collect();
        assert!(seen.iter().all(|i| WAYS_IN[*i] != OTHER));
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), WAYS_IN.len() - 1);
    }

    #[test]
    fn counts_land_on_their_labels() {
        let m = Metrics::new();
        m.stored(
            WayIn::Smtp {
                esmtp: true,
                tls: false,
            },
            100,
            true,
        );
        m.stored(WayIn::Lmtp, 7, false);
        m.refused(&Reason::RateLimit);
        m.refused(&Reason::Other("from_the_future".into()));
        m.http_request(Some("/healthz"), 200);
        let text = m.encode().unwrap();
        assert!(text.contains("replyd_messages_stored_total{way_in=\"esmtp\"} 1\n"));
        assert!(text.contains("replyd_stored_bytes_total{way_in=\"esmtp\"} 100\n"));
        assert!(text.contains("replyd_messages_duplicate_total{way_in=\"lmtp\"} 1\n"));
        assert!(text.contains("replyd_refusals_total{reason=\"rate_limit\"} 1\n"));
        assert!(text.contains("replyd_refusals_total{reason=\"other\"} 1\n"));
        assert!(text.contains("replyd_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"));
    }
}
