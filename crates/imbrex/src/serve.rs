//! `imbrex serve`: bind, serve, shut down gracefully on SIGINT/SIGTERM.

use anyhow::Context;
use imbrex_server::{AppState, Config};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = AppState::new(config).context("loading configuration")?.connect_database().await.context("database")?;
    let app = imbrex_server::app(state);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "imbrex listening; open http://{local}/ in a browser");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
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
