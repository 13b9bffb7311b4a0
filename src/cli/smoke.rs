//! `vibecoding smoke --url URL`: the runbook's post-deployment checklist, run against a
//! live deployment over HTTP, printed as a pass/fail table.
//!
//! Read-only by default: the three health checks, the homepage, the HTTPS redirect and the
//! security headers, and the response-time budgets of the runbook's table (its
//! "acceptable" column). `--write` also registers, signs in and deletes a throwaway
//! account, and with `--login`/`--password` (a confirmed member) publishes an article,
//! uploads an image and deletes both again.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    /// The deployment, e.g. https://staging.vibecoding.community
    #[arg(long)]
    pub url: String,
    /// Also write: register, sign in, publish, upload, then delete it all again.
    #[arg(long)]
    pub write: bool,
    /// A confirmed member to publish and upload as (with --write).
    #[arg(long, env = "SMOKE_LOGIN")]
    pub login: Option<String>,
    #[arg(long, env = "SMOKE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Sent as `health-check-token` to the database and cache checks.
    #[arg(long, env = "HEALTH_CHECK_TOKEN", hide_env_values = true)]
    pub health_token: Option<String>,
    /// Requests averaged for the API response time.
    #[arg(long, default_value_t = 5)]
    pub samples: u32,
}

/// The runbook's "acceptable" budgets.
const HOMEPAGE_BUDGET_MS: f64 = 2_500.0;
const API_BUDGET_MS: f64 = 500.0;
const DATABASE_BUDGET_MS: f64 = 100.0;
const REDIS_BUDGET_MS: f64 = 10.0;

const SECURITY_HEADERS: &[&str] = &[
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Skip,
}

struct Row {
    name: String,
    verdict: Verdict,
    ms: Option<f64>,
    detail: String,
}

struct Smoke {
    http: reqwest::Client,
    base: String,
    rows: Vec<Row>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1_000.0
}

impl Smoke {
    fn record(&mut self, name: &str, verdict: Verdict, ms: Option<f64>, detail: impl Into<String>) {
        self.rows.push(Row {
            name: name.to_owned(),
            verdict,
            ms,
            detail: detail.into(),
        });
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn health(&mut self, name: &str, path: &str, message: &str, token: Option<&str>) {
        let started = Instant::now();
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.header("health-check-token", token);
        }
        let outcome = async {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        let elapsed = ms(started);
        match outcome {
            Ok((status, body)) if status.is_success() && body["message"] == message => {
                self.record(
                    name,
                    Verdict::Pass,
                    Some(elapsed),
                    format!("{status} {body}"),
                );
            }
            Ok((status, body)) => {
                self.record(
                    name,
                    Verdict::Fail,
                    Some(elapsed),
                    format!("{status} {body}"),
                );
            }
            Err(e) => self.record(name, Verdict::Fail, Some(elapsed), e.to_string()),
        }
    }

    /// POSTs a GraphQL operation; returns `data` or the first error's code and message.
    async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("{status}: {e}"))?;
        if let Some(error) = body["errors"].get(0) {
            return Err(format!(
                "{}: {}",
                error["extensions"]["code"].as_str().unwrap_or("ERROR"),
                error["message"].as_str().unwrap_or("")
            ));
        }
        // A mutation that refused its input answers with `userErrors` in its payload.
        let refused = body["data"].as_object().and_then(|data| {
            data.values()
                .find_map(|payload| payload["userErrors"].get(0).cloned())
        });
        if let Some(error) = refused {
            return Err(format!(
                "{}: {}",
                error["code"].as_str().unwrap_or("INVALID"),
                error["message"].as_str().unwrap_or("")
            ));
        }
        Ok(body["data"].clone())
    }

    async fn step(
        &mut self,
        name: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Option<Value> {
        let started = Instant::now();
        let result = self.graphql(token, query, variables).await;
        let elapsed = ms(started);
        match result {
            Ok(data) => {
                self.record(name, Verdict::Pass, Some(elapsed), "");
                Some(data)
            }
            Err(e) => {
                self.record(name, Verdict::Fail, Some(elapsed), e);
                None
            }
        }
    }
}

pub async fn run(args: &SmokeArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("vibecoding-smoke/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let base = args.url.trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&base).context("--url is not a URL")?;
    let mut smoke = Smoke {
        http,
        base,
        rows: Vec::new(),
    };
    let token = args.health_token.as_deref();
    smoke
        .health(
            "health: app",
            "/api/v1/health_checks/app",
            "App is up",
            None,
        )
        .await;
    smoke
        .health(
            "health: database",
            "/api/v1/health_checks/database",
            "Database connected",
            token,
        )
        .await;
    smoke
        .health(
            "health: cache",
            "/api/v1/health_checks/cache",
            "Cache connected",
            token,
        )
        .await;
    homepage(&mut smoke).await;
    https_redirect(&mut smoke, &parsed).await;
    timings(&mut smoke, args.samples.max(1)).await;
    if args.write {
        writes(&mut smoke, args).await;
    }

    println!("{:<30} {:<6} {:>10}  detail", "check", "result", "time");
    for row in &smoke.rows {
        let verdict = match row.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        };
        let time = row.ms.map(|m| format!("{m:.1} ms")).unwrap_or_default();
        let mut detail = row.detail.replace('\n', " ");
        if detail.len() > 100 {
            detail.truncate(100);
            detail.push('…');
        }
        println!("{:<30} {:<6} {:>10}  {}", row.name, verdict, time, detail);
    }
    let failed = smoke
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .count();
    println!(
        "{} passed, {failed} failed, {} skipped",
        smoke
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count(),
        smoke
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Skip)
            .count()
    );
    if failed > 0 {
        anyhow::bail!("{failed} smoke checks failed");
    }
    Ok(())
}

