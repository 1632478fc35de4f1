//! Values bound to statements and columns read from rows, the same Rust types on either engine.

use postgres::types::{IsNull, ToSql, Type};

use crate::store::StoreError;

/// A value bound to a statement's parameter.
#[derive(Clone, Copy, Debug)]
pub(in crate::store) enum Value<'a> {
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
pub(in crate::store) use args;

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
pub(in crate::store) trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, StoreError>;
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, StoreError>;
}

/// Reads an integer column of PostgreSQL, whichever width it has (a literal `0` is an `int4`).
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
pub(in crate::store) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Reads the value of column `index` as a `T`.
    pub(in crate::store) fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index),
            Row::Postgres(row) => T::from_postgres(row, index),
        }
    }
}
