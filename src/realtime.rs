//! Socket.IO (v4 clients; Engine.IO 4) at `/socket.io` and `/audiobookshelf/socket.io`, as ABS
//! serves it. A client emits `auth` with its token; until then it receives nothing. Each
//! authenticated socket joins the rooms `user:<id>` and `auth` (and `admin` for admins).

use serde::Serialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::layer::SocketIoLayer;

use crate::app::AppState;
use crate::auth::extract::authenticate;

const PATHS: [&str; 2] = ["/socket.io", "/audiobookshelf/socket.io"];
const ROOM_AUTHENTICATED: &str = "auth";
const ROOM_ADMINS: &str = "admin";

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
            io.ns("/", async move |socket: SocketRef| {
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