async fn homepage(smoke: &mut Smoke) {
    let started = Instant::now();
    let result = smoke.http.get(smoke.url("/")).send().await;
    let elapsed = ms(started);
    match result {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            let body_ok = response.text().await.is_ok_and(|t| t.contains("<html"));
            let fast = elapsed < HOMEPAGE_BUDGET_MS;
            let verdict = if status.is_success() && body_ok && fast {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            smoke.record(
                "homepage",
                verdict,
                Some(elapsed),
                format!("{status}, budget {HOMEPAGE_BUDGET_MS} ms"),
            );
            let missing: Vec<&str> = SECURITY_HEADERS
                .iter()
                .copied()
                .filter(|h| !headers.contains_key(*h))
                .collect();
            let https = smoke.base.starts_with("https://");
            let hsts = headers.contains_key("strict-transport-security");
            let verdict = if missing.is_empty() && (hsts || !https) {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let detail = if missing.is_empty() {
                format!("all present; HSTS {}", if hsts { "on" } else { "off" })
            } else {
                format!("missing: {}", missing.join(", "))
            };
            smoke.record("security headers", verdict, None, detail);
        }
        Err(e) => {
            smoke.record("homepage", Verdict::Fail, Some(elapsed), e.to_string());
            smoke.record("security headers", Verdict::Fail, None, "no answer");
        }
    }
}

/// Plain HTTP must be sent to HTTPS. Against an `https://` URL the same host is asked over
/// `http://`; against an `http://` URL (a deployment behind its own proxy, or a test) the
/// request carries `X-Forwarded-Proto: http`, as the platform's proxy would.
async fn https_redirect(smoke: &mut Smoke, url: &reqwest::Url) {
    let started = Instant::now();
    let request = if url.scheme() == "https" {
        let mut plain = url.clone();
        let _ = plain.set_scheme("http");
        let _ = plain.set_port(None);
        smoke.http.get(plain)
    } else {
        smoke
            .http
            .get(smoke.url("/"))
            .header("x-forwarded-proto", "http")
    };
    let result = request.send().await;
    let elapsed = ms(started);
    match result {
        Ok(response) => {
            let status = response.status();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let verdict = if status.is_redirection() && location.starts_with("https://") {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            smoke.record(
                "https redirect",
                verdict,
                Some(elapsed),
                format!("{status} {location}"),
            );
        }
        Err(e) => smoke.record(
            "https redirect",
            Verdict::Fail,
            Some(elapsed),
            e.to_string(),
        ),
    }
}

async fn timings(smoke: &mut Smoke, samples: u32) {
    let mut total = 0.0;
    let mut last = None;
    let mut error = None;
    for _ in 0..samples {
        let started = Instant::now();
        match smoke
            .graphql(
                None,
                "{ health { app database cache databaseLatencyMs cacheLatencyMs } }",
                json!({}),
            )
            .await
        {
            Ok(data) => last = Some(data),
            Err(e) => error = Some(e),
        }
        total += ms(started);
    }
    let average = total / f64::from(samples);
    let verdict = if error.is_none() && average < API_BUDGET_MS {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    smoke.record(
        "API response time (average)",
        verdict,
        Some(average),
        error.unwrap_or_else(|| format!("{samples} requests, budget {API_BUDGET_MS} ms")),
    );
    let health = last.map(|d| d["health"].clone()).unwrap_or(Value::Null);
    for (name, field, budget) in [
        (
            "database query time",
            "databaseLatencyMs",
            DATABASE_BUDGET_MS,
        ),
        ("redis latency", "cacheLatencyMs", REDIS_BUDGET_MS),
    ] {
        match health[field].as_f64() {
            Some(value) => smoke.record(
                name,
                if value < budget {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
                Some(value),
                format!("measured on the server, budget {budget} ms"),
            ),
            None => smoke.record(name, Verdict::Fail, None, "not reported (down?)"),
        }
    }
}

const REGISTER: &str =
    "mutation($i: RegisterInput!) { register(input: $i) { token user { username } } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { token } }";
const DELETE_ACCOUNT: &str =
    "mutation($p: String!) { deleteAccount(input: { password: $p }) { deletedUserId } }";

async fn writes(smoke: &mut Smoke, args: &SmokeArgs) {
    let suffix = &super::secret()[..10];
    let username = format!("smoke_{suffix}");
    let password = super::secret()[..24].to_owned();
    let registered = smoke
        .step(
            "user registration",
            None,
            REGISTER,
            json!({ "i": {
                "username": username,
                "email": format!("{username}@example.com"),
                "password": password,
                "name": "Smoke Test",
            } }),
        )
        .await;
    if registered.is_some() {
        let signed_in = smoke
            .step(
                "user login",
                None,
                LOGIN,
                json!({ "i": { "login": username, "password": password } }),
            )
            .await;
        let token = signed_in.and_then(|d| d["login"]["token"].as_str().map(str::to_owned));
        smoke
            .step(
                "delete the test account",
                token.as_deref(),
                DELETE_ACCOUNT,
                json!({ "p": password }),
            )
            .await;
    } else {
        smoke.record("user login", Verdict::Skip, None, "registration failed");
    }

    let (Some(login), Some(member_password)) = (&args.login, &args.password) else {
        for name in ["publish an article", "image upload", "clean up"] {
            smoke.record(name, Verdict::Skip, None, "needs --login and --password");
        }
        return;
    };
    let Some(signed_in) = smoke
        .step(
            "member login",
            None,
            LOGIN,
            json!({ "i": { "login": login, "password": member_password } }),
        )
        .await
    else {
        return;
    };
    let token = signed_in["login"]["token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let token = Some(token.as_str());
    let created = smoke
        .step(
            "create a draft",
            token,
            "mutation($i: CreateArticleInput!) { createArticle(input: $i) { article { id } } }",
            json!({ "i": { "title": format!("Smoke test {suffix}"), "bodyMarkdown": "Written by `vibecoding smoke`; deleted at once." } }),
        )
        .await;
    let article = created.and_then(|d| {
        d["createArticle"]["article"]["id"]
            .as_str()
            .map(str::to_owned)
    });
    if let Some(id) = &article {
        smoke
            .step(
                "publish an article",
                token,
                "mutation($id: ID!) { publishArticle(input: { id: $id }) { article { status } } }",
                json!({ "id": id }),
            )
            .await;
    }
    let image = upload(smoke, token).await;
    if let Some(id) = &article {
        smoke
            .step(
                "delete the article",
                token,
                "mutation($id: ID!) { deleteArticle(input: { id: $id }) { deletedArticleId } }",
                json!({ "id": id }),
            )
            .await;
    }
    if let Some(id) = image {
        smoke
            .step(
                "delete the image",
                token,
                "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }",
                json!({ "id": id }),
            )
            .await;
    }
}

fn tiny_png() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(16, 16, image::Rgb([255, 105, 180]));
    let mut bytes = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(image)
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes));
    bytes
}

/// Uploads a small PNG and fetches it back from where it was stored.
async fn upload(smoke: &mut Smoke, token: Option<&str>) -> Option<String> {
    let started = Instant::now();
    let operations = json!({
        "query": "mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id url } } }",
        "variables": { "f": null },
    });
    let part = reqwest::multipart::Part::bytes(tiny_png()).file_name("smoke.png");
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0":["variables.f"]}"#)
        .part("0", part);
    let mut request = smoke
        .http
        .post(smoke.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let result = async {
        let body: Value = request.send().await?.json().await?;
        Ok::<_, reqwest::Error>(body)
    }
    .await;
    let body = match result {
        Ok(body) => body,
        Err(e) => {
            smoke.record(
                "image upload",
                Verdict::Fail,
                Some(ms(started)),
                e.to_string(),
            );
            return None;
        }
    };
    let image = &body["data"]["uploadImage"]["image"];
    let (Some(id), Some(url)) = (image["id"].as_str(), image["url"].as_str()) else {
        smoke.record(
            "image upload",
            Verdict::Fail,
            Some(ms(started)),
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or("no image")
                .to_owned(),
        );
        return None;
    };
    // An image stored on the deployment itself is fetched through the URL under test (it
    // may be reached by another scheme or port than its public origin).
    let fetch_url = match reqwest::Url::parse(url) {
        Ok(parsed)
            if reqwest::Url::parse(&smoke.base)
                .is_ok_and(|base| base.host_str() == parsed.host_str()) =>
        {
            format!("{}{}", smoke.base, parsed.path())
        }
        _ => url.to_owned(),
    };
    let fetched = smoke.http.get(&fetch_url).send().await;
    let elapsed = ms(started);
    match fetched {
        Ok(r) if r.status().is_success() => {
            smoke.record("image upload", Verdict::Pass, Some(elapsed), url.to_owned());
        }
        Ok(r) => smoke.record(
            "image upload",
            Verdict::Fail,
            Some(elapsed),
            format!("stored, but {url} answered {}", r.status()),
        ),
        Err(e) => smoke.record("image upload", Verdict::Fail, Some(elapsed), e.to_string()),
    }
    Some(id.to_owned())
}
