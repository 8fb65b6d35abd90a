//! Restoring some tables or schemas of a snapshot: which entries of the
//! archive's table of contents `pg_restore` gets (as a `--use-list` file),
//! worked out from the entries' own dependencies.
//!
//! A chosen table comes with its rows, its partitions, and what hangs on it
//! alone (indexes, constraints, defaults, triggers, comments, grants); a
//! foreign key comes only when the table it references comes too. What the
//! chosen entries need to exist first (schemas, types, functions,
//! sequences, extensions) comes along, without the rows of anything else.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::pg::archive::{self, TocEntry};
use crate::progress::NoProgress;
use crate::repo::manifest::Snapshot;
use crate::repo::read::{self, ReadOptions};
use crate::repo::Repository;

/// The tables and schemas a partial restore brings back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// `schema.table` names, as [`parse_table`] reads them.
    pub tables: Vec<QualifiedName>,
    pub schemas: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.schemas.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    /// The `schema.table` key the manifest's row counts use.
    pub fn key(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// Reads `SCHEMA.TABLE`; either part may be double-quoted (`"My app"."a.b"`,
/// `""` for a quote inside), as SQL writes names with dots or capitals.
/// Unquoted parts are taken as written: PostgreSQL folds them to lower case
/// only in SQL text, and a dump lists names as they are stored.
pub fn parse_table(text: &str) -> Result<QualifiedName> {
    let bad = |why: &str| Error::InvalidInput(format!("table {text:?}: {why}; name it as SCHEMA.TABLE, for example public.orders"));
    let mut parts = Vec::new();
    let mut rest = text.trim();
    loop {
        let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut part = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        part.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => part.push(c),
                    None => return Err(bad("a quote is not closed")),
                }
            };
            (part, &quoted[end..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        if part.is_empty() {
            return Err(bad("a part of the name is empty"));
        }
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.is_empty() => break,
            None => return Err(bad("unexpected text after a quoted name")),
        }
    }
    match <[String; 2]>::try_from(parts) {
        Ok([schema, name]) => Ok(QualifiedName { schema, name }),
        Err(parts) if parts.len() == 1 => Err(bad("the schema is missing")),
        Err(_) => Err(bad("too many dots")),
    }
}

/// Entries that make a relation, whose rows or definitions are only
/// restored when chosen.
const RELATIONS: &[&str] = &["TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE"];

/// What a partial restore loads: the entries' dump ids in archive order,
/// and the tables (partitions included) whose rows it brings.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub entries: Vec<i64>,
    pub tables: Vec<QualifiedName>,
}

