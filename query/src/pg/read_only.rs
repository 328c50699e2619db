//! The server is read-only: the archive is evidence, and a SQL user must not
//! be able to write files on the server (`COPY … TO`), append to the archive
//! (`INSERT INTO events`) or create objects. Checked on the parsed statement
//! before anything is planned, as an allowlist: what is not known to read
//! is refused with SQLSTATE 25006 (read_only_sql_transaction).

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// Refuses every statement that is not a read (see the module docs).
#[derive(Debug)]
pub struct ReadOnlyHook;

/// Whether `statement` only reads: queries, EXPLAIN of them, SET/SHOW,
/// transactions, cursors and prepared statements over them.
pub fn reads_only(statement: &Statement) -> bool {
    match statement {
        Statement::Query(q) => query_reads_only(q),
        Statement::Explain { statement, .. } | Statement::Prepare { statement, .. } => {
            reads_only(statement)
        }
        // EXECUTE runs a statement that PREPARE already checked.
        Statement::Execute { .. }
        | Statement::Deallocate { .. }
        | Statement::ExplainTable { .. }
        | Statement::Set(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCollation { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. } => true,
        _ => false,
    }
}

/// A query whose body writes (`WITH … INSERT`, `SELECT … INTO t`) is not a read.
fn query_reads_only(query: &Query) -> bool {
    set_expr_reads_only(&query.body)
}

fn set_expr_reads_only(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_none(),
        SetExpr::Query(q) => query_reads_only(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_reads_only(left) && set_expr_reads_only(right)
        }
        SetExpr::Values(_) | SetExpr::Table(_) => true,
        _ => false,
    }
}

fn refuse(statement: &Statement) -> PgWireResult<()> {
    if reads_only(statement) {
        return Ok(());
    }
    let text = statement.to_string();
    let verb = text.split_whitespace().next().unwrap_or_default();
    Err(PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "25006".into(),
        format!(
            "auditfed serves the archive read-only: {verb} … is not allowed (SELECT, EXPLAIN, SHOW, SET and cursors are)"
        ),
    ))))
}

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refuse(statement).err().map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        refuse(statement).err().map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refuse(statement).err().map(Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn check(sql: &str) -> bool {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        statements.iter().all(reads_only)
    }

    #[test]
    fn reads_pass_and_writes_are_refused() {
        for sql in [
            "SELECT count(*) FROM events",
            "WITH a AS (SELECT 1) SELECT * FROM a UNION SELECT 2",
            "EXPLAIN SELECT 1",
            "SHOW search_path",
            "SET application_name = 'psql'",
            "BEGIN",
            "COMMIT",
            "DECLARE c CURSOR FOR SELECT 1",
            "FETCH 10 FROM c",
            "PREPARE p AS SELECT $1",
        ] {
            assert!(check(sql), "{sql} should be allowed");
        }
        for sql in [
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "INSERT INTO events VALUES (1)",
            "WITH a AS (SELECT 1) INSERT INTO events SELECT * FROM a",
            "SELECT 1 INTO t",
            "CREATE TABLE t AS SELECT 1",
            "CREATE VIEW v AS SELECT 1",
            "DROP TABLE events",
            "DELETE FROM events",
            "UPDATE events SET seq = 0",
            "EXPLAIN ANALYZE INSERT INTO events VALUES (1)",
            "PREPARE p AS INSERT INTO events VALUES ($1)",
        ] {
            assert!(!check(sql), "{sql} should be refused");
        }
    }
}
