//! `/graphql` over HTTP, following the GraphQL-over-HTTP specification:
//! - POST takes `application/json` (415 otherwise), so a cross-site HTML form, which can
//!   only send simple content types, can never run an operation with a member's cookie;
//!   uploads (`multipart/form-data`, a simple type) must also carry a preflight header;
//! - GET runs queries only: a mutation over GET is 405 with `Allow: POST`;
//! - the response is `application/graphql-response+json` when the client accepts it, with
//!   400 for documents that do not parse or validate; `application/json` otherwise, with 200
//!   for every well-formed request, as the specification asks of that media type;
//! - malformed requests (bad JSON, no query, bad variables) are 400 in both;
//! - batches (a JSON array) only when enabled, up to a configured size.

use std::sync::Arc;

use async_graphql::Variables;
use async_graphql::parser::types::OperationType;
use futures_util::future::join_all;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio_util::compat::TokioAsyncReadCompatExt as _;

use crate::domain::accounts::service::ClientInfo;
use crate::error::{AppError, ErrorCode};
use crate::graphql::api::Api;
use crate::graphql::context::Auth;
use crate::graphql::guard::{RequestReport, Transport};
use crate::graphql::loaders::Loaders;
use crate::http::auth;
use crate::http::request_id::RequestId;
use crate::http::shared_pages::{Key, SharedPages};
use crate::http::{error_body, error_response, json_response};
use crate::state::AppState;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept`. `None`: nothing we can produce is
/// acceptable (406).
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, u8, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        // On equal quality the newer media type wins.
        let candidate = match essence.as_str() {
            GRAPHQL_RESPONSE_JSON => (q, 3, MediaType::GraphqlResponseJson),
            JSON => (q, 2, MediaType::Json),
            "application/*" | "*/*" => (q, 1, MediaType::Json),
            _ => continue,
        };
        if best.is_none_or(|(bq, bp, _)| (candidate.0, candidate.1) > (bq, bp)) {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, media)| media)
}

/// One operation as the client sent it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    query: Option<String>,
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Json>,
    #[serde(default)]
    extensions: Option<Json>,
}

/// A refusal of the request itself, before any GraphQL runs.
fn refuse(status: StatusCode, media: MediaType, message: &str) -> Response {
    let mut response = error_response(status, ErrorCode::BadUserInput, message);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    response
}

fn accepted_media(req: &Request) -> Option<MediaType> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    negotiate(accept)
}

fn not_acceptable() -> Response {
    refuse(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "Accept must allow application/graphql-response+json or application/json",
    )
}

/// A JSON-encoded query-string parameter.
fn json_param(text: Option<String>) -> Result<Option<Json>, serde_json::Error> {
    text.filter(|t| !t.is_empty())
        .map(|t| serde_json::from_str::<Json>(&t))
        .transpose()
}

struct Outcome {
    response: async_graphql::Response,
    executed: bool,
    /// The same for every signed-out reader (see [`crate::graphql::guard::Report::shared`]).
    shared: bool,
    /// Refused because its operation type may not be sent this way (a mutation by GET).
    wrong_method: bool,
}

impl Outcome {
    /// The body: a request error has no `data` entry at all.
    fn body(&self) -> Json {
        if self.executed {
            serde_json::to_value(&self.response).unwrap_or_else(|_| internal_body())
        } else {
            json!({ "errors": self.response.errors })
        }
    }

    /// The body, serialised straight from the response (no intermediate JSON tree).
    fn body_bytes(&self) -> Vec<u8> {
        let written = if self.executed {
            serde_json::to_vec(&self.response)
        } else {
            serde_json::to_vec(&json!({ "errors": self.response.errors }))
        };
        written.unwrap_or_else(|_| internal_body().to_string().into_bytes())
    }
}

fn internal_body() -> Json {
    error_body(ErrorCode::Internal, crate::error::INTERNAL_MESSAGE, None)
}

/// Who sends a request, worked out once for all its operations.
struct Caller {
    auth: Auth,
    client: ClientInfo,
}

/// Authenticates the request. A credential that does not check out is a 401, and a stale
/// session cookie is cleared so the browser stops sending it.
async fn caller(
    req: &Request,
    state: &AppState,
    media: MediaType,
) -> Result<Caller, Box<Response>> {
    let client = auth::client_info(req, &state.settings);
    let refused = |error: AppError, cookie: bool| {
        let error = match error {
            AppError::NotFound(_) => {
                AppError::Unauthenticated("The credential is not valid".to_owned())
            }
            other => other,
        };
        let mut retry = None;
        let status = match &error {
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            // The database was too busy to check the credential: try again, as for any
            // other busy answer.
            AppError::RateLimited { retry_after, .. } => {
                retry = Some(*retry_after);
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::BadUserInput(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::UNAUTHORIZED,
            AppError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "authentication failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = json_response(
            status,
            &error_body(error.code(), &error.public_message(), retry),
        );
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.as_str()),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let AppError::RateLimited { retry_after, .. } = &error {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if cookie && let Ok(value) = HeaderValue::from_str(&state.settings.clear_session_cookie()) {
            headers.append(header::SET_COOKIE, value);
        }
        Box::new(response)
    };
    let credential = match auth::credential(req.headers(), &state.settings) {
        Ok(c) => c,
        Err(e) => return Err(refused(e, false)),
    };
    let viewer = match &credential {
        None => None,
        Some(credential) => match auth::authenticate(state, credential).await {
            Ok(viewer) => Some(viewer),
            Err(e) => return Err(refused(e, credential.is_cookie())),
        },
    };
    Ok(Caller {
        auth: Auth(viewer),
        client,
    })
}

/// A request ready to run, and where the guard reports what it found.
struct Prepared {
    request: async_graphql::Request,
    report: RequestReport,
}

fn build_request(
    operation: Operation,
    transport: Transport,
    req: &Request,
    state: &AppState,
    caller: &Caller,
) -> Result<Prepared, &'static str> {
    let persisted = operation
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("persistedQuery").is_some());
    let query = operation.query.unwrap_or_default();
    if query.trim().is_empty() && !persisted {
        return Err("The request has no query");
    }
    let variables = match operation.variables {
        None | Some(Json::Null) => Variables::default(),
        Some(v @ Json::Object(_)) => Variables::from_json(v),
        Some(_) => return Err("variables must be a JSON object"),
    };
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = operation.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(Json::Object(extensions)) = operation.extensions {
        for (key, value) in extensions {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.insert(key, value);
            }
        }
    }
    Ok(attach(request, transport, req, state, caller))
}

/// Gives a request what its resolvers and the guard read: the caller, loaders, request id,
/// the transport.
fn attach(
    request: async_graphql::Request,
    transport: Transport,
    req: &Request,
    state: &AppState,
    caller: &Caller,
) -> Prepared {
    let report = RequestReport::default();
    let mut request = request
        .data(transport)
        .data(report.clone())
        .data(caller.auth.clone())
        .data(crate::graphql::context::CredentialEnded::default())
        .data(caller.client.clone())
        .data(Loaders::new(
            &state.db,
            &state.settings,
            caller.auth.0.as_ref().map(|v| v.user_id),
        ));
    if let Some(id) = req.extensions().get::<RequestId>() {
        request = request.data(id.clone());
    }
    Prepared { request, report }
}

/// Headers that a cross-site HTML form cannot send: one of them must come with a
/// multipart upload, whose content type alone is "simple".
const PREFLIGHT_HEADERS: &[&str] = &[
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-require-preflight",
];

/// A GraphQL multipart request (file uploads).
async fn multipart(
    req: &Request,
    body: Body,
    content_type: &str,
    api: &Api,
    state: &AppState,
    media: MediaType,
) -> Response {
    if !PREFLIGHT_HEADERS
        .iter()
        .any(|h| req.headers().get(*h).is_some_and(|v| !v.is_empty()))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            media,
            "Uploads must carry an Apollo-Require-Preflight header (cross-site forms cannot)",
        );
    }
    let caller = match caller(req, state, media).await {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let uploads = &state.settings.uploads;
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(upload_body_limit(uploads.max_bytes))
        .max_num_files(1);
    let reader = body.into_async_read().compat();
    let request = match async_graphql::http::receive_body(Some(content_type), reader, options).await
    {
        Ok(request) => request,
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                &format!(
                    "The file is larger than the {} bytes allowed",
                    uploads.max_bytes
                ),
            );
        }
        Err(async_graphql::ParseRequestError::UnsupportedBatch) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                "Batched requests are not enabled",
            );
        }
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                &format!("The multipart request could not be read: {e}"),
            );
        }
    };
    let prepared = attach(request, Transport::HttpPost, req, state, &caller);
    respond(&execute(api, prepared).await, media)
}

/// The largest body a multipart upload may have: the file and room for its fields.
pub fn upload_body_limit(max_file: usize) -> usize {
    max_file.saturating_add(64 * 1024)
}

async fn execute(api: &Api, prepared: Prepared) -> Outcome {
    let started = std::time::Instant::now();
    let response = api.execute(prepared.request).await;
    let report = prepared.report.read();
    let codes: Vec<String> = response
        .errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| match c {
                    async_graphql::Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "UNKNOWN".to_owned())
        })
        .collect();
    let kind = match report.operation_type {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "invalid",
    };
    crate::metrics::record_operation(
        report.operation.as_deref().unwrap_or("invalid"),
        kind,
        started.elapsed(),
        &codes,
    );
    Outcome {
        response,
        executed: report.executed,
        wrong_method: report.wrong_method,
        shared: report.shared,
    }
}

/// Seconds to wait when the whole request was refused by a rate limit.
fn refused_for(outcome: &Outcome) -> Option<u64> {
    if outcome.executed {
        return None;
    }
    outcome.response.errors.iter().find_map(|e| {
        let extensions = e.extensions.as_ref()?;
        match (extensions.get("code"), extensions.get("retryAfter")) {
            (Some(async_graphql::Value::String(code)), Some(async_graphql::Value::Number(n)))
                if code == ErrorCode::RateLimited.as_str() =>
            {
                n.as_u64()
            }
            _ => None,
        }
    })
}

/// Where a signed-out request's answer may be kept (see [`SharedPages`]).
struct Keep<'a> {
    pages: &'a SharedPages,
    key: Key,
    generation: u64,
}

impl Keep<'_> {
    /// The kept answer, if any.
    fn answer(&self) -> Option<Response> {
        let (content_type, body) = self.pages.get(&self.key, self.generation)?;
        Some(
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CACHE_CONTROL, "no-store")
                .header(header::CONTENT_TYPE, content_type)
                .body(body),
        )
    }

    /// Answers with `outcome`, keeping it when every signed-out reader would get the same.
    fn respond(&self, outcome: &Outcome, media: MediaType) -> Response {
        if !(outcome.shared && outcome.executed && outcome.response.errors.is_empty()) {
            return respond(outcome, media);
        }
        let body = bytes::Bytes::from(outcome.body_bytes());
        self.pages
            .put(self.key, self.generation, media.as_str(), body.clone());
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::CONTENT_TYPE, media.as_str())
            .body(body)
    }
}

/// The answer kept for a signed-out request, or where to keep it: `None` for requests
/// that carry a credential.
fn keep<'a>(
    req: &Request,
    state: &AppState,
    pages: &'a SharedPages,
    method: &str,
    request: &[u8],
    media: MediaType,
) -> Option<Keep<'a>> {
    if !matches!(auth::credential(req.headers(), &state.settings), Ok(None)) {
        return None;
    }
    Some(Keep {
        pages,
        key: SharedPages::key(method, request, media.as_str()),
        generation: state.pubsub.content_generation(),
    })
}

/// A request as it arrived, with who sent it and the media type it accepts.
struct Incoming<'a> {
    req: &'a Request,
    state: &'a AppState,
    caller: &'a Caller,
    media: MediaType,
}

/// Runs one operation and answers it, keeping the answer where a signed-out page may be.
async fn answer(
    api: &Api,
    operation: Operation,
    transport: Transport,
    incoming: Incoming<'_>,
    kept: Option<&Keep<'_>>,
) -> Response {
    let media = incoming.media;
    match build_request(
        operation,
        transport,
        incoming.req,
        incoming.state,
        incoming.caller,
    ) {
        Ok(prepared) => {
            let outcome = execute(api, prepared).await;
            match kept {
                Some(kept) => kept.respond(&outcome, media),
                None => respond(&outcome, media),
            }
        }
        Err(message) => refuse(StatusCode::BAD_REQUEST, media, message),
    }
}

fn respond(outcome: &Outcome, media: MediaType) -> Response {
    let retry_after = refused_for(outcome);
    let status = if outcome.wrong_method {
        StatusCode::METHOD_NOT_ALLOWED
    } else if retry_after.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else if !outcome.executed && media == MediaType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CACHE_CONTROL, "no-store")
        .body(outcome.body_bytes());
    let headers = response.headers_mut();
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if outcome.wrong_method {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    for (name, value) in &outcome.response.http_headers {
        headers.append(name, value.clone());
    }
    response
}

#[handler]
pub async fn post(
    req: &Request,
    body: Body,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
    Data(pages): Data<&Arc<SharedPages>>,
) -> Response {
    let Some(media) = accepted_media(req) else {
        return not_acceptable();
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("multipart/form-data") {
        return multipart(req, body, content_type, api, state, media).await;
    }
    if !essence.eq_ignore_ascii_case(JSON) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "Content-Type must be application/json (or multipart/form-data for uploads)",
        );
    }
    let bytes = match body.into_bytes_limit(state.settings.http.body_limit).await {
        Ok(b) => b,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                "The request body is too large",
            );
        }
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                "The request body could not be read",
            );
        }
    };
    let kept = keep(req, state, pages, "POST", &bytes, media);
    if let Some(answer) = kept.as_ref().and_then(Keep::answer) {
        return answer;
    }
    let caller = match caller(req, state, media).await {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let parsed: Json = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                "The request body is not valid JSON",
            );
        }
    };
    match parsed {
        Json::Array(items) => {
            let max = state.settings.graphql.max_batch;
            if max == 0 {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    media,
                    "Batched requests are not enabled",
                );
            }
            if items.is_empty() || items.len() > max {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    media,
                    &format!("A batch must hold between 1 and {max} operations"),
                );
            }
            let mut requests = Vec::with_capacity(items.len());
            for item in items {
                let Ok(operation) = serde_json::from_value::<Operation>(item) else {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        media,
                        "Each operation must be a JSON object",
                    );
                };
                match build_request(operation, Transport::HttpPost, req, state, &caller) {
                    Ok(r) => requests.push(r),
                    Err(message) => return refuse(StatusCode::BAD_REQUEST, media, message),
                }
            }
            let outcomes = join_all(requests.into_iter().map(|p| execute(api, p))).await;
            let body = Json::Array(outcomes.iter().map(Outcome::body).collect());
            let mut response = json_response(StatusCode::OK, &body);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(media.as_str()),
            );
            response
        }
        Json::Object(_) => {
            let Ok(operation) = serde_json::from_value::<Operation>(parsed) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    media,
                    "query, operationName, variables and extensions have the wrong types",
                );
            };
            let request = Incoming {
                req,
                state,
                caller: &caller,
                media,
            };
            answer(api, operation, Transport::HttpPost, request, kept.as_ref()).await
        }
        _ => refuse(
            StatusCode::BAD_REQUEST,
            media,
            "The request body must be a JSON object",
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

#[handler]
pub async fn get(
    req: &Request,
    Data(api): Data<&Api>,
    Data(state): Data<&AppState>,
    Data(pages): Data<&Arc<SharedPages>>,
) -> Response {
    let Ok(params) = req.params::<GetParams>() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            MediaType::Json,
            "The query string could not be parsed",
        );
    };
    // A browser asking for a page gets the playground.
    if params.query.is_none()
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
    {
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "/graphiql")
            .finish();
    }
    let Some(media) = accepted_media(req) else {
        return not_acceptable();
    };
    let Ok(variables) = json_param(params.variables) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            media,
            "variables is not valid JSON",
        );
    };
    let Ok(extensions) = json_param(params.extensions) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            media,
            "extensions is not valid JSON",
        );
    };
    let operation = Operation {
        query: params.query,
        operation_name: params.operation_name,
        variables,
        extensions,
    };
    let query_string = req.uri().query().unwrap_or("").as_bytes();
    let kept = keep(req, state, pages, "GET", query_string, media);
    if let Some(answer) = kept.as_ref().and_then(Keep::answer) {
        return answer;
    }
    let caller = match caller(req, state, media).await {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let request = Incoming {
        req,
        state,
        caller: &caller,
        media,
    };
    answer(api, operation, Transport::HttpGet, request, kept.as_ref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(None), Some(MediaType::Json));
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(Some(
                "application/json, application/graphql-response+json;q=0.5"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(Some("*/*")), Some(MediaType::Json));
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }
}
