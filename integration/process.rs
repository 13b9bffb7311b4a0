//! The `vibecoding` binary as a child process: one command with a clean environment, one
//! harness for servers and workers (output captured, killed when the test ends).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_vibecoding");

/// The binary with a clean environment: none of the variables it reads are inherited.
pub fn vibecoding() -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars() {
        if vibecoding::config::TOP_LEVEL_ENV.contains(&key.as_str())
            || key.starts_with("VIBECODING_")
            || key == "RAILS_ENV"
            || key == "RUST_LOG"
        {
            command.env_remove(key);
        }
    }
    command
}

/// Runs a command to its end: its exit code, stdout and stderr.
pub fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A `vibecoding` process (server or worker) on a free port; killed if the test fails.
pub struct Process {
    child: Child,
    port: u16,
    output: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Process {
    /// Starts `vibecoding <subcommand>` in the test environment on a free port, with its
    /// own Redis key prefix, its output captured; `configure` adds to its environment.
    pub fn start(subcommand: &str, configure: impl FnOnce(&mut Command)) -> Self {
        Self::start_on(subcommand, free_port(), configure)
    }

    /// [`Process::start`] on a chosen port.
    pub fn start_on(subcommand: &str, port: u16, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = vibecoding();
        command
            .arg(subcommand)
            .env("APP_ENV", "test")
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("LOG_FORMAT", "json")
            // Its own Redis keys: rate-limit counters never leak between tests or runs.
            .env(
                "VIBECODING_REDIS__KEY_PREFIX",
                format!("test:{}:", uuid::Uuid::new_v4().simple()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().unwrap();
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Self {
            child,
            port,
            output,
        }
    }

    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if client
                .get(self.url("/api/v1/health_checks/app"))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not start:\n{}", self.output());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit code once it has exited within `within`, `None` if it is still running.
    pub fn exited_within(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The memory the process holds now, in MB (`VmRSS`).
    pub fn rss_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
            })
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// The exit code; fails the test if it has not exited within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "did not exit in {within:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
