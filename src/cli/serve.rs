//! `auditfed serve sql --listen 127.0.0.1:5433 --user U --password-env VAR [--tls-cert PEM --tls-key PEM]`,
//! or the same from the config's `[sql]`.

use super::Failure;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_query::pg::{Access, Tls, serve};
use auditfed_query::sql::{register_coverage, register_receipts, session};
use auditfed_schemas::config::SqlConfig;

use super::service::load_config;
use super::sql::archives;

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
    /// Address to listen on (default: `sql.listen` of --config, else 127.0.0.1:5433).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The user clients log in as (default: `sql.user`).
    #[arg(long)]
    user: Option<String>,
    /// Its password (or a long random token). Prefer --password-env or
    /// `sql.password = "${VAR}"`: a command line is visible to other local users.
    #[arg(long)]
    password: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Let anyone connect without a password (only on a trusted network).
    #[arg(long)]
    allow_anonymous: bool,
    /// PEM certificate for TLS (default: `sql.tls_cert`); with --tls-key.
    #[arg(long, value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// PEM (PKCS#8) private key of --tls-cert (default: `sql.tls_key`).
    #[arg(long, value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Archives, `DIR`, `URL` or `NAME=DIR|URL`, repeatable (default: the
    /// config's `sql.archives`, else its `archive.path`, else ./auditfed-data/archive).
    #[arg(long)]
    archive: Vec<String>,
    /// The configuration file (`[sql]` and `[archive]`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The sinks' delivery receipts (`receipts` table, `undelivered` view):
    /// a directory or URL. Default: `archive.receipts_path` of --config.
    #[arg(long)]
    receipts: Option<String>,
    /// The API pollers' coverage (`coverage` table, `coverage_gaps` view):
    /// a directory or URL. Default: `archive.coverage_path` of --config.
    #[arg(long)]
    coverage: Option<String>,
}

/// Flags first, then the config's `[sql]`.
fn access(args: &SqlArgs, sql: &SqlConfig) -> Result<Access, String> {
    let password =
        match (&args.password, &args.password_env) {
            (Some(p), None) => Some(p.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                format!("--password-env {var}: the environment variable is not set")
            })?),
            (None, None) => None,
            (Some(_), Some(_)) => return Err("give --password or --password-env, not both".into()),
        };
    let flags_given = args.user.is_some() || password.is_some() || args.allow_anonymous;
    let (user, password, anonymous) = if flags_given {
        (args.user.clone(), password, args.allow_anonymous)
    } else {
        (sql.user.clone(), sql.password.clone(), sql.allow_anonymous)
    };
    match (user, password, anonymous) {
        (Some(user), Some(password), false) if !password.is_empty() => {
            Ok(Access::Password { user, password })
        }
        (None, None, true) => Ok(Access::Anonymous),
        (_, _, true) => Err("--allow-anonymous cannot be combined with --user/--password".into()),
        _ => Err("the server needs --user and --password (or --password-env), or sql.user and sql.password in the config; anonymous access only with --allow-anonymous".into()),
    }
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let Server::Sql(args) = args.server;
    let config = load_config(args.config.as_deref())?;
    let access = access(&args, &config.sql)?;
    let listen = match args.listen {
        Some(listen) => listen,
        None => config
            .sql
            .listen
            .parse()
            .map_err(|_| format!("sql.listen {:?}: not an address", config.sql.listen))?,
    };
    let tls = match (
        args.tls_cert.or(config.sql.tls_cert.clone()),
        args.tls_key.or(config.sql.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(Tls { cert, key }),
        (None, None) => None,
        _ => {
            return Err("TLS needs both a certificate (--tls-cert) and its key (--tls-key)".into());
        }
    };
    let archives = archives(&args.archive, &config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ctx = session(&archives).await?;
        if let Some(receipts) = args.receipts.as_ref().or(config.archive.receipts_path.as_ref()) {
            register_receipts(&ctx, receipts)
                .await
                ?;
        }
        if let Some(coverage) = args.coverage.as_ref().or(config.archive.coverage_path.as_ref()) {
            register_coverage(&ctx, coverage)
                .await
                ?;
        }
        let who = match &access {
            Access::Password { user, .. } => format!("user {user}, password required"),
            Access::Anonymous => "ANONYMOUS access".into(),
        };
        let sslmode = if tls.is_some() { " sslmode=require" } else { "" };
        eprintln!(
            "auditfed: PostgreSQL protocol on {listen} ({who}, {}); try: psql \"host={} port={} user=<user> dbname=auditfed{sslmode}\" -c \"SELECT count(*) FROM events\"",
            if tls.is_some() { "TLS" } else { "no TLS" },
            listen.ip(),
            listen.port()
        );
        serve(ctx, listen, access, tls).await
    })?;
    Ok(ExitCode::SUCCESS)
}
