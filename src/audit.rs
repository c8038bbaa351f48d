//! The audit log: every security-relevant event, append-only and hash-chained.
//!
//! Row n's hash is SHA-256 over row n-1's hash and every column of row n in a length-prefixed
//! encoding (so no two different rows encode alike). The newest (seq, hash) is kept as the chain
//! *head* and updated in the same transaction as each append, so deleting the newest rows is
//! caught as well as editing, inserting or deleting any other row. Retention deletes the oldest
//! rows and moves the *anchor* (seq and hash of the last deleted row) forward; verification starts
//! from the anchor, and each prune is itself logged, so the cut is on the record.
//!
//! Limits, stated so nobody over-trusts it: the chain is unkeyed, so someone who can write the
//! database file can rewrite the whole tail consistently. Copy the head printed by
//! `shelfwarden audit verify` somewhere else (or ship the log off the box) to detect that.

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::store::StoreResult;
use crate::store::audit::{self as db, AuditRow};

pub use crate::store::audit::AuditFilter;

/// `prev_hash` of the first row ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Longer user agents are cut so a client cannot bloat the log.
const MAX_USER_AGENT: usize = 512;
pub const MAX_PAGE: i64 = 500;

/// What happened. Stored as its dotted name; unknown names read back as `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    LoginSuccess,
    LoginFailure,
    LoginThrottled,
    LoginLocked,
    Logout,
    RefreshFailure,
    PasswordChange,
    PasswordReset,
    TwoFactorEnable,
    TwoFactorDisable,
    PasskeyAdd,
    PasskeyRemove,
    UserCreate,
    UserUpdate,
    UserDelete,
    UserDisable,
    PermissionsChange,
    SessionRevoke,
    ApiKeyCreate,
    ApiKeyUpdate,
    ApiKeyRevoke,
    ApiKeyDelete,
    ApiKeyUseRefused,
    SettingsChange,
    LibraryCreate,
    LibraryUpdate,
    LibraryDelete,
    BackupCreate,
    BackupRestore,
    AllowlistRefused,
    ServerInit,
    AuditPrune,
    ListeningSessionDelete,
    Other(String),
}

impl Action {
    pub fn as_str(&self) -> &str {
        match self {
            Action::LoginSuccess => "login.success",
            Action::LoginFailure => "login.failure",
            Action::LoginThrottled => "login.throttled",
            Action::LoginLocked => "login.locked",
            Action::Logout => "logout",
            Action::RefreshFailure => "refresh.failure",
            Action::PasswordChange => "password.change",
            Action::PasswordReset => "password.reset",
            Action::TwoFactorEnable => "2fa.enable",
            Action::TwoFactorDisable => "2fa.disable",
            Action::PasskeyAdd => "passkey.add",
            Action::PasskeyRemove => "passkey.remove",
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::UserDelete => "user.delete",
            Action::UserDisable => "user.disable",
            Action::PermissionsChange => "user.permissions",
            Action::SessionRevoke => "session.revoke",
            Action::ApiKeyCreate => "apikey.create",
            Action::ApiKeyUpdate => "apikey.update",
            Action::ApiKeyRevoke => "apikey.revoke",
            Action::ApiKeyDelete => "apikey.delete",
            Action::ApiKeyUseRefused => "apikey.refused",
            Action::SettingsChange => "settings.change",
            Action::LibraryCreate => "library.create",
            Action::LibraryUpdate => "library.update",
            Action::LibraryDelete => "library.delete",
            Action::BackupCreate => "backup.create",
            Action::BackupRestore => "backup.restore",
            Action::AllowlistRefused => "allowlist.refused",
            Action::ServerInit => "server.init",
            Action::AuditPrune => "audit.prune",
            Action::ListeningSessionDelete => "listening_session.delete",
            Action::Other(s) => s,
        }
    }
}