/// Works out the entries of `toc` that restore `selection` (see the module
/// docs); a table or schema the archive lacks is an error naming it.
pub(crate) fn plan(toc: &[TocEntry], selection: &Selection) -> Result<Plan> {
    let by_id: HashMap<i64, &TocEntry> = toc.iter().map(|e| (e.dump_id, e)).collect();
    let is_table = |e: &TocEntry| e.desc == "TABLE";
    let mut chosen: BTreeSet<i64> = BTreeSet::new();
    for wanted in &selection.tables {
        let found = toc
            .iter()
            .find(|e| is_table(e) && e.namespace == wanted.schema && e.tag == wanted.name)
            .ok_or_else(|| missing_table(toc, wanted))?;
        chosen.insert(found.dump_id);
    }
    for schema in &selection.schemas {
        if !toc
            .iter()
            .any(|e| e.namespace == *schema || (e.desc == "SCHEMA" && e.tag == *schema))
        {
            return Err(Error::InvalidInput(format!("the snapshot has no schema {schema:?}")));
        }
        chosen.extend(toc.iter().filter(|e| is_table(e) && e.namespace == *schema).map(|e| e.dump_id));
    }
    // A partitioned table's rows live in its partitions.
    loop {
        let partitions: Vec<i64> = toc
            .iter()
            .filter(|e| e.desc == "TABLE ATTACH" && e.dependencies.iter().any(|d| chosen.contains(d)))
            .flat_map(|e| e.dependencies.iter().copied())
            .filter(|d| by_id.get(d).is_some_and(|e| is_table(e)) && !chosen.contains(d))
            .collect();
        if partitions.is_empty() {
            break;
        }
        chosen.extend(partitions);
    }

    // An entry that names a table comes only when every table it names does
    // (a foreign key to another schema's table, a view joining one, stay out).
    let all_tables_chosen = |entry: &TocEntry| {
        entry
            .dependencies
            .iter()
            .all(|d| chosen.contains(d) || !by_id.get(d).is_some_and(|e| is_table(e)))
    };
    let mut included = chosen.clone();
    for schema in &selection.schemas {
        included.extend(
            toc.iter()
                .filter(|e| e.namespace == *schema || (e.desc == "SCHEMA" && e.tag == *schema))
                .filter(|e| all_tables_chosen(e))
                .map(|e| e.dump_id),
        );
    }
    // What hangs on the chosen tables, when every table it names comes along.
    for entry in toc {
        let on_chosen = entry.dependencies.iter().any(|d| chosen.contains(d));
        if on_chosen && all_tables_chosen(entry) && !RELATIONS.contains(&entry.desc.as_str()) {
            included.insert(entry.dump_id);
        }
    }
    // Extensions always: the restore checks them in their schemas.
    included.extend(toc.iter().filter(|e| e.desc == "EXTENSION").map(|e| e.dump_id));
    // Prerequisites, never another relation or its rows.
    let mut pending: Vec<i64> = included.iter().copied().collect();
    while let Some(id) = pending.pop() {
        let Some(entry) = by_id.get(&id) else { continue };
        for dependency in &entry.dependencies {
            let Some(needed) = by_id.get(dependency) else { continue };
            let data = needed.desc.ends_with(" DATA") || needed.desc == "SEQUENCE SET";
            if !RELATIONS.contains(&needed.desc.as_str()) && !data && included.insert(needed.dump_id) {
                pending.push(needed.dump_id);
            }
        }
    }
    // A sequence that comes along keeps its position.
    let sequences: BTreeSet<i64> = toc
        .iter()
        .filter(|e| e.desc == "SEQUENCE" && included.contains(&e.dump_id))
        .map(|e| e.dump_id)
        .collect();
    included.extend(
        toc.iter()
            .filter(|e| e.desc == "SEQUENCE SET" && e.dependencies.iter().any(|d| sequences.contains(d)))
            .map(|e| e.dump_id),
    );

    let mut tables: Vec<QualifiedName> = chosen
        .iter()
        .filter_map(|id| by_id.get(id))
        .map(|e| QualifiedName {
            schema: e.namespace.clone(),
            name: e.tag.clone(),
        })
        .collect();
    tables.sort();
    Ok(Plan {
        entries: toc.iter().map(|e| e.dump_id).filter(|id| included.contains(id)).collect(),
        tables,
    })
}

fn missing_table(toc: &[TocEntry], wanted: &QualifiedName) -> Error {
    let same_name: Vec<String> = toc
        .iter()
        .filter(|e| e.desc == "TABLE" && e.tag.eq_ignore_ascii_case(&wanted.name))
        .map(|e| format!("{}.{}", e.namespace, e.tag))
        .collect();
    let hint = if same_name.is_empty() {
        String::new()
    } else {
        format!(" (it has {})", same_name.join(", "))
    };
    Error::InvalidInput(format!("the snapshot has no table {}{hint}", wanted.key()))
}

/// Writes `entries` as a `pg_restore --use-list` file: one dump id a line,
/// in archive order (a streamed archive is read front to back).
pub(crate) fn list_file(entries: &[i64]) -> Result<tempfile::NamedTempFile> {
    let failed = |e: std::io::Error| Error::Internal(format!("writing the restore list: {e}"));
    let mut file = tempfile::Builder::new()
        .prefix("lifeboat-restore-list-")
        .tempfile()
        .map_err(failed)?;
    let mut text = String::new();
    for id in entries {
        text.push_str(&format!("{id}\n"));
    }
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.flush().map_err(failed)?;
    Ok(file)
}

