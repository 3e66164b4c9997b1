//! `kintsugi transfer`: copies a SQLite database into an empty PostgreSQL one.
//!
//! The table list, the columns and the order come from the databases themselves (SQLite's
//! schema and foreign keys, PostgreSQL's information schema), so a new migration needs no
//! change here; the two schemas must agree or nothing is copied. Every row goes in one
//! transaction on the target, and the counts per table are compared before it commits.
//! A nullable foreign key that points back (a team's parent team, an organisation's chosen
//! instrument, which belongs to the organisation) is copied as NULL first and filled in once
//! every table is in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Postgres, QueryBuilder, Row};

/// PostgreSQL accepts at most 65,535 bound parameters in one statement.
const MAX_PARAMS: usize = 30_000;
const MAX_ROWS_PER_INSERT: usize = 1_000;

/// One table's row count, the same on both sides.
pub struct Counted {
    pub table: String,
    pub rows: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Text,
    BigInt,
    Bool,
}

struct Table {
    name: String,
    /// In PostgreSQL's column order.
    columns: Vec<(String, Kind)>,
    /// The primary key's columns, to fill in deferred columns afterwards.
    key: Vec<String>,
    /// Nullable foreign-key columns whose parent comes later (or is this table): inserted as
    /// NULL, set once every row is in.
    deferred: BTreeSet<String>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Copies every row of `sqlite` (an existing database file) into `postgres` (an empty
/// database; its schema is created or brought up to date first). Returns the counts.
pub async fn run(sqlite: &Path, postgres: &str) -> anyhow::Result<Vec<Counted>> {
    // Both schemas up to date, by the same migrations the server runs.
    kintsugi_store_sqlite::SqliteStore::open(sqlite)
        .await
        .with_context(|| format!("--from {}", sqlite.display()))?
        .close()
        .await;
    kintsugi_store_postgres::PostgresStore::open(postgres)
        .await
        .context("--to")?
        .close()
        .await;

    let source = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(sqlite).read_only(true))
        .await
        .with_context(|| format!("cannot open {}", sqlite.display()))?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(postgres)
        .await
        .context("cannot connect to PostgreSQL (--to)")?;
    let mut target = pool.acquire().await?.detach();

    let tables = schema(&source, &mut target).await?;
    let mut tx = target.begin().await?;
    for t in &tables {
        let has_rows: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {})",
            quote(&t.name)
        )))
        .fetch_one(&mut *tx)
        .await?;
        if has_rows {
            bail!(
                "--to: the PostgreSQL database is not empty (table {} has rows); transfer only into a fresh database",
                t.name
            );
        }
    }
    for t in &tables {
        copy(&source, &mut tx, t)
            .await
            .with_context(|| format!("copying table {}", t.name))?;
    }
    for t in tables.iter().filter(|t| !t.deferred.is_empty()) {
        fill_deferred(&source, &mut tx, t)
            .await
            .with_context(|| format!("filling in {}", t.name))?;
    }
    let mut counted = Vec::new();
    for t in &tables {
        let count = format!("SELECT COUNT(*) FROM {}", quote(&t.name));
        let from: i64 = sqlx::query_scalar(AssertSqlSafe(count.clone()))
            .fetch_one(&source)
            .await?;
        let to: i64 = sqlx::query_scalar(AssertSqlSafe(count))
            .fetch_one(&mut *tx)
            .await?;
        if from != to {
            bail!(
                "table {}: {from} rows in SQLite but {to} in PostgreSQL; nothing was committed",
                t.name
            );
        }
        counted.push(Counted {
            table: t.name.clone(),
            rows: to,
        });
    }
    tx.commit().await.context("committing on PostgreSQL")?;
    source.close().await;
    target.close().await?;
    Ok(counted)
}

