//! Collections and playlists.

use rusqlite::{Connection, params};

use super::report::Report;
use super::write::{Ctx, Imported, begin_row, end_row};
use crate::store::StoreResult;

/// Collections (per library) and playlists (per user), ids kept, members in ABS's order.
pub fn lists(tx: &Connection, ctx: &Ctx, r: &mut Report, out: &Imported) -> StoreResult<()> {
    let d = ctx.data;
    for (kind, rows, members, parent_col) in [
        (
            "collections",
            &d.collections,
            &d.collection_books,
            "collectionId",
        ),
        ("playlists", &d.playlists, &d.playlist_items, "playlistId"),
    ] {
        r.found(kind, rows.len());
        for c in rows {
            let (id, name, lib) = (c.id(), c.text("name"), c.text("libraryId"));
            let user_id = c.text("userId");
            if !out.libraries.contains(&lib) {
                r.skip(kind, &id, &name, "its library is not imported");
                continue;
            }
            if kind == "playlists" && !out.users.contains(&user_id) {
                r.skip(kind, &id, &name, "its user is not imported");
                continue;
            }
            let (table, member_table) = if kind == "collections" {
                ("collections", "collection_items")
            } else {
                ("playlists", "playlist_items")
            };
            let q = [
                format!("SELECT * FROM {table} WHERE id = ?1"),
                format!(
                    "SELECT * FROM {member_table} WHERE {}_id = ?1 ORDER BY position",
                    &table[..table.len() - 1]
                ),
            ];
            let q: Vec<&str> = q.iter().map(String::as_str).collect();
            let before = begin_row(tx, &q, &[&id])?;
            let created = c.t("createdAt").unwrap_or(0);
            let updated = c.t("updatedAt").unwrap_or(created);
            if kind == "collections" {
                tx.execute(
                    "INSERT INTO collections (id, library_id, name, description, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, name = excluded.name,
                         description = excluded.description, created_at = excluded.created_at, updated_at = excluded.updated_at",
                    params![id, lib, name, c.opt("description"), created, updated],
                )?;
                tx.execute(
                    "DELETE FROM collection_items WHERE collection_id = ?1",
                    [&id],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO playlists (id, library_id, user_id, name, description, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, user_id = excluded.user_id,
                         name = excluded.name, description = excluded.description, created_at = excluded.created_at,
                         updated_at = excluded.updated_at",
                    params![id, lib, user_id, name, c.opt("description"), created, updated],
                )?;
                tx.execute("DELETE FROM playlist_items WHERE playlist_id = ?1", [&id])?;
            }
            let mut position = 0i64;
            for m in members.iter().filter(|m| m.text(parent_col) == id) {
                let book_id = if kind == "collections" {
                    m.text("bookId")
                } else {
                    m.text("mediaItemId")
                };
                if kind == "playlists" && m.text("mediaItemType") != "book" {
                    r.skip(
                        kind,
                        &id,
                        &name,
                        "a podcast episode in it was left out (podcasts are not supported yet)",
                    );
                    continue;
                }
                let Some(item_id) = out.book_to_item.get(&book_id) else {
                    r.skip(
                        kind,
                        &id,
                        &name,
                        format!("book {book_id} in it is not imported"),
                    );
                    continue;
                };
                position += 1;
                let sql = if kind == "collections" {
                    "INSERT OR IGNORE INTO collection_items (collection_id, item_id, position, created_at) VALUES (?1, ?2, ?3, ?4)"
                } else {
                    "INSERT OR IGNORE INTO playlist_items (playlist_id, item_id, episode_id, position, created_at) VALUES (?1, ?2, '', ?3, ?4)"
                };
                tx.execute(
                    sql,
                    params![id, item_id, position, m.t("createdAt").unwrap_or(created)],
                )?;
            }
            r.record(kind, end_row(tx, &q, &[&id], before)?);
        }
    }
    Ok(())
}
