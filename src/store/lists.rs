//! Collections (shared, per library) and playlists (per user): named, ordered lists of books.
//! Both have the same shape here; `ListKind` names the tables.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Collection,
    Playlist,
}

impl ListKind {
    fn table(self) -> &'static str {
        match self {
            ListKind::Collection => "collections",
            ListKind::Playlist => "playlists",
        }
    }
    fn members(self) -> &'static str {
        match self {
            ListKind::Collection => "collection_items",
            ListKind::Playlist => "playlist_items",
        }
    }
    fn parent(self) -> &'static str {
        match self {
            ListKind::Collection => "collection_id",
            ListKind::Playlist => "playlist_id",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub kind: ListKind,
    pub id: String,
    pub library_id: String,
    /// The owner of a playlist; None for a collection.
    pub user_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// Item ids in list order.
    pub item_ids: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn member_ids(conn: &Connection, kind: ListKind, id: &str) -> StoreResult<Vec<String>> {
    let sql = format!(
        "SELECT item_id FROM {} WHERE {} = ?1 ORDER BY position, created_at",
        kind.members(),
        kind.parent()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn select(kind: ListKind, filter: &str) -> String {
    let owner = match kind {
        ListKind::Collection => "NULL",
        ListKind::Playlist => "user_id",
    };
    format!(
        "SELECT id, library_id, {owner}, name, description, created_at, updated_at FROM {}
         WHERE {filter} ORDER BY name COLLATE NOCASE, created_at",
        kind.table()
    )
}

fn query(
    conn: &Connection,
    kind: ListKind,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<List>> {
    let mut stmt = conn.prepare_cached(&select(kind, filter))?;
    let rows = stmt.query_map(args, |r| {
        Ok(List {
            kind,
            id: r.get(0)?,
            library_id: r.get(1)?,
            user_id: r.get(2)?,
            name: r.get(3)?,
            description: r.get(4)?,
            item_ids: Vec::new(),
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
        })
    })?;
    let mut lists: Vec<List> = rows.collect::<Result<_, _>>()?;
    for list in &mut lists {
        list.item_ids = member_ids(conn, kind, &list.id)?;
    }
    Ok(lists)
}

pub fn get(conn: &Connection, kind: ListKind, id: &str) -> StoreResult<Option<List>> {
    Ok(query(conn, kind, "id = ?1", &[&id])?.into_iter().next())
}

/// Every collection of every library.
pub fn all_collections(conn: &Connection) -> StoreResult<Vec<List>> {
    query(conn, ListKind::Collection, "1 = 1", &[])
}

/// Every collection of a library.
pub fn collections_of_library(conn: &Connection, library_id: &str) -> StoreResult<Vec<List>> {
    query(
        conn,
        ListKind::Collection,
        "library_id = ?1",
        &[&library_id],
    )
}

/// A user's playlists, in one library or in all.
pub fn playlists_of_user(
    conn: &Connection,
    user_id: &str,
    library_id: Option<&str>,
) -> StoreResult<Vec<List>> {
    match library_id {
        Some(lib) => query(
            conn,
            ListKind::Playlist,
            "user_id = ?1 AND library_id = ?2",
            &[&user_id, &lib],
        ),
        None => query(conn, ListKind::Playlist, "user_id = ?1", &[&user_id]),
    }
}

/// The playlists of `user_id` that hold `item_id`.
pub fn playlists_with_item(
    conn: &Connection,
    user_id: &str,
    item_id: &str,
) -> StoreResult<Vec<List>> {
    query(
        conn,
        ListKind::Playlist,
        "user_id = ?1 AND id IN (SELECT playlist_id FROM playlist_items WHERE item_id = ?2)",
        &[&user_id, &item_id],
    )
}

/// Inserts a new list with its members.
pub fn create(conn: &Connection, list: &List) -> StoreResult<()> {
    match list.kind {
        ListKind::Collection => conn.execute(
            "INSERT INTO collections (id, library_id, name, description, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                list.id,
                list.library_id,
                list.name,
                list.description,
                list.created_at,
                list.updated_at
            ],
        )?,
        ListKind::Playlist => conn.execute(
            "INSERT INTO playlists (id, library_id, user_id, name, description, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                list.id,
                list.library_id,
                list.user_id,
                list.name,
                list.description,
                list.created_at,
                list.updated_at
            ],
        )?,
    };
    set_members(conn, list.kind, &list.id, &list.item_ids, list.updated_at)
}

/// Stores name, description and members of an existing list.
pub fn update(conn: &Connection, list: &List) -> StoreResult<()> {
    let sql = format!(
        "UPDATE {} SET name = ?2, description = ?3, updated_at = ?4 WHERE id = ?1",
        list.kind.table()
    );
    conn.execute(
        &sql,
        params![list.id, list.name, list.description, list.updated_at],
    )?;
    set_members(conn, list.kind, &list.id, &list.item_ids, list.updated_at)
}

fn set_members(
    conn: &Connection,
    kind: ListKind,
    id: &str,
    item_ids: &[String],
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        &format!(
            "DELETE FROM {} WHERE {} = ?1",
            kind.members(),
            kind.parent()
        ),
        [id],
    )?;
    let sql = format!(
        "INSERT OR IGNORE INTO {} ({}, item_id, position, created_at) VALUES (?1, ?2, ?3, ?4)",
        kind.members(),
        kind.parent()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for (position, item) in item_ids.iter().enumerate() {
        stmt.execute(params![id, item, position as i64, now])?;
    }
    Ok(())
}

pub fn delete(conn: &Connection, kind: ListKind, id: &str) -> StoreResult<bool> {
    let sql = format!("DELETE FROM {} WHERE id = ?1", kind.table());
    Ok(conn.execute(&sql, [id])? > 0)
}

/// Whether an item exists (members must be real items of the list's library).
pub fn item_in_library(conn: &Connection, item_id: &str, library_id: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM items WHERE id = ?1 AND library_id = ?2")?
        .query_row([item_id, library_id], |_| Ok(()))
        .optional()?
        .is_some())
}