/// The tables to copy, parents before children, after checking that both sides have the
/// same tables with the same columns.
async fn schema(source: &SqlitePool, target: &mut PgConnection) -> anyhow::Result<Vec<Table>> {
    let in_sqlite: BTreeSet<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(source)
    .await?
    .into_iter()
    .collect();
    let in_postgres: BTreeSet<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
            AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *target)
    .await?
    .into_iter()
    .collect();
    if in_sqlite != in_postgres {
        bail!(
            "the schemas differ: only in SQLite {:?}, only in PostgreSQL {:?}",
            in_sqlite.difference(&in_postgres).collect::<Vec<_>>(),
            in_postgres.difference(&in_sqlite).collect::<Vec<_>>()
        );
    }

    // Per table: (parent table, column, nullable) for each foreign key.
    let mut foreign: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    let mut tables = BTreeMap::new();
    for name in &in_sqlite {
        let info: Vec<(String, bool, i64)> =
            sqlx::query_as("SELECT name, \"notnull\" <> 0, pk FROM pragma_table_info($1)")
                .bind(name)
                .fetch_all(source)
                .await?;
        let refs: Vec<(String, String)> =
            sqlx::query_as("SELECT \"table\", \"from\" FROM pragma_foreign_key_list($1)")
                .bind(name)
                .fetch_all(source)
                .await?;
        let nullable = |c: &str| info.iter().any(|(n, notnull, _)| n == c && !notnull);
        foreign.insert(
            name.clone(),
            refs.into_iter()
                .map(|(parent, column)| {
                    let null = nullable(&column);
                    (parent, column, null)
                })
                .collect(),
        );
        let mut key: Vec<(i64, String)> = info
            .iter()
            .filter(|(_, _, pk)| *pk > 0)
            .map(|(n, _, pk)| (*pk, n.clone()))
            .collect();
        key.sort();
        let sqlite_columns: BTreeSet<String> = info.iter().map(|(n, ..)| n.clone()).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(name)
        .fetch_all(&mut *target)
        .await?;
        let mut columns = Vec::new();
        for (column, data_type) in rows {
            let kind = match data_type.as_str() {
                "text" => Kind::Text,
                "bigint" => Kind::BigInt,
                "boolean" => Kind::Bool,
                other => bail!("{name}.{column}: type {other} is not one transfer knows"),
            };
            columns.push((column, kind));
        }
        let pg_columns: BTreeSet<String> = columns.iter().map(|(c, _)| c.clone()).collect();
        if pg_columns != sqlite_columns {
            bail!(
                "table {name}: the columns differ: SQLite {sqlite_columns:?}, PostgreSQL {pg_columns:?}"
            );
        }
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                columns,
                key: key.into_iter().map(|(_, n)| n).collect(),
                deferred: BTreeSet::new(),
            },
        );
    }

    // Parents first (Kahn's algorithm; the BTreeMap keeps the order stable between runs).
    // When only cycles are left, a table whose pending references are all nullable goes
    // next, with those columns deferred.
    let mut ordered = Vec::new();
    let mut done = BTreeSet::new();
    while done.len() < foreign.len() {
        let pending = |t: &String| -> Vec<(String, bool)> {
            foreign[t]
                .iter()
                .filter(|(p, _, _)| p == t || !done.contains(p))
                .map(|(_, c, null)| (c.clone(), *null))
                .collect()
        };
        let mut ready: Vec<(String, BTreeSet<String>)> = foreign
            .keys()
            .filter(|t| !done.contains(*t) && pending(t).is_empty())
            .map(|t| (t.clone(), BTreeSet::new()))
            .collect();
        if ready.is_empty() {
            ready = foreign
                .keys()
                .filter(|t| !done.contains(*t))
                .map(|t| (t.clone(), pending(t)))
                .filter(|(_, cols)| cols.iter().all(|(_, null)| *null))
                .take(1)
                .map(|(t, cols)| (t, cols.into_iter().map(|(c, _)| c).collect()))
                .collect();
        }
        if ready.is_empty() {
            bail!(
                "the foreign keys form a cycle of required columns; transfer cannot order the tables"
            );
        }
        for (t, deferred) in ready {
            done.insert(t.clone());
            if let Some(mut table) = tables.remove(&t) {
                if !deferred.is_empty() && table.key.is_empty() {
                    bail!(
                        "table {t} has no primary key, so {deferred:?} cannot be filled in later"
                    );
                }
                table.deferred = deferred;
                ordered.push(table);
            }
        }
    }
    Ok(ordered)
}

