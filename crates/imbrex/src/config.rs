//! Configuration layering: defaults < TOML file < environment (`IMBREX_*`) < CLI flags.
//!
//! clap reads flags and their environment variables; figment lays them over the TOML file
//! and the defaults. Unknown TOML keys are rejected by `Config`'s `deny_unknown_fields`.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use imbrex_server::Config;
use serde_json::{Map, Value, json};

use crate::cli::ServeArgs;

/// Build the server configuration from the command line, environment and TOML file.
pub fn load(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &args.config {
        anyhow::ensure!(path.is_file(), "configuration file {} does not exist", path.display());
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Serialized::defaults(overrides(args)?));
    let config: Config = figment.extract().map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(config)
}

/// Only what was given on the command line (or in its environment variables).
fn overrides(args: &ServeArgs) -> anyhow::Result<Value> {
    let mut m = Map::new();
    if let Some(listen) = args.listen {
        m.insert("listen".into(), json!(listen.to_string()));
    }
    if !args.allow_path.is_empty() {
        m.insert("allow_path".into(), json!(args.allow_path));
    }
    if !args.allow_url.is_empty() {
        m.insert("allow_url".into(), json!(args.allow_url));
    }
    if args.allow_private_urls {
        m.insert("allow_private_urls".into(), json!(true));
    }
    if !args.href_rewrite.is_empty() {
        m.insert("href_rewrite".into(), json!(args.href_rewrite));
    }
    if !args.tms.is_empty() {
        m.insert("tms".into(), json!(args.tms));
    }
    if let Some(url) = &args.database_url {
        m.insert("database_url".into(), json!(url));
    }
    if !args.db_schemas.is_empty() {
        m.insert("db".into(), json!({"schemas": args.db_schemas}));
    }
    if let Some(token) = &args.admin_token {
        m.insert("admin_token".into(), json!(token));
    }
    if let Some(root) = &args.root_path {
        m.insert("root_path".into(), json!(root));
    }
    if args.forwarded_headers {
        m.insert("forwarded_headers".into(), json!(true));
    }
    if let Some(url) = &args.public_url {
        m.insert("public_url".into(), json!(url));
    }
    let mut auth = serde_json::Map::new();
    if let Some(v) = &args.auth_jwt_secret {
        auth.insert("jwt_secret".into(), json!(v));
    }
    if let Some(v) = &args.auth_jwt_jwks {
        auth.insert("jwt_jwks".into(), json!(v));
    }
    if let Some(v) = &args.auth_anonymous_role {
        auth.insert("anonymous_role".into(), json!(v));
    }
    if args.auth_required {
        auth.insert("required".into(), json!(true));
    }
    if !auth.is_empty() {
        m.insert("auth".into(), serde_json::Value::Object(auth));
    }
    if args.no_demo {
        m.insert("demo".into(), json!(false));
    }
    if args.no_cors {
        m.insert("cors".into(), json!(false));
    }
    if let Some(v) = &args.tile_cache_url {
        m.insert("tile_cache_url".into(), json!(v));
    }
    if let Some(v) = args.tile_cache_ttl {
        m.insert("tile_cache_ttl_s".into(), json!(v));
    }
    if let Some(v) = args.tile_memory_cache_mb {
        m.insert("tile_memory_cache_mb".into(), json!(v));
    }
    if let Some(v) = args.source_recheck {
        m.insert("source_recheck_s".into(), json!(v));
    }
    if let Some(v) = args.block_cache_mb {
        m.insert("block_cache_mb".into(), json!(v));
    }
    // .pmtiles and .mbtiles files among the paths are archives (by file stem), the rest images.
    let (archives, images): (Vec<_>, Vec<_>) = args.images.iter().partition(|p| {
        p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pmtiles") || e.eq_ignore_ascii_case("mbtiles"))
    });
    if !images.is_empty() {
        m.insert("images".into(), json!(images));
    }
    let mut named = Map::new();
    for p in archives {
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        anyhow::ensure!(!named.contains_key(&stem), "two archives named {stem:?}: name them with --archive NAME=PATH");
        named.insert(stem, json!(p));
    }
    for a in &args.archives {
        let (name, url) = a.split_once('=').ok_or_else(|| anyhow::anyhow!("--archive {a:?} is not NAME=URL"))?;
        named.insert(name.to_string(), json!(url));
    }
    if !named.is_empty() {
        m.insert("archives".into(), Value::Object(named));
    }
    if let Some(v) = args.image_cache_mb {
        m.insert("image_cache_mb".into(), json!(v));
    }
    if let Some(v) = &args.cache_control {
        m.insert("cache_control".into(), json!(v));
    }
    if let Some(format) = args.log_format {
        m.insert("log_format".into(), serde_json::to_value(format).unwrap_or(Value::Null));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn toml_file(text: &str) -> tempfile_lite::NamedFile {
        tempfile_lite::NamedFile::with_contents(text)
    }

    #[test]
    fn layers_defaults_file_and_flags() {
        let file = toml_file("listen = \"0.0.0.0:9000\"\ncors = false\n[limits]\nmax_items_per_page = 50\n");
        let args = ServeArgs { config: Some(file.path.clone()), ..Default::default() };
        let c = load(&args).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert!(!c.cors);
        assert_eq!(c.limits.max_items_per_page, 50);
        assert_eq!(c.limits.max_expression_len, imbrex_server::Limits::default().max_expression_len);

        let args = ServeArgs {
            config: Some(file.path.clone()),
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(load(&args).unwrap().listen.to_string(), "127.0.0.1:7000");
        assert_eq!(load(&args).unwrap().block_cache_mb, 256, "the default budget");
        let args = ServeArgs { config: Some(file.path.clone()), block_cache_mb: Some(0), ..Default::default() };
        assert_eq!(load(&args).unwrap().block_cache_mb, 0);
    }

    #[test]
    fn unknown_keys_are_named() {
        let file = toml_file("listen = \"127.0.0.1:1\"\nlisten_port = 3\n");
        let err = load(&ServeArgs { config: Some(file.path.clone()), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
        let file = toml_file("[limits]\nmax_pixels = 3\n");
        let err = load(&ServeArgs { config: Some(file.path.clone()), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("max_pixels"), "{err}");
    }

    /// A temporary file removed on drop (keeps the test dependency-free).
    mod tempfile_lite {
        use super::Write;
        use std::path::PathBuf;

        pub struct NamedFile {
            pub path: PathBuf,
        }

        impl NamedFile {
            pub fn with_contents(text: &str) -> NamedFile {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "imbrex-config-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
                NamedFile { path }
            }
        }

        impl Drop for NamedFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}
