//! Prometheus metrics kept per server instance (no global recorder, so
//! tests can run several servers in one process).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    logins: BTreeMap<(&'static str, &'static str), u64>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one request by method, route template and status.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut c = self.lock();
        *c.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = c.latency.entry(route.to_owned()).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i] += 1;
            }
        }
    }

    pub fn record_login(&self, kind: &'static str, outcome: &'static str) {
        *self.lock().logins.entry((kind, outcome)).or_default() += 1;
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, open_tenant_databases: usize, tenants: i64) -> String {
        let c = self.lock();
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP citadel_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE citadel_http_requests_total counter\n");
        for ((method, route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "citadel_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP citadel_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE citadel_http_request_duration_seconds histogram\n");
        for (route, h) in &c.latency {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "citadel_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "citadel_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "citadel_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "citadel_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP citadel_logins_total Sign-in attempts by kind and outcome.\n");
        out.push_str("# TYPE citadel_logins_total counter\n");
        for ((kind, outcome), n) in &c.logins {
            let _ = writeln!(
                out,
                "citadel_logins_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP citadel_open_tenant_databases Tenant databases with an open pool.\n");
        out.push_str("# TYPE citadel_open_tenant_databases gauge\n");
        let _ = writeln!(out, "citadel_open_tenant_databases {open_tenant_databases}");
        out.push_str("# HELP citadel_tenants Tenants in the registry.\n");
        out.push_str("# TYPE citadel_tenants gauge\n");
        let _ = writeln!(out, "citadel_tenants {tenants}");
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record_request("GET", "/healthz", 200, Duration::from_micros(300));
        m.record_request("GET", "/healthz", 200, Duration::from_millis(30));
        m.record_login("tenant", "success");
        let text = m.render(3, 5);
        assert!(text.contains(
            "citadel_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "citadel_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "citadel_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("citadel_http_request_duration_seconds_count{route=\"/healthz\"} 2"));
        assert!(text.contains("citadel_logins_total{kind=\"tenant\",outcome=\"success\"} 1"));
        assert!(text.contains("citadel_open_tenant_databases 3"));
    }
}
