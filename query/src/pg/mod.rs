//! The PostgreSQL wire-protocol server (`auditfed serve sql`): psql,
//! psycopg, DBeaver, Metabase, Power BI and Excel connect to the archives
//! as to a PostgreSQL database.
//!
//! Built on `datafusion-postgres` (pgwire + DataFusion, with a `pg_catalog`
//! for the catalog queries clients send on connect). Authentication is
//! PostgreSQL's MD5 password exchange against the configured user and
//! password (the password may be a long random token); anonymous access
//! only when explicitly asked for. Read-only ([`ReadOnlyHook`]). TLS with a PEM certificate and key
//! ([`Tls`]), checked before the server starts.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::auth::md5pass::{
    Md5PasswordAuthStartupHandler, hash_md5_password,
};
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::{ClientInfo, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::pgwire::tokio::tokio_rustls::rustls;
use datafusion_postgres::{DfSessionService, ServerOptions, serve_with_handlers};
use futures::Sink;

use crate::QueryError;

mod read_only;

pub use read_only::{ReadOnlyHook, reads_only};

/// Who may connect.
#[derive(Clone)]
pub enum Access {
    /// One user with a password (or token).
    Password {
        /// The user name clients log in with.
        user: String,
        /// Its password.
        password: String,
    },
    /// Anyone, without a password: only when explicitly asked for.
    Anonymous,
}

impl Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Password { user, .. } => write!(f, "Password {{ user: {user:?}, .. }}"),
            Access::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// TLS for the server: a PEM certificate (chain) and its PKCS#8 key.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key (`-----BEGIN PRIVATE KEY-----`).
    pub key: PathBuf,
}

impl Tls {
    /// Loads both files and builds the TLS configuration, as the server
    /// will. The server library falls back to plain text when that fails,
    /// so this check is what keeps a bad certificate from silently
    /// disabling encryption: [`serve`] calls it before it listens.
    pub fn check(&self) -> Result<(), QueryError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let err = |what: &Path, e: &dyn std::fmt::Display| {
            QueryError::Server(format!("TLS: {}: {e}", what.display()))
        };
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| err(&self.cert, &e))?;
        if certs.is_empty() {
            return Err(err(
                &self.cert,
                &"no PEM certificate (BEGIN CERTIFICATE) in the file",
            ));
        }
        let key = PrivatePkcs8KeyDer::from_pem_file(&self.key).map_err(|e| {
            err(
                &self.key,
                &format!("{e}: expected a PKCS#8 key (BEGIN PRIVATE KEY); convert with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8`"),
            )
        })?;
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key.into())
            .map_err(|e| {
                err(
                    &self.cert,
                    &format!("{e} (does the key belong to this certificate?)"),
                )
            })?;
        Ok(())
    }
}

/// Serves `ctx` on `listen` until the process ends; with `tls`, clients may
/// (and with `sslmode=require` must) encrypt; `tls` is checked
/// ([`Tls::check`]) before anything listens.
pub async fn serve(
    ctx: SessionContext,
    listen: SocketAddr,
    access: Access,
    tls: Option<Tls>,
) -> Result<(), QueryError> {
    setup_pg_catalog(&ctx, "auditfed", Arc::new(AuthManager::default()))
        .map_err(|e| QueryError::Sql(format!("pg_catalog: {e}")))?;
    let handlers = Handlers {
        // The read-only check first, then the library's own hooks.
        session: Arc::new(DfSessionService::new_with_hooks(
            Arc::new(ctx),
            vec![
                Arc::new(ReadOnlyHook),
                Arc::new(CursorStatementHook),
                Arc::new(SetShowHook),
                Arc::new(TransactionStatementHook),
            ],
        )),
        access: Arc::new(access),
        require_tls: tls.is_some(),
    };
    let mut options = ServerOptions::new()
        .with_host(listen.ip().to_string())
        .with_port(listen.port());
    if let Some(tls) = tls {
        tls.check()?;
        options = options
            .with_tls_cert_path(Some(tls.cert.display().to_string()))
            .with_tls_key_path(Some(tls.key.display().to_string()));
    }
    serve_with_handlers(Arc::new(handlers), &options)
        .await
        .map_err(|e| QueryError::Server(format!("cannot serve on {listen}: {e}")))
}

struct Handlers {
    session: Arc<DfSessionService>,
    access: Arc<Access>,
    /// With TLS configured, plain-text connections are refused (as
    /// PostgreSQL's `hostssl`): credentials never cross the network in clear.
    require_tls: bool,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.session.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.session.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        // One handler per connection: the MD5 handler keeps the salted
        // password of its own login.
        let auth = match self.access.as_ref() {
            Access::Password { .. } => Auth::Md5(Md5PasswordAuthStartupHandler::new(
                Arc::new(Credentials(self.access.clone())),
                Arc::new(DefaultServerParameterProvider::default()),
            )),
            Access::Anonymous => Auth::Anonymous(AnonymousStartup),
        };
        Arc::new(Startup {
            auth,
            require_tls: self.require_tls,
        })
    }
}

#[derive(Debug)]
struct Credentials(Arc<Access>);

#[async_trait]
impl AuthSource for Credentials {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let Access::Password { user, password } = self.0.as_ref() else {
            unreachable!("credentials only with password access")
        };
        let mut salt = [0u8; 4];
        getrandom(&mut salt);
        // An unknown user gets a salted hash no password matches, so the
        // answer does not tell which user names exist.
        let given = login.user().unwrap_or_default();
        let secret = if given == user {
            hash_md5_password(user, password, &salt)
        } else {
            format!("no such user {}", rand_hex())
        };
        Ok(Password::new(Some(salt.to_vec()), secret.into_bytes()))
    }
}

fn getrandom(buf: &mut [u8]) {
    use rand_core::RngCore;
    rand_core::OsRng.fill_bytes(buf);
}

fn rand_hex() -> String {
    let mut b = [0u8; 16];
    getrandom(&mut b);
    hex::encode(b)
}

struct AnonymousStartup;

impl NoopStartupHandler for AnonymousStartup {}

enum Auth {
    Md5(Md5PasswordAuthStartupHandler<Credentials, DefaultServerParameterProvider>),
    Anonymous(AnonymousStartup),
}

struct Startup {
    auth: Auth,
    require_tls: bool,
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.require_tls
            && !client.is_secure()
            && matches!(message, PgWireFrontendMessage::Startup(_))
        {
            return Err(PgWireError::UserError(Box::new(tls_required())));
        }
        match &self.auth {
            Auth::Md5(h) => h.on_startup(client, message).await,
            Auth::Anonymous(h) => h.on_startup(client, message).await,
        }
    }
}

/// The error a plain-text client gets from a server with TLS.
pub fn tls_required() -> ErrorInfo {
    ErrorInfo::new(
        "FATAL".into(),
        "28000".into(),
        "this server requires TLS: connect with sslmode=require (or verify-full)".into(),
    )
}

/// The error clients see for a failed login (also used in tests).
pub fn auth_failed(user: &str) -> ErrorInfo {
    ErrorInfo::new(
        "FATAL".into(),
        "28P01".into(),
        format!("password authentication failed for user \"{user}\""),
    )
}
