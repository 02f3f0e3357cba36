//! `replyd copy-store --from sqlite:PATH --to postgres://…`: moves an installation from its
//! SQLite file into an empty PostgreSQL database (`crate::store::postgres::copy_from_sqlite`
//! does the copy and its checks), then prints what was copied.

use crate::config::StoreConfig;
use std::path::Path;

pub(super) fn main(
    from: &str,
    to: &str,
    store: &StoreConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = from.strip_prefix("sqlite:") else {
        return Err(format!("--from {from:?}: expected sqlite:PATH").into());
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err("--to: expected a postgres:// URL".into());
    }
    let destination = StoreConfig {
        url: Some(to.to_string()),
        ..store.clone()
    };
    let copied = crate::store::postgres::copy_from_sqlite(Path::new(path), &destination)?;
    for (table, rows) in &copied {
        println!("{table}: {rows} rows");
    }
    println!("copied and checked: the same rows in every table, the same bytes for raw messages and attachments");
    Ok(())
}
