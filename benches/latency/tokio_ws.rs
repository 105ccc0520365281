//! What a Bitget trader would write instead: tokio, tokio-tungstenite over rustls, serde_json for
//! the request and the reply, a tokio mpsc channel from the strategy thread into the runtime and
//! a std channel back. Written the idiomatic way: one task writes, one task reads.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::{self, JoinHandle};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

use super::server::Server;
use super::workload::{BenchError, BenchResult, Contender, Trip, WireSource};

/// What the strategy asks for.
#[derive(Debug)]
struct CancelOrder {
    id: u64,
    inst_id: String,
    order_id: String,
}

/// What comes back.
#[derive(Debug)]
struct CancelResult {
    id: u64,
    code: i64,
    msg: String,
}

#[derive(Serialize)]
struct Request<'a> {
    op: &'a str,
    args: Vec<RequestArg>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestArg {
    id: String,
    inst_type: String,
    inst_id: String,
    channel: String,
    params: Params,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    order_id: String,
}

#[derive(Deserialize)]
struct Reply {
    event: String,
    #[serde(default)]
    arg: Vec<ReplyArg>,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
}

#[derive(Deserialize)]
struct ReplyArg {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginArg<'a> {
    api_key: &'a str,
    passphrase: &'a str,
    timestamp: &'a str,
    sign: &'a str,
}

/// The tokio contender.
pub struct TokioWs {
    name: &'static str,
    runtime_core: Option<usize>,
    orders: Option<mpsc::Sender<CancelOrder>>,
    results: std_mpsc::Receiver<CancelResult>,
    runtime: Option<JoinHandle<()>>,
}

async fn session(
    url: String,
    tls: Arc<rustls::ClientConfig>,
    mut orders: mpsc::Receiver<CancelOrder>,
    results: std_mpsc::Sender<CancelResult>,
    ready: std_mpsc::Sender<Result<(), BenchError>>,
) -> Result<(), BenchError> {
    let connected =
        connect_async_tls_with_config(url, None, true, Some(Connector::Rustls(tls))).await;
    let (ws, _) = match connected {
        Ok(ok) => ok,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return Ok(());
        }
    };
    let (mut sink, mut stream) = ws.split();

    let login = serde_json::json!({
        "op": "login",
        "args": [LoginArg {
            api_key: "bench-key",
            passphrase: "bench-pass",
            timestamp: "1538054050",
            sign: "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",
        }],
    });
    sink.send(Message::Text(login.to_string().into())).await?;
    while let Some(msg) = stream.next().await {
        if let Message::Text(text) = msg? {
            let reply: Reply = serde_json::from_str(&text)?;
            if reply.event == "login" && reply.code == 0 {
                break;
            }
            let _ = ready.send(Err(format!("login refused: {text}").into()));
            return Ok(());
        }
    }
    let _ = ready.send(Ok(()));

    let writer = tokio::spawn(async move {
        while let Some(order) = orders.recv().await {
            let request = Request {
                op: "trade",
                args: vec![RequestArg {
                    id: order.id.to_string(),
                    inst_type: "SPOT".to_string(),
                    inst_id: order.inst_id,
                    channel: "cancel-order".to_string(),
                    params: Params {
                        order_id: order.order_id,
                    },
                }],
            };
            let text = serde_json::to_string(&request)?;
            sink.send(Message::Text(text.into())).await?;
        }
        sink.close().await?;
        Ok::<_, BenchError>(())
    });

    while let Some(msg) = stream.next().await {
        let text = match msg? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let reply: Reply = serde_json::from_str(&text)?;
        if reply.event != "trade" && reply.event != "error" {
            continue;
        }
        let Some(arg) = reply.arg.first() else {
            continue;
        };
        let result = CancelResult {
            id: arg.id.parse()?,
            code: reply.code,
            msg: reply.msg,
        };
        if results.send(result).is_err() {
            break;
        }
    }
    writer.await??;
    Ok(())
}

impl TokioWs {
    /// Starts the runtime (its thread pinned to `runtime_core`, if given), connects and logs in;
    /// `name` is the name in the report.
    pub fn connect(
        server: &Server,
        name: &'static str,
        runtime_core: Option<usize>,
    ) -> BenchResult<TokioWs> {
        let (orders_tx, orders_rx) = mpsc::channel(1024);
        let (results_tx, results_rx) = std_mpsc::channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let url = server.url();
        let tls = server.certs().client_config()?;
        let runtime = thread::Builder::new()
            .name("tokio-runtime".into())
            .spawn(move || {
                if let Some(id) = runtime_core
                    && !core_affinity::set_for_current(core_affinity::CoreId { id })
                {
                    eprintln!("tokio contender: cannot pin the runtime thread to core {id}");
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let ended = rt.block_on(session(url, tls, orders_rx, results_tx, ready_tx));
                if let Err(e) = ended {
                    eprintln!("tokio contender: session ended: {e}");
                }
            })?;
        ready_rx.recv()??;
        Ok(TokioWs {
            name,
            runtime_core,
            orders: Some(orders_tx),
            results: results_rx,
            runtime: Some(runtime),
        })
    }

    fn push(&self, id: u64) -> BenchResult<()> {
        let orders = self.orders.as_ref().ok_or("tokio contender stopped")?;
        orders.blocking_send(CancelOrder {
            id,
            inst_id: "BTCUSDT".to_string(),
            order_id: "1376695893517410304".to_string(),
        })?;
        Ok(())
    }

    fn wait(&self) -> BenchResult<CancelResult> {
        let result = self.results.recv()?;
        if result.code != 0 {
            return Err(format!(
                "cancel {} refused: {} {}",
                result.id, result.code, result.msg
            )
            .into());
        }
        Ok(result)
    }
}

impl Drop for TokioWs {
    fn drop(&mut self) {
        // Closing the order channel ends the writer, which closes the WebSocket.
        self.orders.take();
        if let Some(runtime) = self.runtime.take() {
            let _ = runtime.join();
        }
    }
}

impl Contender for TokioWs {
    fn name(&self) -> &'static str {
        self.name
    }

    fn setup(&self) -> String {
        let runtime = match self.runtime_core {
            Some(core) => format!("pinned to core {core}"),
            None => "unpinned".to_owned(),
        };
        format!(
            "strategy thread (core 0) -> tokio mpsc (blocking_send) -> current-thread runtime on \
             its own thread, {runtime} (writer task + reader task, serde_json both ways) -> std \
             mpsc (blocking recv); TCP_NODELAY"
        )
    }

    fn wire_source(&self) -> WireSource {
        WireSource::ServerReceive
    }

    fn round_trip(&mut self, seq: u64) -> BenchResult<Trip> {
        self.push(seq)?;
        let result = self.wait()?;
        if result.id != seq {
            return Err(format!("expected the outcome of {seq}, got {}", result.id).into());
        }
        Ok(Trip {
            id: seq,
            wire_ns: None,
            write_started_ns: None,
            engine_share_ns: None,
            settled_ns: None,
        })
    }

    fn burst(&mut self, seq: u64, n: usize) -> BenchResult<()> {
        for id in seq..seq + n as u64 {
            self.push(id)?;
        }
        for _ in 0..n {
            self.wait()?;
        }
        Ok(())
    }
}
