//! The one way into the schema, for every transport: the guard, the engine, then the
//! error codes and the caller's budget, once per response.
//!
//! The schema has no extensions on purpose: with any installed, async-graphql runs each
//! field it resolves through the extension chain (a lookup of the field in the registry
//! and a boxed future per hook), which a page of 20 articles pays hundreds of times over.
//! What those hooks did happens here instead, around the whole request:
//! - before: [`guard::admit`], and the query budget charged the document's estimated cost
//!   (refused with RATE_LIMITED when spent);
//! - after: every error classified ([`crate::graphql::extensions::classify`]), an
//!   automatic persisted query remembered once its document ran, the request reported as
//!   executed for the HTTP layer.
//!
//! WebSocket connections run every operation through [`Api`] as their
//! [`async_graphql::Executor`], which also holds each operation to the connection's limit
//! of subscriptions.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response, ServerError};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use crate::domain::accounts::service::ClientInfo;
use crate::error::ErrorCode;
use crate::graphql::AppSchema;
use crate::graphql::context::Auth;
use crate::graphql::extensions::classify;
use crate::graphql::guard::{self, Limits, RequestReport, Transport};
use crate::graphql::persisted::{self, Manifest};
use crate::state::AppState;
use crate::telemetry::RequestId;

#[derive(Clone)]
pub struct Api {
    schema: AppSchema,
    state: AppState,
    manifest: Arc<Manifest>,
    limits: Limits,
    shared: Arc<SharedStreams>,
}

/// Signed-out subscribers of the same operation (document, operation name and
/// variables) on this node share one run of it: each event is resolved once and its
/// response handed to all of them, where each connection would otherwise resolve and
/// check it again. What a signed-out subscriber receives does not depend on who they are.
#[derive(Default)]
struct SharedStreams {
    running: std::sync::Mutex<
        std::collections::HashMap<SharedKey, tokio::sync::broadcast::Sender<Arc<Response>>>,
    >,
}

type SharedKey = (String, Option<String>, String);

/// Responses a shared run keeps for a subscriber that is behind; it loses older ones.
const SHARED_BUFFER: usize = 64;

impl SharedStreams {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<SharedKey, tokio::sync::broadcast::Sender<Arc<Response>>>,
    > {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a request carries about its caller, from its own data or its connection's.
#[derive(Clone)]
struct Facts {
    transport: Transport,
    report: Option<RequestReport>,
    member: Option<crate::ids::UserId>,
    address: String,
    request_id: Option<RequestId>,
}

fn find<'a, T: Any + Send + Sync>(
    request: &'a Request,
    session: Option<&'a Data>,
) -> Option<&'a T> {
    request
        .data
        .get(&TypeId::of::<T>())
        .or_else(|| session.and_then(|s| s.get(&TypeId::of::<T>())))
        .and_then(|d| d.downcast_ref::<T>())
}

impl Facts {
    fn of(request: &Request, session: Option<&Data>) -> Self {
        Self {
            transport: find::<Transport>(request, session)
                .copied()
                .unwrap_or(Transport::WebSocket),
            report: find::<RequestReport>(request, session).cloned(),
            member: find::<Auth>(request, session)
                .and_then(|a| a.0.as_ref())
                .map(|v| v.user_id),
            address: find::<ClientInfo>(request, session)
                .and_then(|c| c.ip.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
            request_id: find::<RequestId>(request, session).cloned(),
        }
    }
}

/// Whether a response ran (rather than being refused before execution): refusals carry
/// errors without a path and no data.
fn executed(response: &Response) -> bool {
    response.errors.is_empty()
        || !matches!(response.data, async_graphql::Value::Null)
        || response.errors.iter().any(|e| !e.path.is_empty())
}

impl Api {
    pub fn new(state: AppState, manifest: Arc<Manifest>) -> Self {
        Self {
            schema: crate::graphql::build(state.clone()),
            limits: Limits::from_settings(&state.settings),
            state,
            manifest,
            shared: Arc::default(),
        }
    }

    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// Admits a request: the guard, then the budget. `Err` is the response refusing it.
    async fn admit(
        &self,
        request: &mut Request,
        facts: &Facts,
    ) -> Result<guard::Admitted, Response> {
        let refuse = |error: ServerError| {
            let mut response = Response::from_errors(vec![error]);
            self.classify(&mut response, facts, None);
            response
        };
        let admitted = guard::admit(
            &self.state,
            &self.manifest,
            &self.limits,
            request,
            facts.transport,
            facts.report.as_ref(),
        )
        .await
        .map_err(refuse)?;
        let budget = crate::limits::charge_complexity(
            &self.state.cache,
            &self.state.settings,
            facts.member,
            &facts.address,
            admitted.cost,
        )
        .await
        .map_err(|e| refuse(guard::app_error(&e)))?;
        // What `rateLimit` answers: the budget as this request left it.
        if let Some(budget) = budget {
            request.data.insert(budget);
        }
        Ok(admitted)
    }

