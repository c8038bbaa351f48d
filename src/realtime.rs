//! Socket.IO (v4 clients; Engine.IO 4) at `/socket.io` and `/audiobookshelf/socket.io`, as ABS
//! serves it. A client emits `auth` with its token; until then it receives nothing. Each
//! authenticated socket joins the rooms `user:<id>` and `auth` (and `admin` for admins).

use serde::Serialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::layer::SocketIoLayer;

use crate::access;
use crate::app::AppState;
use crate::auth::extract::authenticate;
use crate::http::abs::items_json;
use crate::store::users;

const PATHS: [&str; 2] = ["/socket.io", "/audiobookshelf/socket.io"];
const ROOM_AUTHENTICATED: &str = "auth";
const ROOM_ADMINS: &str = "admin";
/// Items per `items_added`/`items_updated` frame.
const ITEMS_PER_EVENT: usize = 100;

fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

#[derive(Clone)]
pub struct Realtime {
    ios: Vec<SocketIo>,
}

impl Realtime {
    /// The handle and the tower layers that serve the two Socket.IO paths.
    pub fn new() -> (Realtime, Vec<SocketIoLayer>) {
        let mut ios = Vec::new();
        let mut layers = Vec::new();
        for path in PATHS {
            let (layer, io) = SocketIo::builder().req_path(path).build_layer();
            ios.push(io);
            layers.push(layer);
        }
        (Realtime { ios }, layers)
    }

    /// Registers the namespace handlers; they need the finished application state.
    pub fn install(&self, state: &AppState) {
        for io in &self.ios {
            let state = state.clone();
            // The handlers are registered in the closure itself, which socketioxide calls inline
            // right after the CONNECT ack; only the (empty) future it returns is spawned. Inside an
            // async body they were registered from a spawned task, and an `auth` sent at once by
            // a fast client could arrive first and be dropped.
            io.ns("/", move |socket: SocketRef| {
                let state = state.clone();
                socket.on(
                    "auth",
                    async move |socket: SocketRef, Data(payload): Data<Value>| {
                        on_auth(&state, socket, payload).await;
                    },
                );
                socket.on("ping", async |socket: SocketRef| {
                    let _ = socket.emit("pong", &Value::Null);
                });
                std::future::ready(())
            });
        }
    }

    async fn emit_room<T: Serialize + ?Sized>(&self, room: String, event: &str, data: &T) {
        for io in &self.ios {
            if let Err(e) = io.to(room.clone()).emit(event, data).await {
                tracing::debug!(%event, error = %e, "socket broadcast failed");
            }
        }
    }

    pub async fn to_user<T: Serialize + ?Sized>(&self, user_id: &str, event: &str, data: &T) {
        self.emit_room(user_room(user_id), event, data).await;
    }

    pub async fn to_admins<T: Serialize + ?Sized>(&self, event: &str, data: &T) {
        self.emit_room(ROOM_ADMINS.to_string(), event, data).await;
    }

    pub async fn to_authenticated<T: Serialize + ?Sized>(&self, event: &str, data: &T) {
        self.emit_room(ROOM_AUTHENTICATED.to_string(), event, data)
            .await;
    }

    /// ABS's `items_added` / `items_updated` after a scan: each online user receives the expanded
    /// items they may see (library access, explicit content, tags), in chunks so a first scan of a
    /// large library does not become one enormous frame. Missing items go out as updated ones
    /// (`isMissing: true`), as ABS's scanner sends them.
    pub async fn items_changed(
        &self,
        state: &AppState,
        library_id: &str,
        added: &[String],
        updated: &[String],
    ) {
        if added.is_empty() && updated.is_empty() {
            return;
        }
        let index = match state.catalog.library(&state.store, library_id).await {
            Ok(Some(index)) => index,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "items_changed: library not loaded");
                return;
            }
        };
        for user_id in self.online_user_ids() {
            let uid = user_id.clone();
            let user = match state.store.read(move |c| users::by_id(c, &uid)).await {
                Ok(Some(u)) if u.is_active => u,
                _ => continue,
            };
            for (event, ids) in [("items_added", added), ("items_updated", updated)] {
                let visible: Vec<Value> = ids
                    .iter()
                    .filter_map(|id| index.item(id))
                    .filter(|item| access::can_see_item(&user, item))
                    .map(|item| items_json::expanded(item))
                    .collect();
                for chunk in visible.chunks(ITEMS_PER_EVENT) {
                    self.to_user(&user_id, event, chunk).await;
                }
            }
        }
    }

    /// Whether `user_id` has an authenticated socket, so nobody builds an event no one receives.
    pub fn is_online(&self, user_id: &str) -> bool {
        let room = user_room(user_id);
        self.ios
            .iter()
            .flat_map(|io| io.sockets())
            .any(|s| s.rooms().iter().any(|r| r.as_ref() == room.as_str()))
    }

    /// Ids of users with at least one authenticated socket.
    pub fn online_user_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .ios
            .iter()
            .flat_map(|io| io.sockets())
            .flat_map(|s| s.rooms())
            .filter_map(|r| r.strip_prefix("user:").map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

fn token_of(payload: &Value) -> Option<String> {
    match payload {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("token").and_then(Value::as_str).map(str::to_string),
        Value::Array(a) => a.first().and_then(token_of),
        _ => None,
    }
}

async fn on_auth(state: &AppState, socket: SocketRef, payload: Value) {
    let Some(token) = token_of(&payload) else {
        let _ = socket.emit("auth_failed", &json!({ "message": "Invalid token" }));
        return;
    };
    let user = match authenticate(state, &token, false).await {
        // A session limited to 2FA enrolment must not receive (admin) events.
        Ok(u) if !u.enrol_only() => u.user,
        _ => {
            let _ = socket.emit("auth_failed", &json!({ "message": "Invalid token" }));
            return;
        }
    };
    socket.leave_all();
    socket.join(ROOM_AUTHENTICATED);
    socket.join(user_room(&user.id));
    let mut init = json!({ "userId": user.id, "username": user.username });
    if user.is_admin() {
        socket.join(ROOM_ADMINS);
        if let Some(rt) = &state.realtime {
            init["usersOnline"] = json!(
                rt.online_user_ids()
                    .into_iter()
                    .map(|id| json!({ "id": id }))
                    .collect::<Vec<_>>()
            );
        }
    }
    let _ = socket.emit("init", &init);
    let now = state.now_ms();
    let uid = user.id.clone();
    let _ = state
        .store
        .write(move |tx| crate::store::users::touch_last_seen(tx, &uid, now))
        .await;
    if let Some(rt) = &state.realtime {
        rt.to_admins(
            "user_online",
            &json!({ "id": user.id, "username": user.username, "online": true }),
        )
        .await;
    }
}
