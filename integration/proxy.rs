//! A TCP proxy between the server and Postgres or Redis that a test can cut (connections
//! reset, new ones refused) or freeze (connections stay open, nothing moves), to see what
//! the server does when a dependency fails or hangs, then restore.
//!
//! In front of Postgres it also counts the statements the server's request pool sends
//! (simple-query `Q` and extended-protocol `Execute` messages on connections whose
//! `application_name` is `vibecoding`; background loops such as the search index's use
//! pools of their own names), so tests can assert how many statements a request costs.
//! Connections through it must not use TLS (`sslmode=disable`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Down,
    Hang,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    statements: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Up);
        let mode = Arc::new(mode);
        let statements = Arc::new(AtomicU64::new(0));
        let accept_mode = mode.clone();
        let counter = statements.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let rx = accept_mode.subscribe();
                tokio::spawn(handle(client, target, rx, counter.clone()));
            }
        });
        Self {
            addr,
            mode,
            statements,
            task,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Postgres statements sent through the proxy so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Down);
        self.task.abort();
    }
}

async fn handle(
    mut client: TcpStream,
    target: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    counter: Arc<AtomicU64>,
) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Down => {
            let _ = client.shutdown().await;
            return;
        }
        Mode::Hang => {
            let _ = mode.wait_for(|m| *m != Mode::Hang).await;
            return;
        }
        Mode::Up => {}
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, Some(counter), mode.clone());
    let down = pump(server_read, client_write, None, mode.clone());
    let (up, down) = tokio::join!(up, down);
    // A pump hands its socket halves back when the mode leaves Up. Held here, the
    // connection stays open with nothing moving (Hang) until the proxy is cut or restored.
    if up.is_some() || down.is_some() {
        let _ = mode.wait_for(|m| *m != Mode::Hang).await;
    }
}

type Halves = (OwnedReadHalf, OwnedWriteHalf);

/// Copies bytes one way; on the client-to-Postgres side, counts statements.
/// Returns the halves when the mode leaves Up (to hold them open), `None` when the
/// connection ended.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    counter: Option<Arc<AtomicU64>>,
    mut mode: watch::Receiver<Mode>,
) -> Option<Halves> {
    let mut chunk = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut started = false;
    loop {
        let read = tokio::select! {
            read = from.read(&mut chunk) => read,
            changed = mode.wait_for(|m| *m != Mode::Up) => {
                let hang = changed.is_ok_and(|m| *m == Mode::Hang);
                return hang.then_some((from, to));
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        if to.write_all(&chunk[..n]).await.is_err() {
            return None;
        }
        let Some(counter) = &counter else {
            continue;
        };
        pending.extend_from_slice(&chunk[..n]);
        loop {
            if !started {
                // The startup message has no type byte: length, then the protocol code.
                if pending.len() < 8 {
                    break;
                }
                let len =
                    u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
                if pending.len() < len {
                    break;
                }
                let code = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]);
                // SSLRequest and GSSENCRequest come before the real startup message.
                started = code != 80_877_103 && code != 80_877_104;
                if started && application_name(&pending[8..len]) != Some("vibecoding") {
                    return copy_rest(from, to, chunk, mode).await;
                }
                pending.drain(..len);
                continue;
            }
            if pending.len() < 5 {
                break;
            }
            let len = u32::from_be_bytes([pending[1], pending[2], pending[3], pending[4]]) as usize;
            if pending.len() < 1 + len {
                break;
            }
            if matches!(pending[0], b'Q' | b'E') {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            pending.drain(..1 + len);
        }
    }
}

/// The `application_name` among a startup message's `key\0value\0` parameters.
fn application_name(parameters: &[u8]) -> Option<&str> {
    let mut parts = parameters.split(|b| *b == 0);
    while let Some(key) = parts.next() {
        let value = parts.next()?;
        if key == b"application_name" {
            return std::str::from_utf8(value).ok();
        }
    }
    None
}

/// Copies bytes one way without counting anything, as [`pump`] does otherwise.
async fn copy_rest(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut chunk: Vec<u8>,
    mut mode: watch::Receiver<Mode>,
) -> Option<Halves> {
    loop {
        let read = tokio::select! {
            read = from.read(&mut chunk) => read,
            changed = mode.wait_for(|m| *m != Mode::Up) => {
                let hang = changed.is_ok_and(|m| *m == Mode::Hang);
                return hang.then_some((from, to));
            }
        };
        match read {
            Ok(0) | Err(_) => return None,
            Ok(n) => {
                if to.write_all(&chunk[..n]).await.is_err() {
                    return None;
                }
            }
        }
    }
}