    fn classify(&self, response: &mut Response, facts: &Facts, operation: Option<&str>) {
        let label = facts
            .report
            .as_ref()
            .and_then(|r| r.read().operation)
            .or_else(|| operation.map(str::to_owned));
        for error in &mut response.errors {
            classify(error, facts.request_id.as_ref(), label.as_deref());
        }
    }

    /// Once a response is in: its errors coded, its persisted query remembered if it ran.
    async fn finish(
        &self,
        response: &mut Response,
        facts: &Facts,
        register: Option<&(String, String)>,
    ) {
        self.classify(response, facts, None);
        if executed(response) {
            if let Some(report) = &facts.report {
                report.mark_executed();
            }
            if let Some((hash, query)) = register {
                persisted::store(&self.state, &facts.address, hash, query).await;
            }
        }
    }

    /// Runs one request.
    pub async fn execute(&self, mut request: Request) -> Response {
        let facts = Facts::of(&request, None);
        let admitted = match self.admit(&mut request, &facts).await {
            Ok(admitted) => admitted,
            Err(refused) => return refused,
        };
        let mutation = admitted.operation_type == Some(OperationType::Mutation);
        let mut response = self.schema.execute(request).await;
        if mutation {
            // Whatever it changed, this node's next request checks its credential anew.
            self.state.pubsub.credentials_may_have_changed();
        }
        self.finish(&mut response, &facts, admitted.register.as_ref())
            .await;
        response
    }

