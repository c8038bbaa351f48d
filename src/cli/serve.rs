//! `shelfwarden serve`.

use std::path::Path;

use super::{ServeArgs, process_env};
use crate::config::Config;
use crate::server;

pub fn load_config(data: &Path, args: &ServeArgs) -> anyhow::Result<Config> {
    let config = load_config_unvalidated(data, args)?;
    config.validate()?;
    Ok(config)
}

/// The layers and the flags, not yet validated: `doctor` judges a configuration even when the
/// server would refuse it.
pub fn load_config_unvalidated(data: &Path, args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load_unvalidated(data, args.config.as_deref(), &process_env())?;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    config.libraries.extend(args.libraries.iter().cloned());
    apply_tls_args(&mut config, args);
    Ok(config)
}

fn apply_tls_args(config: &mut Config, args: &ServeArgs) {
    if let Some(tls) = &args.tls {
        config.tls = tls.clone();
    }
    if args.tls_cert.is_some() {
        config.tls_cert = args.tls_cert.clone();
    }
    if args.tls_key.is_some() {
        config.tls_key = args.tls_key.clone();
    }
    config.insecure_http |= args.insecure_http;
    config.behind_proxy |= args.behind_proxy;
    if args.redirect_port.is_some() {
        config.redirect_port = args.redirect_port;
    }
    if let Some(age) = args.hsts_max_age {
        config.hsts_max_age = age;
    }
    if !args.acme_domains.is_empty() {
        config.acme_domains = args.acme_domains.clone();
    }
    if args.acme_email.is_some() {
        config.acme_email = args.acme_email.clone();
    }
    if args.acme_directory.is_some() {
        config.acme_directory = args.acme_directory.clone();
    }
    config.acme_staging |= args.acme_staging;
    if args.acme_ca_root.is_some() {
        config.acme_ca_root = args.acme_ca_root.clone();
    }
}

pub fn run(data: &Path, args: ServeArgs) -> anyhow::Result<()> {
    server::refuse_root(args.allow_root)?;
    let config = load_config(data, &args)?;
    server::init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let (state, socket_layers) = server::build_state(config, data.to_path_buf())?;
        server::announce_setup(&state)?;
        server::start_background(&state)?;
        crate::release::spawn(&state.config);
        server::serve(state, socket_layers).await
    })
}
