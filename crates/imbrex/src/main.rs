//! `imbrex`: a dynamic map tile server in one binary.

mod cli;
mod config;
mod info;
mod logging;
mod mosaic;
mod seed;
mod serve;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Serve(args) => {
            let config = config::load(&args)?;
            logging::init(config.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve::run(config))
        }
        cli::Command::Info(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(info::run(args))
        }
        cli::Command::Mosaic(action) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            match action {
                cli::MosaicAction::Create(args) => runtime.block_on(mosaic::create(args)),
                cli::MosaicAction::Info(args) => runtime.block_on(mosaic::info(args)),
            }
        }
        cli::Command::Seed(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(seed::seed(*args))
        }
        cli::Command::Pmtiles(cli::PmtilesAction::Merge(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(seed::merge(args))
        }
        cli::Command::Tms(args) => cli::tms(args),
        cli::Command::Db(args) => db(args),
    }
}

/// `imbrex db ...`.
fn db(args: cli::DbArgs) -> anyhow::Result<()> {
    use imbrex_vector::db::{INSTALL_ROW_TRIGGERS, INSTALL_TRIGGERS, UNINSTALL_TRIGGERS, execute};
    let install = format!("{INSTALL_TRIGGERS}{INSTALL_ROW_TRIGGERS}");
    let (sql, done) = match args.action {
        cli::DbAction::TriggersSql => {
            print!("{}", install.trim_start());
            return Ok(());
        }
        cli::DbAction::InstallTriggers => (
            install.as_str(),
            "triggers installed: DDL and row changes of tables with a geometry column now notify imbrex",
        ),
        cli::DbAction::UninstallTriggers => (UNINSTALL_TRIGGERS, "triggers removed"),
    };
    let url = args.database_url.ok_or_else(|| anyhow::anyhow!("--database-url (or DATABASE_URL) is required"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(execute(&url, sql))?;
    println!("{done}");
    Ok(())
}