/// An event to append. Build with `AuditEvent::new(action)` and the setters.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub actor_user_id: Option<String>,
    pub actor_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: Action,
    pub target: Option<String>,
    /// Free-form; by convention `{"before": …, "after": …}` for changes. Never put secrets here.
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(action: Action) -> AuditEvent {
        AuditEvent {
            actor_user_id: None,
            actor_name: None,
            ip: None,
            user_agent: None,
            action,
            target: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }
    pub fn actor(mut self, user_id: impl Into<String>, name: impl Into<String>) -> Self {
        self.actor_user_id = Some(user_id.into());
        self.actor_name = Some(name.into());
        self
    }
    /// A name only, for a failed login by a user who may not exist.
    pub fn actor_name(mut self, name: impl Into<String>) -> Self {
        self.actor_name = Some(name.into());
        self
    }
    pub fn client(mut self, ip: IpAddr, user_agent: Option<&str>) -> Self {
        self.ip = Some(ip.to_string());
        self.user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        self
    }
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
    pub fn change(self, before: impl Serialize, after: impl Serialize) -> Self {
        let before = serde_json::to_value(before).unwrap_or(serde_json::Value::Null);
        let after = serde_json::to_value(after).unwrap_or(serde_json::Value::Null);
        self.details(serde_json::json!({ "before": before, "after": after }))
    }
}

/// A stored event as the admin API and the export show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor_user_id: Option<String>,
    pub actor_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            details: serde_json::from_str(&r.details)
                .unwrap_or(serde_json::Value::String(r.details)),
            seq: r.seq,
            at: r.at,
            actor_user_id: r.actor_user_id,
            actor_name: r.actor_name,
            ip: r.ip,
            user_agent: r.user_agent,
            action: r.action,
            target: r.target,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn put_opt(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put_str(h, s);
        }
    }
}

/// The canonical hash of a row (its own `hash` column is not an input).
pub fn row_hash(r: &AuditRow) -> String {
    let mut h = Sha256::new();
    h.update(b"shelfwarden.audit.v1\0");
    put_str(&mut h, &r.prev_hash);
    h.update(r.seq.to_be_bytes());
    h.update(r.at.to_be_bytes());
    put_opt(&mut h, r.actor_user_id.as_deref());
    put_opt(&mut h, r.actor_name.as_deref());
    put_opt(&mut h, r.ip.as_deref());
    put_opt(&mut h, r.user_agent.as_deref());
    put_str(&mut h, &r.action);
    put_opt(&mut h, r.target.as_deref());
    put_str(&mut h, &r.details);
    hex::encode(h.finalize())
}

