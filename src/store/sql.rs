//! The two SQL engines behind one small interface: the embedded SQLite file (the default) and
//! a PostgreSQL server that several instances share. Every decision the store takes — which
//! copy, which story, what is kept — is written once over this interface; only the SQL text
//! differs, and only where the engines do (full-text search, the schema, locking).
//!
//! Statements are written in SQLite's dialect with numbered parameters (`?1`) or bare ones
//! (`?`); for PostgreSQL they become `$1`, `$2`…, numbered as SQLite numbers them.

use std::cell::RefCell;

use postgres::types::ToSql;

use super::StoreError;

mod postgres_client;
mod values;

use postgres_client::Prepared;
pub(super) use postgres_client::{postgres_config, Postgres};
pub(super) use values::{args, Column, Row, Value};

/// Which engine a statement runs on, where the SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Picks the statement written for this engine.
    pub(super) fn pick<'s>(self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }
}

/// Whether to go on reading rows.
#[derive(PartialEq, Eq)]
pub(super) enum Flow {
    More,
    Enough,
}

/// What runs statements: a connection, or a transaction on one.
pub(super) trait Sql {
    fn dialect(&self) -> Dialect;

    /// Runs one statement; returns how many rows it changed.
    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError>;

    /// Runs several statements without parameters, one after another.
    fn batch(&self, sql: &str) -> Result<(), StoreError>;

    /// Runs a query and hands each row to `each` until it says [`Flow::Enough`]. Rows are
    /// read as they come, so stopping early reads no more of them; `each` must not run
    /// statements of its own.
    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<Flow, StoreError>,
    ) -> Result<(), StoreError>;

    /// Reads every row of a query, each made into a `T` by `read`.
    fn rows<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        mut read: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError>
    where
        Self: Sized,
    {
        let mut found = Vec::new();
        self.each_row(sql, params, &mut |row| {
            found.push(read(row)?);
            Ok(Flow::More)
        })?;
        Ok(found)
    }

    /// Reads the first row of a query made into a `T` by `read`, if there is one.
    fn first<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        read: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError>
    where
        Self: Sized,
    {
        let mut read = Some(read);
        let mut found = None;
        self.each_row(sql, params, &mut |row| {
            if let Some(read) = read.take() {
                found = Some(read(row)?);
            }
            Ok(Flow::Enough)
        })?;
        Ok(found)
    }

    /// Reads the single value a query such as `SELECT count(*)` gives.
    fn value<T: Column>(&self, sql: &str, params: &[Value<'_>]) -> Result<T, StoreError>
    where
        Self: Sized,
    {
        self.first(sql, params, |row| row.get(0))?
            .ok_or(StoreError::NoRow)
    }
}

fn postgres_params<'v>(params: &'v [Value<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn postgres_execute(
    client: &mut impl postgres::GenericClient,
    prepared: &mut Prepared,
    sql: &str,
    params: &[Value<'_>],
) -> Result<u64, StoreError> {
    let statement = prepared.get(client, sql)?;
    Ok(client.execute(&statement, &postgres_params(params))?)
}

fn sqlite_execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value<'_>],
) -> Result<u64, StoreError> {
    let changed = conn
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(changed as u64)
}

/// Runs `each` over the rows of `sql` on a PostgreSQL client or transaction.
fn postgres_each_row(
    client: &mut impl postgres::GenericClient,
    prepared: &mut Prepared,
    sql: &str,
    params: &[Value<'_>],
    each: &mut dyn FnMut(&Row<'_>) -> Result<Flow, StoreError>,
) -> Result<(), StoreError> {
    use postgres::fallible_iterator::FallibleIterator;
    let statement = prepared.get(client, sql)?;
    let mut rows = client.query_raw(&statement, postgres_params(params))?;
    while let Some(row) = rows.next()? {
        if each(&Row::Postgres(&row))? == Flow::Enough {
            break;
        }
    }
    Ok(())
}

fn sqlite_each_row(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value<'_>],
    each: &mut dyn FnMut(&Row<'_>) -> Result<Flow, StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        if each(&Row::Sqlite(row))? == Flow::Enough {
            break;
        }
    }
    Ok(())
}

/// One connection to the store's database.
pub(super) enum Connection {
    Sqlite(rusqlite::Connection),
    /// In a cell because the client needs `&mut` to run anything, and the store's code runs
    /// statements through `&` as it does on SQLite; nothing runs a statement inside another's
    /// row loop (see [`Sql::each_row`]), so it is never borrowed twice.
    Postgres(Box<RefCell<Postgres>>),
}

/// The key of the transaction-scoped advisory lock that every write to a PostgreSQL store
/// takes first: writes are one at a time across every instance, as they are on SQLite, so
/// that rows are committed in the order of their `rowid` and dedup decides each new item
/// having seen every item committed before it.
const WRITE_LOCK: i64 = 0x7472_6962_7574_6172; // "tributar"

impl Connection {
    /// Begins a transaction that holds the store's one write lock from its start: SQLite's
    /// `BEGIN IMMEDIATE`, or PostgreSQL's advisory lock [`WRITE_LOCK`].
    pub(super) fn write_transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        match self {
            Connection::Sqlite(conn) => Ok(Transaction::Sqlite(
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
            )),
            Connection::Postgres(cell) => {
                let (client, prepared) = cell.get_mut().parts()?;
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
                Ok(Transaction::Postgres(RefCell::new(PostgresTransaction {
                    tx,
                    prepared,
                })))
            }
        }
    }

    /// Begins a transaction that writes only rows it locks itself (a lease): on SQLite the
    /// store's one write lock all the same, on PostgreSQL no lock beyond the rows', and no
    /// wait for its commit to reach the disk — a lease lost to a crash of the server costs at
    /// most one poll asked twice, while the wait was most of what a claim cost.
    pub(super) fn claim_transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        match self {
            Connection::Sqlite(_) => self.write_transaction(),
            Connection::Postgres(cell) => {
                let (client, prepared) = cell.get_mut().parts()?;
                let mut tx = client.transaction()?;
                tx.batch_execute("SET LOCAL synchronous_commit = off")?;
                Ok(Transaction::Postgres(RefCell::new(PostgresTransaction {
                    tx,
                    prepared,
                })))
            }
        }
    }

    /// Returns the SQLite connection, for what only SQLite has (pragmas, checkpoints, the progress
    /// handler); `None` on PostgreSQL.
    pub(super) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Connection::Sqlite(conn) => Some(conn),
            Connection::Postgres(_) => None,
        }
    }
}

