//! The end of a restore: the scratch database renamed into place in one
//! transaction, judged on a fresh connection; dropping what Lifeboat created.

use sqlx::postgres::PgConnection;
use sqlx::Connection;

use crate::error::{Error, Result};
use crate::pg::inspect::{self, major_of, pg_error};
use crate::pg::{quote_ident, ConnectionSpec};

pub(crate) async fn execute(conn: &mut PgConnection, spec: &ConnectionSpec, action: &'static str, sql: &str) -> Result<()> {
    // Without arguments this is the simple-query protocol: several
    // statements may go at once. (`raw_sql` would make the future !Send.)
    sqlx::Executor::execute(&mut *conn, sql)
        .await
        .map_err(|e| pg_error(action, spec, e))?;
    Ok(())
}

/// What the swap did with the database that had the target's name.
pub(super) struct Swapped {
    /// Where a database that held data now is (only with `force`).
    pub(super) kept_as: Option<String>,
    pub(super) warnings: Vec<String>,
}

/// Moves the restored scratch database to `target`'s name, on a fresh
/// connection (the one that began the restore may be hours old).
///
/// A database already there is judged at the instant of the swap, not at
/// the start: new connections to it are refused, nobody else may be
/// connected, and its contents are read on a session opened before the
/// door closed. Both renames then run in one transaction, so either the
/// restored database has the name or nothing changed. The old database is
/// dropped only when it was proven empty then; one holding data (allowed by
/// `force`) is kept under a new name, returned.
pub(super) async fn swap_into_place(target: &ConnectionSpec, scratch: &str, force: bool, stamp: &str) -> Result<Swapped> {
    let admin = target.with_database("postgres");
    let mut conn = inspect::connect(&admin).await?;
    let allowed: Option<bool> = sqlx::query_scalar("SELECT datallowconn FROM pg_database WHERE datname = $1")
        .bind(&target.database)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| pg_error("listing the databases of", &admin, e))?;
    let Some(allowed) = allowed else {
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(scratch),
            quote_ident(&target.database)
        );
        execute(&mut conn, &admin, "renaming the restored database into place on", &sql).await?;
        let _ = conn.close().await;
        return Ok(Swapped {
            kept_as: None,
            warnings: Vec::new(),
        });
    };
    // The session that reads the contents is opened before the door closes.
    let mut inspector = inspect::connect(target).await?;
    let inspector_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut inspector)
        .await
        .map_err(|e| pg_error("inspecting", target, e))?;
    let database = quote_ident(&target.database);
    execute(
        &mut conn,
        &admin,
        "refusing new connections during the swap on",
        &format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false"),
    )
    .await?;
    let swapped = swap_closed(&mut conn, &admin, inspector, inspector_pid, target, scratch, force, stamp, allowed).await;
    if swapped.is_err() {
        // The transaction rolled back: the database still has its name.
        let reopen = format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS {allowed}");
        if let Err(e) = execute(&mut conn, &admin, "accepting connections again on", &reopen).await {
            tracing::error!("{e}");
            return Err(Error::RestoreFailed(format!(
                "{}; and {} still refuses connections: run `{reopen}` as its owner",
                swapped.err().map(|e| e.to_string()).unwrap_or_default(),
                target.database
            )));
        }
    }
    let _ = conn.close().await;
    swapped
}