    fn stream(
        &self,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let api = self.clone();
        let facts = Facts::of(&request, session.as_deref());
        let max = self.state.settings.http.max_subscriptions_per_connection;
        // Each operation holds a slot of its connection until its stream ends.
        let slot = match find::<SubscriptionCount>(&request, session.as_deref()) {
            Some(count) => match count.acquire(max) {
                Some(slot) => Some(slot),
                None => {
                    let mut error = ServerError::new(
                        format!("At most {max} subscriptions per connection"),
                        None,
                    );
                    error
                        .extensions
                        .get_or_insert_with(Default::default)
                        .set("code", ErrorCode::RateLimited.as_str());
                    return futures_util::stream::once(async move {
                        Response::from_errors(vec![error])
                    })
                    .boxed();
                }
            },
            None => None,
        };
        futures_util::stream::once(async move {
            let admitted = match api.admit(&mut request, &facts).await {
                Ok(admitted) => admitted,
                Err(refused) => return futures_util::stream::once(async move { refused }).boxed(),
            };
            let register = admitted.register;
            if facts.member.is_none()
                && admitted.operation_type == Some(OperationType::Subscription)
            {
                return api.shared_run(request, facts, register);
            }
            let mutation = admitted.operation_type == Some(OperationType::Mutation);
            let inner = match session {
                Some(session) => api
                    .schema
                    .execute_stream_with_session_data(request, session),
                None => api.schema.execute_stream(request),
            };
            let mut first = true;
            inner
                .then(move |mut response| {
                    let (api, register) = (api.clone(), register.clone());
                    let remember = std::mem::take(&mut first);
                    let facts = facts.clone();
                    async move {
                        if mutation {
                            api.state.pubsub.credentials_may_have_changed();
                        }
                        let register = if remember { register } else { None };
                        api.finish(&mut response, &facts, register.as_ref()).await;
                        response
                    }
                })
                .boxed()
        })
        .flatten()
        .map(move |response| {
            let _held = &slot;
            response
        })
        .boxed()
    }
}

impl Api {
    /// A signed-out subscriber's stream: a receiver of the run of the same operation,
    /// started here if none runs yet (see [`SharedStreams`]).
    fn shared_run(
        &self,
        request: Request,
        facts: Facts,
        register: Option<(String, String)>,
    ) -> BoxStream<'static, Response> {
        let key: SharedKey = (
            request.query.clone(),
            request.operation_name.clone(),
            serde_json::to_string(&request.variables).unwrap_or_default(),
        );
        let receiver = {
            let mut running = self.shared.lock();
            match running.get(&key) {
                Some(sender) => sender.subscribe(),
                None => {
                    let (sender, receiver) = tokio::sync::broadcast::channel(SHARED_BUFFER);
                    running.insert(key.clone(), sender.clone());
                    tokio::spawn(self.clone().pump(key, request, facts, register, sender));
                    receiver
                }
            }
        };
        let pubsub = self.state.pubsub.clone();
        futures_util::stream::unfold(receiver, move |mut receiver| {
            let pubsub = pubsub.clone();
            async move {
                loop {
                    match receiver.recv().await {
                        Ok(response) => return Some((copy(&response), receiver)),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(lost)) => {
                            pubsub.count_lost(lost);
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        })
        .boxed()
    }

    /// Runs one shared operation as a signed-out connection would, handing each response
    /// to its subscribers, until it ends or nobody listens any more.
    async fn pump(
        self,
        key: SharedKey,
        request: Request,
        facts: Facts,
        mut register: Option<(String, String)>,
        sender: tokio::sync::broadcast::Sender<Arc<Response>>,
    ) {
        let mut data = Data::default();
        data.insert(crate::graphql::loaders::Loaders::new(
            &self.state.db,
            &self.state.settings,
            None,
        ));
        data.insert(Auth(None));
        data.insert(Transport::WebSocket);
        let mut upstream = self
            .schema
            .execute_stream_with_session_data(request, Arc::new(data));
        let mut idle = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tokio::select! {
                next = upstream.next() => match next {
                    Some(mut response) => {
                        // The document is the same for every subscriber: it is remembered
                        // (an automatic persisted query) once, when it first runs.
                        self.finish(&mut response, &facts, register.take().as_ref()).await;
                        let _ = sender.send(Arc::new(response));
                    }
                    None => break,
                },
                _ = idle.tick() => {}
            }
            // Decided under the lock, so a subscriber either joins this run or starts a
            // new one.
            let mut running = self.shared.lock();
            if sender.receiver_count() == 0 {
                running.remove(&key);
                return;
            }
        }
        self.shared.lock().remove(&key);
    }
}

/// A copy of a shared response for one subscriber (`Response` is not `Clone`).
fn copy(response: &Response) -> Response {
    let mut copy = Response::new(response.data.clone());
    copy.extensions = response.extensions.clone();
    copy.errors = response.errors.clone();
    copy
}

impl Executor for Api {
    async fn execute(&self, request: Request) -> Response {
        Api::execute(self, request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.stream(request, session_data)
    }
}

/// Active subscriptions of one connection (connection data).
#[derive(Clone, Default)]
pub struct SubscriptionCount(Arc<AtomicUsize>);

pub struct SubscriptionSlot(Arc<AtomicUsize>);

impl SubscriptionCount {
    pub fn acquire(&self, max: usize) -> Option<SubscriptionSlot> {
        let previous = self.0.fetch_add(1, Ordering::SeqCst);
        if previous >= max {
            self.0.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        metrics::gauge!("graphql_subscriptions").increment(1.0);
        Some(SubscriptionSlot(self.0.clone()))
    }
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("graphql_subscriptions").decrement(1.0);
    }
}
