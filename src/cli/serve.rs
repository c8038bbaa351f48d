//! `shelfwarden serve`.

use std::path::Path;

use super::{ServeArgs, process_env};
use crate::config::Config;
use crate::server;

pub fn load_config(data: &Path, args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(data, args.config.as_deref(), &process_env())?;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    config.libraries.extend(args.libraries.iter().cloned());
    config.validate()?;
    Ok(config)
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
        server::serve(state, socket_layers).await
    })
}
