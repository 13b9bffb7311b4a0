use std::process::ExitCode;

use clap::Parser as _;
use vibecoding::cli::{self, Cli, Command, ServeArgs};
use vibecoding::config::Settings;
use vibecoding::telemetry;

/// mimalloc instead of the system allocator: a GraphQL response is thousands of small
/// allocations freed on another thread, where glibc's arenas contend (measured with
/// `make bench`, see the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Two TLS crypto providers are linked in; pick one before any TLS client starts.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    // Platforms that replace the image's entrypoint as well as its command run
    // `vibecoding vibecoding serve`; the repeated name is dropped so either way works.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "vibecoding") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    if let Command::Schema(args) = &command {
        return cli::schema(args);
    }
    if let Command::Secret = &command {
        println!("{}", cli::secret());
        return ExitCode::SUCCESS;
    }

    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Serve(args) = &command {
        settings.port = args.port.unwrap_or(settings.port);
        settings.host = args.host.unwrap_or(settings.host);
        if args.worker || args.no_worker {
            settings.jobs.embedded = Some(args.worker);
        }
    }
    if let Command::Config = command {
        println!("{:#}", settings.redacted_json());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = settings.validate() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }

    // Sentry first, before the runtime, so it sees panics on every thread.
    let _sentry = telemetry::init_sentry(&settings);
    // 8 MiB stacks: an unoptimised build polls deep async state machines with all their
    // locals on the stack (see .cargo/config.toml); untouched pages cost nothing.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logs_to_stderr = matches!(
        command,
        Command::Admin(_)
            | Command::Jobs(_)
            | Command::Search(_)
            | Command::Migrate(_)
            | Command::Seed(_)
            | Command::Check { .. }
            | Command::Smoke(_)
    );
    let result = runtime.block_on(async {
        telemetry::init_tracing(&settings, logs_to_stderr);
        cli::run(command, settings).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "stopped with an error");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
