//! `Application::build(settings)` prepares everything and binds the listener (port 0 picks a
//! free one, as tests do); `run_until_stopped` serves until the signal, then drains.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use poem::listener::TcpAcceptor;
use poem::{EndpointExt as _, Server};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::cache::Cache;
use crate::config::{Settings, redact_url};
use crate::domain::search::index::SearchIndex;
use crate::mail::Mailer;
use crate::pubsub::PubSub;
use crate::state::AppState;
use crate::worker::Worker;
use crate::{db, graphql, http};

pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    manifest: Arc<crate::graphql::persisted::Manifest>,
    shutdown: watch::Sender<bool>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        let db = db::connect(&settings, db::Purpose::Server).await?;
        if settings.database.migrate_on_start {
            db::migrate(&db).await?;
        }
        tracing::info!(database = %redact_url(&settings.database_url()), "database ready");
        let cache = Cache::connect(&settings)?;
        if cache.is_embedded() {
            tracing::info!(
                "REDIS_URL is empty: single-node mode, with in-process pub/sub, cache and rate counters"
            );
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let pubsub =
            PubSub::start(&settings, &cache)?.with_database_listener(&db, shutdown_rx.clone());
        let search = Arc::new(SearchIndex::new(
            settings.search.index_dir.clone(),
            pubsub.search_changes(),
        ));
        tokio::spawn(search.clone().run(
            db::side_pool(&db, "vibecoding-search-index", 2),
            settings.search.changes_kept_hours,
            shutdown_rx.clone(),
        ));

        let listener = TcpListener::bind((settings.host, settings.port))
            .with_context(|| format!("cannot listen on {}:{}", settings.host, settings.port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();

        let mailer = Arc::new(Mailer::from_settings(&settings)?);
        let settings = Arc::new(settings);
        let storage = crate::storage::Storage::from_settings(&settings)?;
        let manifest = Arc::new(crate::graphql::persisted::Manifest::load(&settings)?);
        let state = AppState {
            storage,
            search,
            recent_credentials: Arc::default(),
            settings,
            db,
            cache,
            pubsub,
            shutdown: shutdown_rx,
            connections: TaskTracker::new(),
            mailer,
        };
        Ok(Self {
            listener,
            port,
            state,
            manifest,
            shutdown,
        })
    }

    /// What a worker process runs its jobs with: the state a server would have, minus
    /// what serves requests (no listener; the search index is never opened, as no job
    /// searches).
    pub async fn worker_state(
        settings: Settings,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<AppState> {
        settings.validate()?;
        let db = db::connect(&settings, db::Purpose::Background).await?;
        let cache = Cache::connect(&settings)?;
        let pubsub = PubSub::start(&settings, &cache)?;
        let search = Arc::new(SearchIndex::new(
            settings.search.index_dir.clone(),
            pubsub.search_changes(),
        ));
        let mailer = Arc::new(Mailer::from_settings(&settings)?);
        let settings = Arc::new(settings);
        Ok(AppState {
            storage: crate::storage::Storage::from_settings(&settings)?,
            search,
            recent_credentials: Arc::default(),
            settings,
            db,
            cache,
            pubsub,
            shutdown,
            connections: TaskTracker::new(),
            mailer,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` completes, then stops accepting, lets in-flight requests
    /// finish (up to the shutdown timeout), closes WebSockets with a close frame and waits
    /// for them.
    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            port,
            state,
            manifest,
            shutdown,
        } = self;
        let api = graphql::api::Api::new(state.clone(), manifest);
        let timeout = Duration::from_secs(state.settings.http.shutdown_timeout_secs);
        let app = http::routes(state.clone(), api);
        tracing::info!(
            port,
            graphiql = %format!("http://localhost:{port}/graphiql"),
            env = state.settings.app_env.as_str(),
            "listening"
        );
        if state.settings.metrics.enabled {
            crate::metrics::handle();
        }
        let metrics_server = match state
            .settings
            .metrics
            .port
            .filter(|_| state.settings.metrics.enabled)
        {
            Some(metrics_port) => {
                let listener = std::net::TcpListener::bind((state.settings.host, metrics_port))?;
                listener.set_nonblocking(true)?;
                tracing::info!(port = metrics_port, "metrics listening");
                let app = poem::Route::new()
                    .at("/metrics", poem::get(http::metrics::scrape_private))
                    .data(state.clone());
                let mut stopped = state.shutdown.clone();
                Some(tokio::spawn(async move {
                    let stop = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    Server::new_with_acceptor(TcpAcceptor::from_std(listener)?)
                        .run_with_graceful_shutdown(app, stop, Some(Duration::from_secs(1)))
                        .await
                }))
            }
            None => None,
        };
        let worker = if state.settings.embedded_worker() {
            tracing::info!("running an embedded job worker (jobs.embedded)");
            // Jobs get the worker's statement timeout, on a pool of their own.
            let mut ctx = state.job_context();
            ctx.db = db::connect(&state.settings, db::Purpose::Background).await?;
            let render = Arc::new(crate::graphql::webhook_payload::Renderer::new(
                state.clone(),
            ));
            Some(tokio::spawn(
                Worker::new(ctx, render).run(state.shutdown.clone()),
            ))
        } else {
            None
        };
        let signal = async move {
            signal.await;
            tracing::info!("shutting down: finishing in-flight requests");
            shutdown.send_replace(true);
        };
        Server::new_with_acceptor(TcpAcceptor::from_std(listener)?)
            .run_with_graceful_shutdown(app, signal, Some(timeout))
            .await?;
        if let Some(server) = metrics_server {
            let _ = server.await;
        }
        if let Some(worker) = worker {
            match worker.await {
                Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "embedded worker failed"),
                Err(e) => tracing::error!(error = %e, "embedded worker panicked"),
                Ok(Ok(())) => {}
            }
        }
        state.connections.close();
        if tokio::time::timeout(timeout, state.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("WebSocket connections still open at the end of the shutdown timeout");
        }
        // A connection stuck on an unanswering database is not waited for without end.
        if tokio::time::timeout(Duration::from_secs(5), state.db.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still busy at exit");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that comes early is not missed (it would
/// otherwise kill the process outright).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).ok();
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let terminate = async {
                match terminate.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = terminate => {},
                () = interrupt => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
