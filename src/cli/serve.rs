//! `auditfed serve sql --listen 127.0.0.1:5433 --user U --password P`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_query::pg::{Access, serve};
use auditfed_query::sql::{Archive, session};

use super::service::load_config;

/// Arguments of `auditfed serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    server: Server,
}

#[derive(Debug, clap::Subcommand)]
enum Server {
    /// A PostgreSQL wire-protocol server over the archives (psql, psycopg,
    /// DBeaver, Metabase, Power BI, Excel): `events` and the audit views.
    Sql(SqlArgs),
}

#[derive(Debug, clap::Args)]
struct SqlArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5433")]
    listen: SocketAddr,
    /// The user clients log in as.
    #[arg(long)]
    user: Option<String>,
    /// Its password (or a long random token). Prefer --password-env: a
    /// command line is visible to other local users.
    #[arg(long)]
    password: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Let anyone connect without a password (only on a trusted network).
    #[arg(long)]
    allow_anonymous: bool,
    /// Archives, `DIR` or `NAME=DIR`, repeatable (default: the config's, else ./auditfed-data/archive).
    #[arg(long)]
    archive: Vec<String>,
    /// The configuration file whose archive to serve.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let Server::Sql(args) = args.server;
    let password =
        match (&args.password, &args.password_env) {
            (Some(p), None) => Some(p.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                format!("--password-env {var}: the environment variable is not set")
            })?),
            (None, None) => None,
            (Some(_), Some(_)) => return Err("give --password or --password-env, not both".into()),
        };
    let access = match (args.user, password, args.allow_anonymous) {
        (Some(user), Some(password), false) if !password.is_empty() => {
            Access::Password { user, password }
        }
        (None, None, true) => Access::Anonymous,
        (_, _, true) => {
            return Err("--allow-anonymous cannot be combined with --user/--password".into());
        }
        _ => {
            return Err("the server needs --user and --password (or --password-env); anonymous access only with --allow-anonymous".into());
        }
    };
    let archives: Vec<Archive> = if args.archive.is_empty() {
        let config = load_config(args.config.as_deref())?;
        vec![Archive::local(
            "local",
            &config.archive.path.display().to_string(),
        )]
    } else {
        args.archive.iter().map(|a| Archive::parse(a)).collect()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let ctx = session(&archives).await.map_err(|e| e.to_string())?;
        let who = match &access {
            Access::Password { user, .. } => format!("user {user}, password required"),
            Access::Anonymous => "ANONYMOUS access".into(),
        };
        eprintln!(
            "auditfed: PostgreSQL protocol on {} ({who}); try: psql \"host={} port={} user=<user> dbname=auditfed\" -c \"SELECT count(*) FROM events\"",
            args.listen,
            args.listen.ip(),
            args.listen.port()
        );
        serve(ctx, args.listen, access)
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok(ExitCode::SUCCESS)
}
