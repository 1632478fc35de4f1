//! The two SQL engines behind one small interface: the embedded SQLite file (the default) and
//! a PostgreSQL server that several instances share. Every decision the store takes — which
//! copy, which story, what is kept — is written once over this interface; only the SQL text
//! differs, and only where the engines do (full-text search, the schema, locking).
//!
//! Statements are written in SQLite's dialect with numbered parameters (`?1`) or bare ones
//! (`?`); for PostgreSQL they become `$1`, `$2`…, numbered as SQLite numbers them.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type};

use super::StoreError;

/// Which engine a statement runs on, where the SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The statement written for this engine.
    pub(super) fn pick<'s>(self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }
}

/// A value bound to a statement's parameter.
#[derive(Clone, Copy, Debug)]
pub(super) enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bool(bool),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u64> for Value<'_> {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}

impl From<u16> for Value<'_> {
    fn from(v: u16) -> Self {
        Value::Int(v.into())
    }
}

impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of a statement, each turned into a [`Value`].
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::sql::Value::from($value)),*][..]
    };
}
pub(super) use args;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(v),
            Value::Real(v) => ValueRef::Real(v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bool(v) => ValueRef::Integer(v.into()),
        }))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::FLOAT8 => (v as f64).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Real(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT8,
            Type::INT4,
            Type::FLOAT8,
            Type::TEXT,
            Type::VARCHAR,
            Type::BOOL,
        ]
        .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A Rust type a column is read as, from either engine.
pub(super) trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError>;
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError>;
}

/// An integer column of PostgreSQL, whichever width it has (a literal `0` is an `int4`).
fn postgres_int(row: &postgres::Row, index: usize) -> Result<Option<i64>, StoreError> {
    let ty = row.columns().get(index).map(|c| c.type_().clone());
    Ok(match ty {
        Some(Type::INT4) => row.try_get::<_, Option<i32>>(index)?.map(i64::from),
        Some(Type::INT2) => row.try_get::<_, Option<i16>>(index)?.map(i64::from),
        Some(Type::BOOL) => row.try_get::<_, Option<bool>>(index)?.map(i64::from),
        _ => row.try_get::<_, Option<i64>>(index)?,
    })
}

impl Column for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError> {
        postgres_int(row, index)
    }
}

/// Integer columns read as narrower or unsigned Rust types, through `Option<i64>`.
macro_rules! integer_columns {
    ($($ty:ty),*) => {$(
        impl Column for Option<$ty> {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError> {
                Ok(row.get(index)?)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError> {
                postgres_int(row, index)?
                    .map(|v| <$ty>::try_from(v).map_err(|_| StoreError::OutOfRange(index)))
                    .transpose()
            }
        }
    )*};
}
integer_columns!(u64, u32, u16);

impl Column for Option<bool> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError> {
        Ok(postgres_int(row, index)?.map(|v| v != 0))
    }
}

impl Column for Option<f64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(index)?)
    }
}

impl Column for Option<String> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(index)?)
    }
}

/// A column that may not be NULL, read as `T` through `Option<T>`.
macro_rules! required_columns {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError> {
                Ok(row.get(index)?)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError> {
                Option::<$ty>::from_postgres(row, index)?.ok_or(StoreError::Null(index))
            }
        }
    )*};
}
required_columns!(i64, u64, u32, u16, bool, f64, String);

/// One row of a result, from either engine.
pub(super) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// The value of column `index` as a `T`.
    pub(super) fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index),
            Row::Postgres(row) => T::from_postgres(row, index),
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

    /// Every row of a query, each made into a `T` by `read`.
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

    /// The first row of a query made into a `T` by `read`, if there is one.
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

    /// The single value a query such as `SELECT count(*)` gives.
    fn value<T: Column>(&self, sql: &str, params: &[Value<'_>]) -> Result<T, StoreError>
    where
        Self: Sized,
    {
        self.first(sql, params, |row| row.get(0))?
            .ok_or(StoreError::NoRow)
    }
}

/// The statements a PostgreSQL connection has prepared, by their SQLite-dialect text: each is
/// parsed and planned by the server once per connection.
#[derive(Default)]
struct Prepared(HashMap<String, postgres::Statement>);

impl Prepared {
    fn get(
        &mut self,
        client: &mut impl postgres::GenericClient,
        sql: &str,
    ) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(&numbered(sql))?;
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// `sql` with SQLite's parameters (`?1`, `?`) written as PostgreSQL's (`$1`): a bare `?` is
/// one more than the highest number before it, as SQLite counts. Quoted text is left alone.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0u32;
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let number = digits.parse().unwrap_or(highest + 1);
        highest = highest.max(number);
        out.push('$');
        out.push_str(&number.to_string());
    }
    out
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

/// A PostgreSQL client and what it has prepared, connected again when the server closed the
/// connection (a restart, a failover): an outage fails the statements run during it, not
/// every one after.
pub(super) struct Postgres {
    config: postgres::Config,
    /// `None` once dropped, or while the server cannot be reached (the next use tries again).
    client: Option<postgres::Client>,
    prepared: Prepared,
}

impl Postgres {
    pub(super) fn connect(config: &postgres::Config) -> Result<Self, StoreError> {
        Ok(Postgres {
            client: Some(open(config)?),
            config: config.clone(),
            prepared: Prepared::default(),
        })
    }

    /// The client and its prepared statements, connected again first if the connection was
    /// lost.
    fn parts(&mut self) -> Result<(&mut postgres::Client, &mut Prepared), StoreError> {
        let client = match self.client.take().filter(|client| !client.is_closed()) {
            Some(client) => client,
            None => {
                self.prepared = Prepared::default();
                open(&self.config)?
            }
        };
        Ok((self.client.insert(client), &mut self.prepared))
    }
}

/// A new connection to the server `config` names. Its statements are planned for their
/// parameters at every run (`force_custom_plan`): a plan made once for any parameters and kept
/// was made, in a new store, when the items table was empty — a scan of the whole table, which
/// it stays as the table grows within the first round (BENCHMARKS.md, section 8).
fn open(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    let mut client = config.connect(tls())?;
    client.batch_execute("SET plan_cache_mode = force_custom_plan")?;
    Ok(client)
}

/// TLS for the connection, used as the URL's `sslmode` says (`prefer`, libpq's default, when it
/// says nothing: TLS if the server offers it): the server's certificate is checked against the
/// Web PKI's roots, as rustls always checks one.
fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

impl Drop for Postgres {
    /// The client closes its connection on a runtime of its own, which may neither run nor be
    /// dropped on a thread of the daemon's runtime: there it is closed on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
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

    /// The SQLite connection, for what only SQLite has (pragmas, checkpoints, the progress
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
    pub(super) fn commit(self) -> Result<(), StoreError> {
        match self {
            Transaction::Sqlite(tx) => Ok(tx.commit()?),
            Transaction::Postgres(cell) => Ok(cell.into_inner().tx.commit()?),
        }
    }

    /// Whether the engine already ended the transaction (SQLite does on a full disk or an I/O
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

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn sqlite_parameters_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(
            numbered("a = ?1 AND b = ?2 OR c = ?1"),
            "a = $1 AND b = $2 OR c = $1"
        );
        assert_eq!(
            numbered("id IN (?,?,?) LIMIT ?"),
            "id IN ($1,$2,$3) LIMIT $4"
        );
        assert_eq!(numbered("x = ?3 AND y = ?"), "x = $3 AND y = $4");
        assert_eq!(numbered("x = '?' AND y = ?"), "x = '?' AND y = $1");
    }
}
