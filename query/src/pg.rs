//! The PostgreSQL wire-protocol server (`auditfed serve sql`): psql,
//! psycopg, DBeaver, Metabase, Power BI and Excel connect to the archives
//! as to a PostgreSQL database.
//!
//! Built on `datafusion-postgres` (pgwire + DataFusion, with a `pg_catalog`
//! for the catalog queries clients send on connect). Authentication is
//! PostgreSQL's MD5 password exchange against the configured user and
//! password (the password may be a long random token); anonymous access
//! only when explicitly asked for.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
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
use datafusion_postgres::{DfSessionService, ServerOptions, serve_with_handlers};
use futures::Sink;

use crate::QueryError;

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

/// Serves `ctx` on `listen` until the process ends.
pub async fn serve(
    ctx: SessionContext,
    listen: SocketAddr,
    access: Access,
) -> Result<(), QueryError> {
    setup_pg_catalog(&ctx, "auditfed", Arc::new(AuthManager::default()))
        .map_err(|e| QueryError::Sql(format!("pg_catalog: {e}")))?;
    let handlers = Handlers {
        session: Arc::new(DfSessionService::new(Arc::new(ctx))),
        access: Arc::new(access),
    };
    let options = ServerOptions::new()
        .with_host(listen.ip().to_string())
        .with_port(listen.port());
    serve_with_handlers(Arc::new(handlers), &options)
        .await
        .map_err(|e| QueryError::Store(format!("cannot serve on {listen}: {e}")))
}

struct Handlers {
    session: Arc<DfSessionService>,
    access: Arc<Access>,
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
        Arc::new(match self.access.as_ref() {
            Access::Password { .. } => Startup::Md5(Md5PasswordAuthStartupHandler::new(
                Arc::new(Credentials(self.access.clone())),
                Arc::new(DefaultServerParameterProvider::default()),
            )),
            Access::Anonymous => Startup::Anonymous(AnonymousStartup),
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

enum Startup {
    Md5(Md5PasswordAuthStartupHandler<Credentials, DefaultServerParameterProvider>),
    Anonymous(AnonymousStartup),
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
        match self {
            Startup::Md5(h) => h.on_startup(client, message).await,
            Startup::Anonymous(h) => h.on_startup(client, message).await,
        }
    }
}

/// The error clients see for a failed login (also used in tests).
pub fn auth_failed(user: &str) -> ErrorInfo {
    ErrorInfo::new(
        "FATAL".into(),
        "28P01".into(),
        format!("password authentication failed for user \"{user}\""),
    )
}
