//! `citadel-loadgen`: a closed-loop HTTP load driver for Citadel's server
//! benchmarks. Each of `--concurrency` workers keeps one request in flight
//! on its own connection (HTTP/1.1 keep-alive, as wrk and hey do) for
//! `--duration` seconds after a warm-up; it prints requests/s and latency
//! percentiles. With `--post-json` each request is a POST with that body
//! (the sign-in benchmark); `--method`, `--header` and `--body` describe
//! other requests, and `{rand}` / `{seq}` in the URL or body are replaced
//! per request by a random number in `--rand-range` and by a number unique
//! across the run (the records benchmarks). Only loopback targets are
//! accepted.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Closed-loop HTTPS load driver for Citadel benchmarks")]
struct Args {
    /// Target URL, e.g. https://127.0.0.1:8443/healthz (loopback only).
    url: String,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds before, to open connections and warm caches.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// PEM certificate to trust (the server's self-signed one).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Multiplex all workers over HTTP/2 connections instead of one
    /// HTTP/1.1 connection per worker.
    #[arg(long)]
    http2: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Send POST requests with this JSON body (e.g. a sign-in) instead of GET.
    #[arg(long)]
    post_json: Option<String>,
    /// The request method (GET unless a body is given, then POST).
    #[arg(long)]
    method: Option<String>,
    /// A JSON body for each request; `{rand}` and `{seq}` are filled in.
    #[arg(long)]
    body: Option<String>,
    /// An extra header, `Name: value`; repeatable.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// The inclusive range `{rand}` draws from, e.g. `1..=100000`.
    #[arg(long, default_value = "1..=1000000")]
    rand_range: String,
}

/// What each request is made of, shared by the workers.
struct Template {
    method: reqwest::Method,
    url: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
    low: u64,
    span: u64,
    seq: std::sync::atomic::AtomicU64,
}

impl Template {
    /// Fills `{rand}` and `{seq}`; `state` is the worker's xorshift state
    /// (benchmark keys need spread, not unpredictability).
    fn fill(&self, text: &str, state: &mut u64) -> String {
        if !text.contains('{') {
            return text.to_owned();
        }
        let mut out = text.to_owned();
        while out.contains("{rand}") {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let n = self.low + *state % self.span;
            out = out.replacen("{rand}", &n.to_string(), 1);
        }
        while out.contains("{seq}") {
            let n = self.seq.fetch_add(1, Ordering::Relaxed);
            out = out.replacen("{seq}", &n.to_string(), 1);
        }
        out
    }
}

struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: u64,
    /// The first failure seen: a status code, or the transport error.
    first_error: Option<String>,
}

fn client(args: &Args) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().pool_max_idle_per_host(1);
    if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
        builder = builder.tls_certs_only([cert]);
    }
    builder = if args.http2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    builder.build().map_err(|e| e.to_string())
}

async fn worker(
    client: reqwest::Client,
    template: Arc<Template>,
    seed: u64,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> WorkerResult {
    let mut result = WorkerResult {
        latencies_us: Vec::with_capacity(1 << 16),
        errors: 0,
        first_error: None,
    };
    let mut state = seed | 1;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let url = template.fill(&template.url, &mut state);
        let mut request = client.request(template.method.clone(), &url);
        for (name, value) in &template.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &template.body {
            request = request
                .header("content-type", "application/json")
                .body(template.fill(body, &mut state));
        }
        let failure = match request.send().await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(_) if status.is_success() => None,
                    Ok(body) => Some(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    )),
                    Err(e) => Some(e.to_string()),
                }
            }
            Err(e) => Some(e.to_string()),
        };
        if measuring.load(Ordering::Relaxed) {
            match failure {
                None => {
                    let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                    result.latencies_us.push(us);
                }
                Some(failure) => {
                    result.errors += 1;
                    result.first_error.get_or_insert(failure);
                }
            }
        }
    }
    result
}

fn template(args: &Args) -> Result<Template, String> {
    let body = args.body.clone().or_else(|| args.post_json.clone());
    let method = match (&args.method, &body) {
        (Some(m), _) => reqwest::Method::from_bytes(m.to_uppercase().as_bytes())
            .map_err(|e| format!("--method: {e}"))?,
        (None, Some(_)) => reqwest::Method::POST,
        (None, None) => reqwest::Method::GET,
    };
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("--header {h:?}: expected `Name: value`"))
        })
        .collect::<Result<_, _>>()?;
    let (low, high) = args
        .rand_range
        .split_once("..=")
        .and_then(|(l, h)| Some((l.parse::<u64>().ok()?, h.parse::<u64>().ok()?)))
        .filter(|(l, h)| l <= h)
        .ok_or_else(|| format!("--rand-range {:?}: expected LOW..=HIGH", args.rand_range))?;
    Ok(Template {
        method,
        url: args.url.clone(),
        body,
        headers,
        low,
        span: high - low + 1,
        seq: std::sync::atomic::AtomicU64::new(1),
    })
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

async fn run(args: Args) -> Result<(), String> {
    let parsed = reqwest::Url::parse(&args.url).map_err(|e| format!("{}: {e}", args.url))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if !loopback {
        return Err("refusing a non-loopback target: benchmarks load this machine only".into());
    }
    if parsed.scheme() == "https" {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let shared = if args.http2 {
        Some(client(&args)?)
    } else {
        None
    };
    let template = Arc::new(template(&args)?);
    let mut tasks = Vec::with_capacity(args.concurrency);
    for n in 0..args.concurrency {
        let c = match &shared {
            Some(c) => c.clone(),
            None => client(&args)?,
        };
        tasks.push(tokio::spawn(worker(
            c,
            template.clone(),
            0x9E37_79B9_7F4A_7C15u64.wrapping_mul(n as u64 + 1),
            measuring.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let r = task.await.map_err(|e| e.to_string())?;
        latencies.extend(r.latencies_us);
        errors += r.errors;
        first_error = first_error.or(r.first_error);
    }
    if let Some(failure) = &first_error {
        eprintln!("first failed request: {failure}");
    }
    latencies.sort_unstable();
    let rps = latencies.len() as f64 / elapsed;
    let (p50, p90, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
    );
    if args.json {
        println!(
            "{{\"url\":\"{}\",\"concurrency\":{},\"seconds\":{elapsed:.2},\"requests\":{},\"errors\":{errors},\"rps\":{rps:.0},\"p50_ms\":{p50:.3},\"p90_ms\":{p90:.3},\"p99_ms\":{p99:.3},\"max_ms\":{max:.3},\"http2\":{}}}",
            args.url,
            args.concurrency,
            latencies.len(),
            args.http2
        );
    } else {
        println!(
            "{} c={} {}: {} requests in {elapsed:.2}s, {errors} errors",
            args.url,
            args.concurrency,
            if args.http2 { "h2" } else { "http/1.1" },
            latencies.len()
        );
        println!(
            "  {rps:.0} requests/s; latency ms p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  max {max:.3}"
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("citadel-loadgen: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("citadel-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