/// Reads the snapshot's table of contents: its first bytes, every blob
/// authenticated as for a restore.
pub async fn table_of_contents(repo: Arc<Repository>, snapshot: Snapshot, lock_wait: Duration) -> Result<Vec<TocEntry>> {
    tokio::task::spawn_blocking(move || {
        let (reader, mut writer) = std::io::pipe().map_err(|e| Error::Internal(format!("opening a pipe: {e}")))?;
        std::thread::scope(|scope| {
            let parsing = scope.spawn(move || archive::table_of_contents(std::io::BufReader::new(reader)).map(|c| c.entries));
            // Once the contents are read the parser lets go of its end, and this write fails: that is the stop.
            let read = read::cat(&repo, &snapshot, &mut writer, &NoProgress, ReadOptions { lock_wait });
            drop(writer);
            let parsed = parsing
                .join()
                .map_err(|_| Error::Internal("reading the table of contents stopped unexpectedly".into()))?;
            match (parsed, read) {
                (Ok(toc), _) => Ok(toc),
                // A parser that gave up closed the pipe: the write's error is only that.
                (Err(_), Err(e)) if !matches!(e, Error::Output(_)) => Err(e),
                (Err(why), _) => Err(Error::InvalidInput(format!(
                    "snapshot {} is not a pg_dump archive Lifeboat can list: {}",
                    &snapshot.id[..8],
                    why.0
                ))),
            }
        })
    })
    .await
    .map_err(|e| Error::Internal(format!("reading the table of contents stopped unexpectedly: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dump_id: i64, desc: &str, namespace: &str, tag: &str, dependencies: &[i64]) -> TocEntry {
        TocEntry {
            dump_id,
            desc: desc.into(),
            namespace: namespace.into(),
            tag: tag.into(),
            owner: String::new(),
            dependencies: dependencies.to_vec(),
            has_data: desc.ends_with(" DATA"),
            copies: desc == "TABLE DATA",
        }
    }

    fn name(schema: &str, name: &str) -> QualifiedName {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    #[test]
    fn table_names_read_like_sql_with_quotes_for_dots_and_capitals() {
        assert_eq!(parse_table("public.orders").unwrap(), name("public", "orders"));
        assert_eq!(parse_table("\"My App\".\"a.b\"").unwrap(), name("My App", "a.b"));
        assert_eq!(parse_table("s.\"say \"\"hi\"\"\"").unwrap(), name("s", "say \"hi\""));
        for bad in ["orders", "a.b.c", "\"open.x", ".x", "a.", "\"a\"b.c"] {
            let err = parse_table(bad).unwrap_err().to_string();
            assert!(err.contains("SCHEMA.TABLE"), "{bad}: {err}");
        }
    }

    /// A shop: a type and a sequence used by `orders`, a foreign key to
    /// `customers`, a view on orders, a partitioned `events`.
    fn shop() -> Vec<TocEntry> {
        vec![
            entry(1, "SCHEMA", "", "sales", &[]),
            entry(2, "EXTENSION", "", "citext", &[]),
            entry(3, "TYPE", "sales", "status", &[1]),
            entry(4, "FUNCTION", "sales", "touch()", &[1]),
            entry(10, "TABLE", "sales", "customers", &[1]),
            entry(11, "TABLE", "sales", "orders", &[1, 3]),
            entry(12, "SEQUENCE", "sales", "orders_id_seq", &[1]),
            entry(13, "SEQUENCE OWNED BY", "sales", "orders_id_seq", &[11, 12]),
            entry(14, "DEFAULT", "sales", "orders id", &[11, 12]),
            entry(15, "VIEW", "sales", "open_orders", &[11]),
            entry(16, "TABLE", "public", "events", &[]),
            entry(17, "TABLE", "public", "events_2026", &[]),
            entry(18, "TABLE ATTACH", "public", "events_2026", &[16, 17]),
            entry(20, "TABLE DATA", "sales", "customers", &[10]),
            entry(21, "TABLE DATA", "sales", "orders", &[11]),
            entry(22, "SEQUENCE SET", "sales", "orders_id_seq", &[12]),
            entry(23, "TABLE DATA", "public", "events_2026", &[17]),
            entry(30, "CONSTRAINT", "sales", "orders orders_pkey", &[11]),
            entry(31, "FK CONSTRAINT", "sales", "orders orders_customer_fkey", &[10, 11]),
            entry(32, "TRIGGER", "sales", "orders touch", &[4, 11]),
            entry(33, "INDEX", "sales", "customers_name", &[10]),
            entry(34, "ACL", "sales", "TABLE orders", &[11]),
        ]
    }

    #[test]
    fn a_table_comes_with_what_hangs_on_it_and_what_it_needs_but_no_other_rows() {
        let plan = plan(
            &shop(),
            &Selection {
                tables: vec![name("sales", "orders")],
                schemas: vec![],
            },
        )
        .unwrap();
        assert_eq!(plan.entries, vec![1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 30, 32, 34]);
        assert_eq!(plan.tables, vec![name("sales", "orders")]);
    }

    #[test]
    fn a_foreign_key_comes_when_both_its_tables_do() {
        let selection = Selection {
            tables: vec![name("sales", "orders"), name("sales", "customers")],
            schemas: vec![],
        };
        let plan = plan(&shop(), &selection).unwrap();
        for id in [10, 20, 31, 33] {
            assert!(plan.entries.contains(&id), "{id}");
        }
        assert!(!plan.entries.contains(&15), "views are not tables");
    }

    #[test]
    fn a_partitioned_table_brings_its_partitions_rows() {
        let plan = plan(
            &shop(),
            &Selection {
                tables: vec![name("public", "events")],
                schemas: vec![],
            },
        )
        .unwrap();
        assert_eq!(plan.entries, vec![2, 16, 17, 18, 23]);
        assert_eq!(plan.tables, vec![name("public", "events"), name("public", "events_2026")]);
    }

    #[test]
    fn a_schema_brings_everything_in_it() {
        let plan = plan(
            &shop(),
            &Selection {
                tables: vec![],
                schemas: vec!["sales".into()],
            },
        )
        .unwrap();
        assert!(plan.entries.iter().all(|id| ![16, 17, 18, 23].contains(id)));
        for id in [1, 3, 4, 10, 11, 15, 20, 21, 31, 33] {
            assert!(plan.entries.contains(&id), "{id}");
        }
    }

    #[test]
    fn a_schema_leaves_out_what_names_another_schemas_tables() {
        let mut toc = shop();
        toc.push(entry(40, "FK CONSTRAINT", "sales", "orders orders_event_fkey", &[11, 16]));
        toc.push(entry(41, "VIEW", "sales", "orders_with_events", &[11, 16]));
        let plan = plan(
            &toc,
            &Selection {
                tables: vec![],
                schemas: vec!["sales".into()],
            },
        )
        .unwrap();
        assert!(!plan.entries.contains(&40) && !plan.entries.contains(&41), "{:?}", plan.entries);
        assert!(
            plan.entries.contains(&31) && plan.entries.contains(&15),
            "within the schema they come"
        );
    }

    #[test]
    fn a_name_the_snapshot_lacks_is_named_with_what_it_has() {
        let err = plan(
            &shop(),
            &Selection {
                tables: vec![name("public", "Orders")],
                schemas: vec![],
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no table public.Orders") && err.contains("sales.orders"), "{err}");
        let err = plan(
            &shop(),
            &Selection {
                tables: vec![],
                schemas: vec!["billing".into()],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("no schema \"billing\""), "{err}");
    }
}
