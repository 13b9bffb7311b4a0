//! The command line: `vibecoding [serve|worker|migrate|schema]`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::{Application, shutdown_signal};
use crate::{db, graphql};

const ENVIRONMENT_HELP: &str = "\
Configuration: built-in defaults, then the TOML file (--config, or ./vibecoding.toml), then
the environment. Environment variables:
  APP_ENV              development | test | production (RAILS_ENV is read when APP_ENV is not set)
  PORT, HOST           where the server listens (default 0.0.0.0:3000)
  DATABASE_URL         Postgres (default postgres://postgres@127.0.0.1:5432/vibecoding_development;
                       required in production)
  REDIS_URL            Redis (default redis://127.0.0.1:6379); empty: single node, in-process
  SECRET_KEY_BASE      at least 64 characters; required in production (`openssl rand -hex 64`)
  FOREM_OWNER_SECRET   lets the first account become the instance's admin
  APP_DOMAIN           public host name, e.g. vibecoding.community (default localhost:3000)
  APP_PROTOCOL         http:// or https:// (https turns on HSTS and the HTTPS redirect)
  SENTRY_DSN           report errors to Sentry; SENTRY_ENVIRONMENT names the environment
  CLOUDINARY_URL       cloudinary://key:secret@cloud for image storage
  SENDGRID_API_KEY     email delivery through SendGrid
  HEALTH_CHECK_TOKEN   required in the health-check-token header by non-local callers
                       of the database and cache health checks
  LOG_FORMAT           pretty | json (default: json in production)
  RUST_LOG             log filter (default info)
  VIBECODING_<SECTION>__<KEY>  any other setting, e.g. VIBECODING_GRAPHQL__MAX_DEPTH=10";

#[derive(Debug, Parser)]
#[command(name = "vibecoding", version, about = "The Vibecoding Community server", after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    /// A TOML configuration file (default: vibecoding.toml in the working directory, when present).
    #[arg(long, global = true, env = "VIBECODING_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve GraphQL, GraphiQL and the health checks (the default command).
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve(ServeArgs),
    /// Run background jobs.
    #[command(after_help = ENVIRONMENT_HELP)]
    Worker,
    /// Apply pending database migrations, then exit.
    #[command(after_help = ENVIRONMENT_HELP)]
    Migrate,
    /// Print the effective configuration as JSON, secrets redacted.
    Config,
    /// Print the GraphQL schema (SDL).
    Schema(SchemaArgs),
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(long, env = "HOST")]
    pub host: Option<IpAddr>,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Exit with status 1 when the file differs from the schema the server exports.
    #[arg(long)]
    pub check: bool,
    /// The committed SDL file checked by --check.
    #[arg(long, default_value = "schema.graphql", value_name = "PATH")]
    pub path: PathBuf,
}

/// Runs a command that needs the configuration. Called inside the runtime.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Worker => {
            tracing::info!("worker started; no job kinds are registered yet, so it is idle");
            shutdown_signal().await;
            tracing::info!("worker stopped");
            Ok(())
        }
        Command::Migrate => {
            let pool = db::connect(&settings).await?;
            db::migrate(&pool).await?;
            tracing::info!("migrations applied");
            pool.close().await;
            Ok(())
        }
        Command::Config | Command::Schema(_) => {
            anyhow::bail!("this command runs without the async runtime")
        }
    }
}

/// `schema` and `schema --check`: no configuration, no runtime.
pub fn schema(args: &SchemaArgs) -> ExitCode {
    let sdl = graphql::sdl();
    if !args.check {
        print!("{sdl}");
        return ExitCode::SUCCESS;
    }
    match std::fs::read_to_string(&args.path) {
        Ok(committed) if committed == sdl => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!(
                "{} is out of date: run `vibecoding schema > {}` (or `make schema`)",
                args.path.display(),
                args.path.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.path.display());
            ExitCode::FAILURE
        }
    }
}