/// The swap once `target` refuses new connections (see `swap_into_place`).
#[allow(clippy::too_many_arguments)]
async fn swap_closed(
    conn: &mut PgConnection,
    admin: &ConnectionSpec,
    mut inspector: PgConnection,
    inspector_pid: i32,
    target: &ConnectionSpec,
    scratch: &str,
    force: bool,
    stamp: &str,
    allowed: bool,
) -> Result<Swapped> {
    let sessions: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s (%s)', usename, coalesce(nullif(application_name, ''), 'no application name'))
           FROM pg_stat_activity WHERE datname = $1 AND pid <> $2",
    )
    .bind(&target.database)
    .bind(inspector_pid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("listing the sessions of", admin, e))?;
    if !sessions.is_empty() {
        let _ = inspector.close().await;
        return Err(Error::RestoreRefused(format!(
            "{} is in use by {} session(s): {}; a database cannot be replaced while anyone is connected. Stop the \
             application(s) and restore again",
            target.database,
            sessions.len(),
            sessions.join(", ")
        )));
    }
    let contents = inspect::contents(&mut inspector, target).await;
    let _ = inspector.close().await;
    let contents = contents?;
    if !contents.is_empty() && !force {
        return Err(Error::RestoreRefused(format!(
            "{} received data while the restore ran (it now holds {}); its data is untouched. \
             Restore into a new database name, or confirm replacing it (--force; in the app, type its name); the current \
             one is then kept, renamed",
            target.database,
            contents.join(", ")
        )));
    }
    let proven_empty = contents.is_empty();
    let aside = database_name(&target.database, &format!("_before_lifeboat_{stamp}"));
    let mut tx = conn.begin().await.map_err(|e| pg_error("starting the swap on", admin, e))?;
    execute(
        &mut tx,
        admin,
        "setting the current database aside on",
        &format!("ALTER DATABASE {} RENAME TO {}", quote_ident(&target.database), quote_ident(&aside)),
    )
    .await?;
    execute(
        &mut tx,
        admin,
        "renaming the restored database into place on",
        &format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(scratch),
            quote_ident(&target.database)
        ),
    )
    .await?;
    if !proven_empty {
        execute(
            &mut tx,
            admin,
            "reopening the kept database on",
            &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allowed}", quote_ident(&aside)),
        )
        .await?;
    }
    tx.commit().await.map_err(|e| pg_error("committing the swap on", admin, e))?;
    if !proven_empty {
        return Ok(Swapped {
            kept_as: Some(aside),
            warnings: Vec::new(),
        });
    }
    // Nobody can connect to it, and it held nothing an instant ago.
    let mut warnings = Vec::new();
    if let Err(e) = execute(
        conn,
        admin,
        "dropping the empty database that was there before on",
        &format!("DROP DATABASE {}", quote_ident(&aside)),
    )
    .await
    {
        warnings.push(format!(
            "the empty database that was there before is kept as {aside} ({e}): drop it"
        ));
    }
    Ok(Swapped { kept_as: None, warnings })
}

/// A database name of at most 63 bytes: `base` shortened to fit `suffix`.
pub(crate) fn database_name(base: &str, suffix: &str) -> String {
    let room = 63 - suffix.len();
    let mut end = base.len().min(room);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &base[..end])
}

/// Drops a database Lifeboat created, on a fresh connection, ending any
/// session still in it (`WITH (FORCE)` on PostgreSQL 13+, which 12 lacks);
/// logs what it could not do.
pub(crate) async fn drop_database(admin: &ConnectionSpec, name: &str) {
    if let Err(e) = try_drop_database(admin, name).await {
        tracing::error!("could not drop the scratch database {name}: {e}");
    }
}

async fn try_drop_database(admin: &ConnectionSpec, name: &str) -> Result<()> {
    let mut conn = inspect::connect(admin).await?;
    let (version_num, _) = inspect::server_version(&mut conn, admin).await?;
    let sql = if major_of(version_num) >= 13 {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
    } else {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut conn)
            .await
            .map_err(|e| pg_error("ending the scratch database's sessions on", admin, e))?;
        format!("DROP DATABASE IF EXISTS {}", quote_ident(name))
    };
    execute(&mut conn, admin, "dropping the scratch database on", &sql).await?;
    let _ = conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::database_name;

    #[test]
    fn database_names_fit_postgres_and_never_split_a_character() {
        assert_eq!(database_name("shop", "_lifeboat_restore"), "shop_lifeboat_restore");
        let long = "x".repeat(80);
        let name = database_name(&long, "_restore_1");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_restore_1"));
        // "é" is two bytes: a cut in its middle moves back before it.
        let accented = format!("{}é", "a".repeat(52));
        let name = database_name(&accented, "_restore_1");
        assert_eq!(name, format!("{}_restore_1", "a".repeat(52)));
        assert!(name.len() <= 63);
    }
}
