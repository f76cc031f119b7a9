//! `imbrex serve`: bind, serve, shut down gracefully on SIGINT/SIGTERM.

use anyhow::Context;
use imbrex_server::{AppState, Config};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let connections = imbrex_server::listen::Connections {
        max_connections: config.limits.max_connections,
        header_read_timeout: std::time::Duration::from_secs(config.limits.header_read_timeout_s.max(1)),
        grace: std::time::Duration::from_secs(30),
    };
    let state = AppState::new(config).context("loading configuration")?.connect_database().await.context("database")?;
    let app = imbrex_server::app(state);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "imbrex listening; open http://{local}/ in a browser");
    imbrex_server::listen::serve(listener, app, connections, shutdown_signal()).await?;
    tracing::info!("imbrex stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
