//! Tables restored beside the originals in a database that holds data: the
//! verified rows of a scratch database are copied into new tables named
//! `<table>_restored_<stamp>`, so the damaged table can be mended with an
//! `UPDATE ... FROM` and nothing in the database is replaced.
//!
//! The new table is made from the restored table's catalog (each column's
//! type as `format_type` names it, its collation, NOT NULL), never from SQL
//! text of the dump; indexes, constraints and triggers stay on the original.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{Connection, Row};

use super::partial::QualifiedName;
use super::swap::database_name;
use crate::error::{Error, Result};
use crate::pg::inspect::{self, pg_error};
use crate::pg::{quote_ident, ConnectionSpec};

/// A table restored beside its original.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlacedBeside {
    /// `schema.table` in the snapshot.
    pub table: String,
    /// `schema.new_table` in the target.
    pub restored_as: String,
    pub rows: u64,
}

/// A column as the restored table has it.
struct Column {
    name: String,
    /// SQL type, schema-qualified (read with an empty search path).
    sql_type: String,
    collation: Option<String>,
    not_null: bool,
}

/// Copies each of `tables` from `scratch` into a new table beside it in
/// `target` (owned by `role` when one is given), all in one transaction
/// that commits only when every table's rows are the backup's count
/// (`expected`): a failure leaves nothing behind.
pub(crate) async fn copy_beside(
    scratch: &ConnectionSpec,
    target: &ConnectionSpec,
    tables: &[QualifiedName],
    expected: &BTreeMap<String, u64>,
    stamp: &str,
    role: Option<&str>,
) -> Result<Vec<PlacedBeside>> {
    let mut from = inspect::connect(scratch).await?;
    let mut into = inspect::connect(target).await?;
    // Every type outside pg_catalog then comes out schema-qualified.
    sqlx::query("SET search_path = ''")
        .execute(&mut from)
        .await
        .map_err(|e| pg_error("reading the restored tables of", scratch, e))?;
    let mut tx = into
        .begin()
        .await
        .map_err(|e| pg_error("restoring tables beside the originals in", target, e))?;
    let mut placed: Vec<PlacedBeside> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let columns = columns(&mut from, scratch, table).await?;
        // Long names are cut to fit: two cut alike are told apart by their place.
        let mut new_name = database_name(&table.name, &format!("_restored_{stamp}"));
        if placed.iter().any(|p| p.restored_as == format!("{}.{new_name}", table.schema)) {
            new_name = database_name(&table.name, &format!("_restored_{stamp}_{i}"));
        }
        let restored_as = format!("{}.{}", quote_ident(&table.schema), quote_ident(&new_name));
        let definition: Vec<String> = columns
            .iter()
            .map(|c| {
                let mut column = format!("{} {}", quote_ident(&c.name), c.sql_type);
                if let Some(collation) = &c.collation {
                    column.push_str(&format!(" COLLATE {collation}"));
                }
                if c.not_null {
                    column.push_str(" NOT NULL");
                }
                column
            })
            .collect();
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let source = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name));

        // No IF NOT EXISTS: an existing table of that name is never written into.
        sqlx::query(&format!("CREATE TABLE {restored_as} ({})", definition.join(", ")))
            .execute(&mut *tx)
            .await
            .map_err(|e| beside_error(target, &restored_as, e))?;
        let mut copy_in = tx
            .copy_in_raw(&format!("COPY {restored_as} ({}) FROM STDIN", names.join(", ")))
            .await
            .map_err(|e| beside_error(target, &restored_as, e))?;
        let mut rows_out = from
            .copy_out_raw(&format!("COPY (SELECT {} FROM ONLY {source}) TO STDOUT", names.join(", ")))
            .await
            .map_err(|e| pg_error("reading the restored rows of", scratch, e))?;
        while let Some(bytes) = rows_out
            .try_next()
            .await
            .map_err(|e| pg_error("reading the restored rows of", scratch, e))?
        {
            copy_in.send(bytes).await.map_err(|e| beside_error(target, &restored_as, e))?;
        }
        drop(rows_out);
        let rows = copy_in.finish().await.map_err(|e| beside_error(target, &restored_as, e))?;
        if let Some(wanted) = expected.get(&table.key()).filter(|wanted| **wanted != rows) {
            return Err(Error::RestoreFailed(format!(
                "{} rows of {} were copied beside the original, the backup has {wanted}: nothing was kept",
                rows,
                table.key()
            )));
        }
        if let Some(role) = role {
            sqlx::query(&format!("ALTER TABLE {restored_as} OWNER TO {}", quote_ident(role)))
                .execute(&mut *tx)
                .await
                .map_err(|e| beside_error(target, &restored_as, e))?;
        }
        placed.push(PlacedBeside {
            table: table.key(),
            restored_as: format!("{}.{new_name}", table.schema),
            rows,
        });
    }
    tx.commit()
        .await
        .map_err(|e| pg_error("restoring tables beside the originals in", target, e))?;
    let _ = from.close().await;
    let _ = into.close().await;
    Ok(placed)
}

async fn columns(conn: &mut sqlx::PgConnection, scratch: &ConnectionSpec, table: &QualifiedName) -> Result<Vec<Column>> {
    let rows = sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                a.attnotnull
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_collation co ON co.oid = a.attcollation
           LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
          WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("reading the restored tables of", scratch, e))?;
    if rows.is_empty() {
        return Err(Error::RestoreFailed(format!(
            "the restored table {} has no columns to copy",
            table.key()
        )));
    }
    Ok(rows
        .iter()
        .map(|row| Column {
            name: row.get(0),
            sql_type: row.get(1),
            collation: row.get(2),
            not_null: row.get(3),
        })
        .collect())
}

fn beside_error(target: &ConnectionSpec, table: &str, e: sqlx::Error) -> Error {
    let hint = match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42P07") => ": a table of that name exists; nothing was written into it",
        sqlx::Error::Database(db) if db.code().as_deref() == Some("3F000") => {
            ": the schema is gone from the target; restore the table into a new database instead"
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42704") => {
            ": a type the table uses is gone from the target; restore the table into a new database instead"
        }
        _ => "",
    };
    Error::RestoreFailed(format!(
        "could not restore {table} beside the original in database {} on {}:{}: {e}{hint}",
        target.database, target.host, target.port
    ))
}
