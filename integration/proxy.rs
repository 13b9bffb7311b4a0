//! A TCP proxy between the server and Postgres or Redis that a test can cut (connections
//! reset, new ones refused) or freeze (connections stay open, nothing moves), to see what
//! the server does when a dependency fails or hangs, then restore.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt as _;
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
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Up);
        let mode = Arc::new(mode);
        let accept_mode = mode.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let rx = accept_mode.subscribe();
                tokio::spawn(handle(client, target, rx));
            }
        });
        Self { addr, mode, task }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Down);
        self.task.abort();
    }
}

async fn handle(mut client: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
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
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let changed = async {
        let _ = mode.wait_for(|m| *m != Mode::Up).await;
        *mode.borrow()
    };
    let next = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
        next = changed => next,
    };
    if next == Mode::Hang {
        // Hold both sockets open without forwarding until the proxy is cut or restored.
        let _ = mode.wait_for(|m| *m != Mode::Hang).await;
    }
}
