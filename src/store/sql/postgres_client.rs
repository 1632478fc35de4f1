//! The PostgreSQL client as the store uses it: statements prepared once per connection,
//! connections that come back after an outage, TLS, and the connection settings a URL leaves to
//! libpq's environment.

use std::collections::HashMap;

use crate::store::StoreError;

/// The statements a PostgreSQL connection has prepared, by their SQLite-dialect text: each is
/// parsed and planned by the server once per connection.
#[derive(Default)]
pub(super) struct Prepared(HashMap<String, postgres::Statement>);

impl Prepared {
    pub(super) fn get(
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

/// Rewrites `sql` with SQLite's parameters (`?1`, `?`) as PostgreSQL's (`$1`): a bare `?` is
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

/// A PostgreSQL client and what it has prepared, connected again when the server closed the
/// connection (a restart, a failover): an outage fails the statements run during it, not
/// every one after.
pub(in crate::store) struct Postgres {
    config: postgres::Config,
    /// `None` once dropped, or while the server cannot be reached (the next use tries again).
    client: Option<postgres::Client>,
    prepared: Prepared,
}

impl Postgres {
    pub(in crate::store) fn connect(config: &postgres::Config) -> Result<Self, StoreError> {
        Ok(Postgres {
            client: Some(open(config)?),
            config: config.clone(),
            prepared: Prepared::default(),
        })
    }

    /// Returns the client and its prepared statements, connected again first if the connection was
    /// lost.
    pub(super) fn parts(&mut self) -> Result<(&mut postgres::Client, &mut Prepared), StoreError> {
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

/// Opens a new connection to the server `config` names. Its statements are planned for their
/// parameters at every run (`force_custom_plan`): a plan made once for any parameters and kept
/// was made, in a new store, when the items table was empty — a scan of the whole table, which
/// it stays as the table grows within the first round (BENCHMARKS.md, section 8).
fn open(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    let mut client = config.connect(tls())?;
    client.batch_execute("SET plan_cache_mode = force_custom_plan")?;
    Ok(client)
}

/// Configures TLS for the connection, used as the URL's `sslmode` says (`prefer`, libpq's default,
/// when it says nothing: TLS if the server offers it): the server's certificate is checked against
/// the Web PKI's roots, as rustls always checks one.
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
    /// Drops the client. It closes its connection on a runtime of its own, which may neither run
    /// nor be dropped on a thread of the daemon's runtime: there it is closed on a thread of its
    /// own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

/// Reads the connection settings `url` describes, with what it leaves out taken from libpq's
/// environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`), as `psql` would: a
/// password need not be written in the config file.
pub(in crate::store) fn postgres_config(url: &str) -> Result<postgres::Config, StoreError> {
    let mut config: postgres::Config = url.parse()?;
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        config.host(from_env("PGHOST").as_deref().unwrap_or("localhost"));
    }
    if config.get_ports().is_empty() {
        if let Some(port) = from_env("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        if let Some(user) = from_env("PGUSER").or_else(|| from_env("USER")) {
            config.user(&user);
        }
    }
    if config.get_password().is_none() {
        if let Some(password) = from_env("PGPASSWORD") {
            config.password(password);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(name) = from_env("PGDATABASE") {
            config.dbname(&name);
        }
    }
    Ok(config)
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