impl Sql for Connection {
    fn dialect(&self) -> Dialect {
        match self {
            Connection::Sqlite(_) => Dialect::Sqlite,
            Connection::Postgres(_) => Dialect::Postgres,
        }
    }

    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        match self {
            Connection::Sqlite(conn) => sqlite_execute(conn, sql, params),
            Connection::Postgres(cell) => {
                let mut postgres = cell.borrow_mut();
                let (client, prepared) = postgres.parts()?;
                postgres_execute(client, prepared, sql, params)
            }
        }
    }

    fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Connection::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Connection::Postgres(cell) => Ok(cell.borrow_mut().parts()?.0.batch_execute(sql)?),
        }
    }

    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<Flow, StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Connection::Sqlite(conn) => sqlite_each_row(conn, sql, params, each),
            Connection::Postgres(cell) => {
                let mut postgres = cell.borrow_mut();
                let (client, prepared) = postgres.parts()?;
                postgres_each_row(client, prepared, sql, params, each)
            }
        }
    }
}

/// A PostgreSQL transaction and its connection's prepared statements.
pub(super) struct PostgresTransaction<'c> {
    tx: postgres::Transaction<'c>,
    prepared: &'c mut Prepared,
}

/// A transaction on either engine; dropped without [`Transaction::commit`], it rolls back.
pub(super) enum Transaction<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres(RefCell<PostgresTransaction<'c>>),
}

impl Transaction<'_> {
    /// Runs `insert`, an `INSERT` of one row, and returns the row's rowid. On SQLite it is the
    /// connection's last insert rowid: a `RETURNING` clause makes SQLite keep a statement
    /// journal of every page the insert changes. On PostgreSQL, `RETURNING rowid` says it.
    pub(super) fn insert_row(&self, insert: &str, args: &[Value<'_>]) -> Result<i64, StoreError> {
        match self {
            Transaction::Sqlite(tx) => {
                self.execute(insert, args)?;
                Ok(tx.last_insert_rowid())
            }
            Transaction::Postgres(_) => self.value(&format!("{insert} RETURNING rowid"), args),
        }
    }

    pub(super) fn commit(self) -> Result<(), StoreError> {
        match self {
            Transaction::Sqlite(tx) => Ok(tx.commit()?),
            Transaction::Postgres(cell) => Ok(cell.into_inner().tx.commit()?),
        }
    }

    /// Tells whether the engine already ended the transaction (SQLite does on a full disk or an I/O
    /// error): nothing more of it can be kept. PostgreSQL keeps a failed transaction open
    /// until it is rolled back, so there it never has.
    pub(super) fn ended(&self) -> bool {
        match self {
            Transaction::Sqlite(tx) => tx.is_autocommit(),
            Transaction::Postgres(_) => false,
        }
    }
}

impl Sql for Transaction<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            Transaction::Sqlite(_) => Dialect::Sqlite,
            Transaction::Postgres(_) => Dialect::Postgres,
        }
    }

    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        match self {
            Transaction::Sqlite(tx) => sqlite_execute(tx, sql, params),
            Transaction::Postgres(cell) => {
                let PostgresTransaction { tx, prepared } = &mut *cell.borrow_mut();
                postgres_execute(tx, prepared, sql, params)
            }
        }
    }

    fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Transaction::Sqlite(tx) => Ok(tx.execute_batch(sql)?),
            Transaction::Postgres(cell) => Ok(cell.borrow_mut().tx.batch_execute(sql)?),
        }
    }

    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<Flow, StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Transaction::Sqlite(tx) => sqlite_each_row(tx, sql, params, each),
            Transaction::Postgres(cell) => {
                let PostgresTransaction { tx, prepared } = &mut *cell.borrow_mut();
                postgres_each_row(tx, prepared, sql, params, each)
            }
        }
    }
}
