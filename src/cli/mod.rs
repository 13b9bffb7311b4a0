//! The command line: `vibecoding [serve|worker|migrate|check|smoke|jobs|...]`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod check;
mod jobs;
mod migrate;
pub mod seed;
mod smoke;

use crate::config::Settings;
use crate::graphql;
use crate::startup::{Application, shutdown_signal};

const ENVIRONMENT_HELP: &str = "\
Configuration: built-in defaults, then the TOML file (--config, or ./vibecoding.toml), then
the environment. Environment variables:
  APP_ENV              development | test | production (RAILS_ENV is read when APP_ENV is not set)
  PORT, HOST           where the server listens (default 0.0.0.0:3000)
  DATABASE_URL         Postgres (default postgres://postgres@127.0.0.1:5432/vibecoding_development;
                       required in production)
  REDIS_URL            Redis (default redis://127.0.0.1:6379); empty: single node, in-process
  SECRET_KEY_BASE      at least 32 characters; required in production (`vibecoding secret`)
  FOREM_OWNER_SECRET   lets the first account become the instance's admin
  APP_DOMAIN           public host name, e.g. vibecoding.community (default localhost:3000)
  APP_PROTOCOL         http:// or https:// (https turns on HSTS and the HTTPS redirect)
  SENTRY_DSN           report errors to Sentry; SENTRY_ENVIRONMENT names the environment
  CLOUDINARY_URL       cloudinary://key:secret@cloud for image storage
  SENDGRID_API_KEY     email delivery through SendGrid
  SMTP_URL             email delivery over SMTP (smtp://user:pass@host:587); with neither,
                       emails are written as .eml files to tmp/outbox
  HEALTH_CHECK_TOKEN   required in the health-check-token header by non-local callers
                       of the database and cache health checks
  LOG_FORMAT           pretty | json (default: json in production)
  METRICS_TOKEN        bearer token for /metrics (without it, loopback callers only)
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
    /// Run background jobs (emails and periodic clean-ups) until SIGTERM.
    #[command(after_help = ENVIRONMENT_HELP)]
    Worker,
    /// Operators: give members roles.
    #[command(subcommand, after_help = ENVIRONMENT_HELP)]
    Admin(AdminCommand),
    /// Operators: the job queue (what Sidekiq's dashboard showed).
    #[command(subcommand, after_help = ENVIRONMENT_HELP)]
    Jobs(JobsCommand),
    /// Operators: the search index every server node keeps.
    #[command(subcommand, after_help = ENVIRONMENT_HELP)]
    Search(SearchCommand),
    /// Apply pending database migrations, then exit (`--status`: list them; `--revert N`:
    /// undo the latest N).
    #[command(after_help = ENVIRONMENT_HELP)]
    Migrate(MigrateArgs),
    /// Print a new random SECRET_KEY_BASE (or FOREM_OWNER_SECRET).
    Secret,
    /// Check that this node reaches its dependencies, as the health checks do; exits 1
    /// when one is down.
    #[command(after_help = ENVIRONMENT_HELP)]
    Check {
        #[arg(value_enum, default_value = "all")]
        target: CheckTarget,
    },
    /// Run the post-deployment smoke checklist against a live deployment.
    Smoke(smoke::SmokeArgs),
    /// Fill a development database with demo content (members, articles, threads,
    /// reactions, follows). Refused in production.
    #[command(after_help = ENVIRONMENT_HELP)]
    Seed(SeedArgs),
    /// Print the effective configuration as JSON, secrets redacted.
    Config,
    /// Print the GraphQL schema (SDL).
    Schema(SchemaArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum SearchCommand {
    /// Have every server node build its search index again from Postgres (each does it
    /// beside the one it serves, then switches); nodes that are down do it when they
    /// start.
    Rebuild,
    /// How far the change log reaches, and the generation nodes build for.
    Status,
}

#[derive(Debug, Default, clap::Args)]
pub struct MigrateArgs {
    /// List every migration and whether it is applied; change nothing.
    #[arg(long, conflicts_with = "revert")]
    pub status: bool,
    /// Undo the latest N applied migrations.
    #[arg(long, value_name = "N")]
    pub revert: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckTarget {
    App,
    Database,
    Cache,
    All,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    #[arg(long, default_value_t = 200)]
    pub articles: usize,
    #[arg(long, default_value_t = 1_000)]
    pub comments: usize,
    #[arg(long, default_value_t = 3_000)]
    pub reactions: usize,
    #[arg(long, default_value_t = 500)]
    pub follows: usize,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Give a member a role: member, trusted, moderator, admin or suspended.
    Grant {
        username: String,
        role: String,
        /// Shown to a suspended member.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Take a role back; the member becomes a plain member.
    Revoke { username: String, role: String },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs queued, running, scheduled, failed (awaiting retry) and dead, per kind.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Queue a dead or failed job again now: by id, or every dead job with --dead.
    Retry {
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<uuid::Uuid>,
        #[arg(long)]
        dead: bool,
    },
    /// List dead jobs with their last error.
    Dead {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Delete dead jobs (only those dead for more than N days with --older-than-days).
    PurgeDead {
        #[arg(long, value_name = "N")]
        older_than_days: Option<i64>,
    },
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(long, env = "HOST")]
    pub host: Option<IpAddr>,
    /// Also run a job worker in this process (the default in development).
    #[arg(long, conflicts_with = "no_worker")]
    pub worker: bool,
    /// Do not run a job worker in this process (the default outside development).
    #[arg(long)]
    pub no_worker: bool,
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
        Command::Worker => jobs::worker(settings).await,
        Command::Seed(args) => seed::command(&args, &settings).await,
        Command::Admin(command) => admin::command(command, &settings).await,
        Command::Jobs(command) => jobs::command(command, &settings).await,
        Command::Search(command) => admin::search(command, &settings).await,
        Command::Migrate(args) => migrate::command(&args, &settings).await,
        Command::Check { target } => check::command(&settings, target).await,
        Command::Smoke(args) => smoke::run(&args).await,
        Command::Config | Command::Schema(_) | Command::Secret => {
            anyhow::bail!("this command runs without the async runtime")
        }
    }
}

/// A new secret for `SECRET_KEY_BASE`: 64 random bytes as 128 hex digits.
pub fn secret() -> String {
    let bytes: [u8; 64] = rand::random();
    hex::encode(bytes)
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