enum Value {
    Text(Option<String>),
    BigInt(Option<i64>),
    Bool(Option<bool>),
}

fn value(row: &SqliteRow, column: &str, kind: Kind) -> anyhow::Result<Value> {
    let v = match kind {
        Kind::Text => Value::Text(row.try_get(column)?),
        Kind::BigInt => Value::BigInt(row.try_get(column)?),
        Kind::Bool => Value::Bool(row.try_get(column)?),
    };
    Ok(v)
}

fn null(kind: Kind) -> Value {
    match kind {
        Kind::Text => Value::Text(None),
        Kind::BigInt => Value::BigInt(None),
        Kind::Bool => Value::Bool(None),
    }
}

/// Sets the deferred columns, row by row, now that every row they may point to is in.
async fn fill_deferred(
    source: &SqlitePool,
    target: &mut PgConnection,
    table: &Table,
) -> anyhow::Result<()> {
    let kind_of = |c: &str| {
        table
            .columns
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, k)| *k)
            .unwrap_or(Kind::Text)
    };
    let cols: Vec<&String> = table.deferred.iter().chain(table.key.iter()).collect();
    let select = format!(
        "SELECT {} FROM {} WHERE {}",
        cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "),
        quote(&table.name),
        table
            .deferred
            .iter()
            .map(|c| format!("{} IS NOT NULL", quote(c)))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    let rows = sqlx::query(AssertSqlSafe(select)).fetch_all(source).await?;
    for row in rows {
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("UPDATE {} SET ", quote(&table.name)));
        for (i, c) in table.deferred.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push(format!("{} = ", quote(c)));
            push(&mut q, value(&row, c, kind_of(c))?);
        }
        for (i, c) in table.key.iter().enumerate() {
            q.push(if i == 0 { " WHERE " } else { " AND " });
            q.push(format!("{} = ", quote(c)));
            push(&mut q, value(&row, c, kind_of(c))?);
        }
        q.build().execute(&mut *target).await?;
    }
    Ok(())
}

fn push(q: &mut QueryBuilder<Postgres>, v: Value) {
    match v {
        Value::Text(v) => q.push_bind(v),
        Value::BigInt(v) => q.push_bind(v),
        Value::Bool(v) => q.push_bind(v),
    };
}

/// Streams one table out of SQLite and inserts it in batches.
async fn copy(source: &SqlitePool, target: &mut PgConnection, table: &Table) -> anyhow::Result<()> {
    let names = table
        .columns
        .iter()
        .map(|(c, _)| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let select = format!("SELECT {names} FROM {}", quote(&table.name));
    let per_batch = (MAX_PARAMS / table.columns.len().max(1)).clamp(1, MAX_ROWS_PER_INSERT);
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(source);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch);
    while let Some(row) = rows.try_next().await? {
        let mut values = Vec::with_capacity(table.columns.len());
        for (column, kind) in &table.columns {
            values.push(if table.deferred.contains(column) {
                null(*kind)
            } else {
                value(&row, column, *kind).with_context(|| format!("column {column}"))?
            });
        }
        batch.push(values);
        if batch.len() == per_batch {
            insert(target, table, &names, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        insert(target, table, &names, batch).await?;
    }
    Ok(())
}

async fn insert(
    target: &mut PgConnection,
    table: &Table,
    names: &str,
    batch: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("INSERT INTO {} ({names}) ", quote(&table.name)));
    q.push_values(batch, |mut b, row| {
        for v in row {
            match v {
                Value::Text(v) => b.push_bind(v),
                Value::BigInt(v) => b.push_bind(v),
                Value::Bool(v) => b.push_bind(v),
            };
        }
    });
    q.build().execute(target).await?;
    Ok(())
}
