//! A deterministic stream shaped like `pg_dump` output of an application
//! database: pgbench-style accounts, orders with JSON attributes and notes,
//! and an event log with less compressible payloads.
//!
//! A "day of churn" is modelled the way PostgreSQL's heap behaves: about 1.1 %
//! of rows change; updates fall 70 % on the newest 10 % of keys and 30 %
//! anywhere; half of the updated rows stay in place (HOT updates), the rest
//! move to the end of their table, as new tuple versions do; deleted rows
//! vanish; inserted rows are appended.

use std::collections::HashMap;
use std::io::{self, Write};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "invoice",
    "shipping",
    "customer",
    "priority",
    "refund",
    "warehouse",
    "delivered",
    "pending",
    "express",
    "standard",
    "return",
    "damaged",
    "gift",
    "wrap",
    "discount",
    "coupon",
    "loyalty",
    "member",
    "account",
    "billing",
    "address",
    "updated",
    "confirmed",
    "cancelled",
    "payment",
    "card",
    "transfer",
    "bank",
    "delay",
    "weather",
    "holiday",
    "season",
    "sale",
    "bundle",
    "item",
    "quantity",
    "backorder",
    "supplier",
    "invoice-sent",
    "reminder",
    "call",
    "email",
    "note",
    "checked",
    "by",
    "agent",
    "the",
    "a",
    "of",
    "and",
    "to",
    "for",
    "with",
    "on",
];
const STATUSES: &[&str] = &["new", "paid", "shipped", "delivered", "returned", "cancelled"];

/// Which version of the database to write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Day 0.
    Base,
    /// Day 1: the base after one day of churn.
    Churned,
    /// The base with a few bytes inserted at its start (every offset shifts).
    Shifted,
}

struct Table {
    name: &'static str,
    columns: &'static str,
    rows: u64,
}

fn row(table: usize, key: u64, version: u32, out: &mut Vec<u8>) {
    let mut rng = SmallRng::seed_from_u64((table as u64) << 56 ^ key << 8 ^ u64::from(version));
    match table {
        0 => {
            // pgbench_accounts: aid, bid, abalance, filler
            let _ = writeln!(
                out,
                "{key}\t{}\t{}\t{:84}",
                key / 100_000 + 1,
                rng.gen_range(-5000..5000) * i64::from(version.min(1)),
                ""
            );
        }
        1 => {
            let words: Vec<&str> = (0..rng.gen_range(3..14)).map(|_| WORDS[rng.gen_range(0..WORDS.len())]).collect();
            let _ = writeln!(
                out,
                "{key}\t{}\t{}\t2026-{:02}-{:02} {:02}:{:02}:{:02}+00\t{}.{:02}\t{{\"sku\": \"SKU-{:06}\", \"qty\": {}, \"tags\": [\"{}\", \"{}\"], \"rev\": {version}}}\t{}",
                rng.gen_range(1..200_000),
                STATUSES[rng.gen_range(0..STATUSES.len())],
                1 + key % 12,
                1 + key % 28,
                rng.gen_range(0..24),
                rng.gen_range(0..60),
                rng.gen_range(0..60),
                rng.gen_range(1..2000),
                rng.gen_range(0..100),
                rng.gen_range(0..50_000),
                rng.gen_range(1..20),
                WORDS[rng.gen_range(0..WORDS.len())],
                WORDS[rng.gen_range(0..WORDS.len())],
                words.join(" ")
            );
        }
        _ => {
            let payload: String = (0..rng.gen_range(8..40)).map(|_| format!("{:02x}", rng.gen::<u8>())).collect();
            let _ = writeln!(
                out,
                "{key}\t{}\tevent.{}\t\\\\x{payload}",
                1_790_000_000 + key * 7,
                WORDS[rng.gen_range(0..WORDS.len())]
            );
        }
    }
}

/// Writes a dump of about `target` bytes.
pub fn write_dump(target: u64, variant: Variant, out: &mut dyn Write) -> io::Result<u64> {
    let names = [
        ("pgbench_accounts", "aid, bid, abalance, filler"),
        ("orders", "id, customer_id, status, created_at, amount, attributes, note"),
        ("events", "id, at, kind, payload"),
    ];
    let shares = [0.3, 0.5, 0.2];
    let mut tables = Vec::new();
    for (i, (name, columns)) in names.iter().enumerate() {
        let mut sample = Vec::new();
        for k in 0..2000 {
            row(i, k, 0, &mut sample);
        }
        let average = sample.len() as f64 / 2000.0;
        tables.push(Table {
            name,
            columns,
            rows: (target as f64 * shares[i] / average) as u64,
        });
    }
    let mut written = 0u64;
    let mut buf = Vec::with_capacity(1 << 20);
    if variant == Variant::Shifted {
        buf.extend_from_slice(b"-- dumped again, with a different header line\n");
    }
    buf.extend_from_slice(
        b"--\n-- PostgreSQL database dump (Lifeboat benchmark stream)\n--\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n",
    );
    for (t, table) in tables.iter().enumerate() {
        let _ = writeln!(buf, "COPY public.{} ({}) FROM stdin;", table.name, table.columns);
        let churn = (variant == Variant::Churned).then(|| plan_churn(t, table.rows));
        let mut moved = Vec::new();
        for key in 0..table.rows {
            match churn.as_ref().and_then(|c| c.get(&key)) {
                None => row(t, key, 0, &mut buf),
                Some(Change::Delete) => {}
                Some(Change::UpdateInPlace) => row(t, key, 1, &mut buf),
                Some(Change::UpdateMoved) => moved.push(key),
            }
            if buf.len() >= 1 << 20 {
                out.write_all(&buf)?;
                written += buf.len() as u64;
                buf.clear();
            }
        }
        for key in moved {
            row(t, key, 1, &mut buf);
        }
        if variant == Variant::Churned {
            for key in table.rows..table.rows + table.rows * 4 / 1000 {
                row(t, key, 0, &mut buf);
            }
        }
        buf.extend_from_slice(b"\\.\n\n");
    }
    buf.extend_from_slice(b"--\n-- PostgreSQL database dump complete\n--\n");
    out.write_all(&buf)?;
    written += buf.len() as u64;
    Ok(written)
}

enum Change {
    Delete,
    UpdateInPlace,
    UpdateMoved,
}

/// One day's changes to a table: 0.6 % of rows updated (70 % among the
/// newest tenth of keys), 0.1 % deleted; inserts (0.4 %) are appended.
fn plan_churn(table: usize, rows: u64) -> HashMap<u64, Change> {
    let mut rng = SmallRng::seed_from_u64(0xc4a2 + table as u64);
    let mut changes = HashMap::new();
    let recent_start = rows - rows / 10;
    for _ in 0..rows * 6 / 1000 {
        let key = if rng.gen_bool(0.7) {
            rng.gen_range(recent_start..rows)
        } else {
            rng.gen_range(0..rows)
        };
        changes.insert(
            key,
            if rng.gen_bool(0.5) {
                Change::UpdateInPlace
            } else {
                Change::UpdateMoved
            },
        );
    }
    for _ in 0..rows / 1000 {
        changes.insert(rng.gen_range(0..rows), Change::Delete);
    }
    changes
}
