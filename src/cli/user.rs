//! `shelfwarden user ...`: account management from the console (how the first admin is made).

use std::path::Path;

use clap::Subcommand;

use super::{process_env, read_password_stdin};
use crate::accounts;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::model::UserType;
use crate::server;
use crate::store::users;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        name: String,
        /// Make the user an administrator (the first admin becomes root).
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password (read from standard input); ends all their sessions.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: their sessions, tokens and API keys stop working at once.
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Delete a user and everything that is theirs.
    Delete { name: String },
}

pub fn run(data: &Path, cmd: UserCommand) -> anyhow::Result<()> {
    let config = Config::load(data, None, &process_env())?;
    let store = server::open_store(data)?;
    let now = SystemClock.now_ms();
    match cmd {
        UserCommand::Add { name, admin, .. } => {
            let password = read_password_stdin()?;
            let user_type = if admin {
                let has_root = store.read_blocking(users::has_root)?;
                if has_root {
                    UserType::Admin
                } else {
                    UserType::Root
                }
            } else {
                UserType::User
            };
            let u =
                accounts::create_user_blocking(&store, &config, &name, &password, user_type, now)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::auth::setup::consume(data);
            println!("created {} ({})", u.username, u.user_type.as_str());
        }
        UserCommand::List => {
            let all = store.read_blocking(users::list)?;
            println!("{:<24} {:<6} {:<8} last seen", "username", "type", "active");
            for u in all {
                let seen = u
                    .last_seen
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:<24} {:<6} {:<8} {seen}",
                    u.username,
                    u.user_type.as_str(),
                    u.is_active
                );
            }
        }
        UserCommand::Passwd { name, .. } => {
            let password = read_password_stdin()?;
            let u = store
                .read_blocking(|c| users::by_username(c, &name))?
                .ok_or_else(|| anyhow::anyhow!("no user named {name}"))?;
            accounts::set_password_blocking(&store, &config, &u.id, &password, None, now)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "password changed for {}; their sessions were ended",
                u.username
            );
        }
        UserCommand::Disable { name } => {
            accounts::set_active_blocking(&store, &name, false, now)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("disabled {name}");
        }
        UserCommand::Enable { name } => {
            accounts::set_active_blocking(&store, &name, true, now)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("enabled {name}");
        }
        UserCommand::Delete { name } => {
            let deleted = store.write_blocking(|tx| match users::by_username(tx, &name)? {
                Some(u) => users::delete(tx, &u.id),
                None => Ok(false),
            })?;
            if !deleted {
                anyhow::bail!("no user named {name}");
            }
            println!("deleted {name}");
        }
    }
    Ok(())
}