/// Appends `event` at `now_ms`. Call it inside the caller's write transaction (`Store::write`), so
/// the event commits or rolls back with the change it records.
pub fn append(
    conn: &rusqlite::Connection,
    event: &AuditEvent,
    now_ms: i64,
) -> StoreResult<AuditRecord> {
    let (prev_seq, prev_hash) = match db::chain_get(conn, "head")? {
        Some(head) => head,
        None => {
            // Rebuilding a missing head from the table would hide a deleted tail; refuse instead.
            if db::count(conn)? > 0 {
                return Err(AppError::internal(
                    "audit chain head is missing; run `shelfwarden audit verify`",
                ));
            }
            db::chain_get(conn, "anchor")?.unwrap_or((0, GENESIS.to_string()))
        }
    };
    let mut row = AuditRow {
        seq: prev_seq + 1,
        at: now_ms,
        actor_user_id: event.actor_user_id.clone(),
        actor_name: event.actor_name.clone(),
        ip: event.ip.clone(),
        user_agent: event.user_agent.clone(),
        action: event.action.as_str().to_string(),
        target: event.target.clone(),
        details: event.details.to_string(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = row_hash(&row);
    db::insert(conn, &row)?;
    db::chain_put(conn, "head", row.seq, &row.hash)?;
    Ok(row.into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub rows: u64,
    /// The retention anchor the chain starts from (0 = nothing pruned).
    pub anchor_seq: i64,
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason}")]
pub struct ChainBroken {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Broken(#[from] ChainBroken),
    #[error(transparent)]
    Store(#[from] AppError),
}

fn broken(seq: i64, reason: impl Into<String>) -> VerifyError {
    VerifyError::Broken(ChainBroken {
        seq,
        reason: reason.into(),
    })
}

/// Walks the whole chain from the anchor to the head.
pub fn verify(conn: &rusqlite::Connection) -> Result<VerifyReport, VerifyError> {
    let anchor = db::chain_get(conn, "anchor")?;
    let head = db::chain_get(conn, "head")?;
    let (anchor_seq, anchor_hash) = anchor.clone().unwrap_or((0, GENESIS.to_string()));
    let (mut seq, mut hash) = (anchor_seq, anchor_hash);
    let mut rows = 0u64;
    db::for_each(conn, |r: AuditRow| {
        if r.seq <= anchor_seq {
            return Err(broken(r.seq, "row at or before the retention anchor"));
        }
        if r.seq != seq + 1 {
            return Err(broken(
                seq + 1,
                format!("row missing (next row present is {})", r.seq),
            ));
        }
        if r.prev_hash != hash {
            return Err(broken(r.seq, "prev_hash does not match the previous row"));
        }
        if row_hash(&r) != r.hash {
            return Err(broken(r.seq, "row contents do not match its hash (edited)"));
        }
        seq = r.seq;
        hash = r.hash;
        rows += 1;
        Ok(())
    })?;
    match head {
        None if rows == 0 && anchor.is_none() => {}
        None => return Err(broken(seq, "chain head is missing")),
        Some((head_seq, head_hash)) => {
            if head_seq > seq {
                return Err(broken(
                    seq + 1,
                    format!("rows {}..={head_seq} were deleted", seq + 1),
                ));
            }
            if head_seq < seq {
                return Err(broken(head_seq + 1, "rows appended outside the chain head"));
            }
            if head_hash != hash {
                return Err(broken(seq, "newest row does not match the chain head"));
            }
        }
    }
    Ok(VerifyReport {
        rows,
        anchor_seq,
        head_seq: seq,
        head_hash: hash,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub deleted: u64,
    pub anchor_seq: i64,
}

/// Retention: deletes every row older than `before_ms` (a prefix of the chain) and moves the anchor
/// to the last deleted row. Refuses on a broken chain, since pruning would destroy the evidence.
pub fn prune_before(
    conn: &rusqlite::Connection,
    before_ms: i64,
    now_ms: i64,
) -> Result<PruneReport, VerifyError> {
    let report = verify(conn)?;
    let last = match db::first_seq_since(conn, before_ms)? {
        Some(first_kept) => first_kept - 1,
        None => report.head_seq,
    };
    if last <= report.anchor_seq {
        return Ok(PruneReport {
            deleted: 0,
            anchor_seq: report.anchor_seq,
        });
    }
    let row = db::by_seq(conn, last)?.ok_or_else(|| broken(last, "row missing"))?;
    // The anchor moves first: the delete trigger only lets rows at or before it go.
    db::chain_put(conn, "anchor", row.seq, &row.hash)?;
    let deleted = db::delete_through(conn, row.seq)? as u64;
    append(
        conn,
        &AuditEvent::new(Action::AuditPrune).details(serde_json::json!({
            "before": before_ms,
            "deleted": deleted,
            "anchorSeq": row.seq,
            "anchorHash": row.hash,
        })),
        now_ms,
    )?;
    Ok(PruneReport {
        deleted,
        anchor_seq: row.seq,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub total: i64,
    pub page: i64,
    pub limit: i64,
    pub events: Vec<AuditRecord>,
}

/// One page (0-based) of matching events, newest first; `limit` is clamped to 1..=500.
pub fn query(
    conn: &rusqlite::Connection,
    filter: &AuditFilter,
    page: i64,
    limit: i64,
) -> StoreResult<AuditPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let page = page.max(0);
    let (total, rows) = db::query(conn, filter, page.saturating_mul(limit), limit)?;
    Ok(AuditPage {
        total,
        page,
        limit,
        events: rows.into_iter().map(AuditRecord::from).collect(),
    })
}

/// Writes matching events as JSON lines, oldest first, hashes included; returns the count.
pub fn export_jsonl(
    conn: &rusqlite::Connection,
    filter: &AuditFilter,
    out: &mut dyn Write,
) -> StoreResult<u64> {
    let mut n = 0u64;
    db::for_each_matching(conn, filter, |row: AuditRow| -> StoreResult<()> {
        let rec = AuditRecord::from(row);
        serde_json::to_writer(&mut *out, &rec).map_err(AppError::internal)?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::Store;

    const T0: i64 = 1_800_000_000_000;

    fn setup(n: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        store
            .write_blocking(|tx| {
                for i in 0..n {
                    let ev = AuditEvent::new(if i % 2 == 0 {
                        Action::LoginFailure
                    } else {
                        Action::UserUpdate
                    })
                    .actor(format!("u{}", i % 3), format!("user{}", i % 3))
                    .client("198.51.100.7".parse().unwrap(), Some("test-agent"))
                    .target(format!("t{i}"))
                    .change(serde_json::json!({"n": i}), serde_json::json!({"n": i + 1}));
                    append(tx, &ev, T0 + i * 1000)?;
                }
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    fn verify_store(store: &Store) -> Result<VerifyReport, VerifyError> {
        store.read_blocking(|c| Ok(verify(c))).unwrap()
    }

    /// Simulates an attacker with the database file: triggers off, then raw SQL.
    fn tamper(store: &Store, sql: &str) {
        store
            .write_blocking(|tx| {
                tx.execute_batch(&format!(
                    "DROP TRIGGER IF EXISTS audit_events_no_update;
                     DROP TRIGGER IF EXISTS audit_events_prune_only;
                     {sql}"
                ))?;
                Ok(())
            })
            .unwrap();
    }

    fn broken_at(store: &Store) -> i64 {
        match verify_store(store) {
            Err(VerifyError::Broken(b)) => b.seq,
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn intact_chain_verifies() {
        let (_d, store) = setup(10);
        let r = verify_store(&store).unwrap();
        assert_eq!((r.rows, r.anchor_seq, r.head_seq), (10, 0, 10));
        let (_d, empty) = setup(0);
        assert_eq!(verify_store(&empty).unwrap().rows, 0);
    }

    #[test]
    fn editing_any_column_breaks_verify() {
        for (col, val) in [
            ("at", "0"),
            ("actor_user_id", "'evil'"),
            ("actor_name", "NULL"),
            ("ip", "'10.0.0.1'"),
            ("user_agent", "'x'"),
            ("action", "'login.success'"),
            ("target", "'t999'"),
            ("details", "'{}'"),
            ("prev_hash", "'00'"),
            ("hash", "'00'"),
        ] {
            let (_d, store) = setup(6);
            tamper(
                &store,
                &format!("UPDATE audit_events SET {col} = {val} WHERE seq = 3"),
            );
            let at = broken_at(&store);
            assert!(at == 3 || at == 4, "{col}: broken at {at}");
        }
    }

    #[test]
    fn the_app_cannot_update_or_delete_rows() {
        let (_d, store) = setup(3);
        let upd = store.write_blocking(|tx| {
            tx.execute("UPDATE audit_events SET ip = 'x' WHERE seq = 1", [])?;
            Ok(())
        });
        assert!(upd.is_err());
        let del = store.write_blocking(|tx| {
            tx.execute("DELETE FROM audit_events WHERE seq = 3", [])?;
            Ok(())
        });
        assert!(del.is_err());
        verify_store(&store).unwrap();
    }

    #[test]
    fn deleting_rows_breaks_verify() {
        let (_d, store) = setup(6);
        tamper(&store, "DELETE FROM audit_events WHERE seq = 3");
        assert_eq!(broken_at(&store), 3);

        let (_d, store) = setup(6);
        tamper(&store, "DELETE FROM audit_events WHERE seq = 6");
        assert_eq!(broken_at(&store), 6);

        let (_d, store) = setup(6);
        tamper(&store, "DELETE FROM audit_events WHERE seq = 1");
        assert_eq!(broken_at(&store), 1);

        // Deleting the newest row and rewinding the head to match is not enough either…
        let (_d, store) = setup(6);
        tamper(
            &store,
            "DELETE FROM audit_events WHERE seq = 6; DELETE FROM audit_chain WHERE name = 'head';",
        );
        assert_eq!(broken_at(&store), 5);
        // …and the app refuses to write on top of a headless chain.
        let r = store.write_blocking(|tx| append(tx, &AuditEvent::new(Action::Logout), T0));
        assert!(r.is_err());
    }

    #[test]
    fn inserting_a_row_breaks_verify() {
        let (_d, store) = setup(4);
        tamper(
            &store,
            "INSERT INTO audit_events (seq, at, action, details, prev_hash, hash)
             SELECT 5, at, 'login.success', '{}', hash, 'x' FROM audit_events WHERE seq = 4",
        );
        assert_eq!(broken_at(&store), 5);
    }

    #[test]
    fn prune_keeps_verify_passing() {
        let (_d, store) = setup(10);
        let now = T0 + 100_000;
        let r = store
            .write_blocking(|tx| prune_before(tx, T0 + 4_000, now).map_err(AppError::internal))
            .unwrap();
        assert_eq!(
            r,
            PruneReport {
                deleted: 4,
                anchor_seq: 4
            }
        );
        let v = verify_store(&store).unwrap();
        assert_eq!((v.rows, v.anchor_seq, v.head_seq), (7, 4, 11));
        // The prune is on the record.
        let page = store
            .read_blocking(|c| {
                query(
                    c,
                    &AuditFilter {
                        action: Some("audit.prune".into()),
                        ..Default::default()
                    },
                    0,
                    10,
                )
            })
            .unwrap();
        assert_eq!(page.total, 1);
        // Nothing more to prune; then prune everything; appending continues the chain.
        store
            .write_blocking(|tx| {
                let r = prune_before(tx, T0 + 4_000, now).map_err(AppError::internal)?;
                assert_eq!(r.deleted, 0);
                let r = prune_before(tx, now + 1, now + 2).map_err(AppError::internal)?;
                assert_eq!(r.deleted, 7);
                append(tx, &AuditEvent::new(Action::Logout), now + 3)?;
                Ok(())
            })
            .unwrap();
        let v = verify_store(&store).unwrap();
        assert_eq!((v.rows, v.anchor_seq, v.head_seq), (2, 11, 13));
        // Tampering after a prune is still caught.
        tamper(
            &store,
            "UPDATE audit_events SET ip = '1.2.3.4' WHERE seq = 13",
        );
        assert_eq!(broken_at(&store), 13);
    }

    #[test]
    fn prune_refuses_a_broken_chain() {
        let (_d, store) = setup(5);
        tamper(
            &store,
            "UPDATE audit_events SET ip = '1.2.3.4' WHERE seq = 2",
        );
        let r = store.write_blocking(|tx| {
            Ok(matches!(
                prune_before(tx, T0 + 10_000, T0 + 20_000),
                Err(VerifyError::Broken(_))
            ))
        });
        assert!(r.unwrap());
    }

    #[test]
    fn query_filters_and_pages() {
        let (_d, store) = setup(10);
        store
            .read_blocking(|c| {
                let all = query(c, &AuditFilter::default(), 0, 3)?;
                assert_eq!(all.total, 10);
                assert_eq!(
                    all.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
                    [10, 9, 8]
                );
                let p2 = query(c, &AuditFilter::default(), 3, 3)?;
                assert_eq!(p2.events.len(), 1);
                let f = AuditFilter {
                    action: Some("login.*".into()),
                    ..Default::default()
                };
                assert_eq!(query(c, &f, 0, 100)?.total, 5);
                let f = AuditFilter {
                    action: Some("user.update".into()),
                    actor: Some("USER1".into()),
                    ..Default::default()
                };
                let r = query(c, &f, 0, 100)?;
                assert!(
                    r.events
                        .iter()
                        .all(|e| e.action == "user.update"
                            && e.actor_user_id.as_deref() == Some("u1"))
                );
                assert_eq!(r.total, 2);
                let f = AuditFilter {
                    since: Some(T0 + 2_000),
                    until: Some(T0 + 5_000),
                    ..Default::default()
                };
                assert_eq!(query(c, &f, 0, 100)?.total, 3);
                let f = AuditFilter {
                    target: Some("t7".into()),
                    ..Default::default()
                };
                let r = query(c, &f, 0, 100)?;
                assert_eq!(r.total, 1);
                assert_eq!(r.events[0].details["after"]["n"], 8);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn export_writes_json_lines() {
        let (_d, store) = setup(4);
        let mut buf = Vec::new();
        let n = store
            .read_blocking(|c| export_jsonl(c, &AuditFilter::default(), &mut buf))
            .unwrap();
        assert_eq!(n, 4);
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["seq"], 1);
        assert_eq!(lines[0]["prevHash"], GENESIS);
        assert_eq!(lines[3]["userAgent"], "test-agent");
    }
}
