//! The HTTP face: the router (every route in one table), middleware, and request-body helpers.

pub mod abs;
pub mod body;
pub mod cookies;
pub mod files;
pub mod security;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::auth::extract::TrustedProxies;

/// ABS serves every route with and without this prefix; saved app addresses may include it.
pub const ABS_BASE_PATH: &str = "/audiobookshelf";

fn routes() -> Router<AppState> {
    use abs::{
        api_keys, audit, auth, browse, entities, history, items, libraries, lists, me, openid,
        passkeys, playback, progress, security, server, shelves, two_factor, users,
    };
    use axum::routing::{delete, patch};
    Router::new()
        // Public routes: they take no user extractor.
        .route("/ping", get(server::ping))
        .route("/healthcheck", get(server::healthcheck))
        .route("/status", get(server::status))
        .route("/init", post(auth::init))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/auth/refresh", post(auth::refresh))
        .route("/login/2fa", post(two_factor::login_second_step))
        .route(
            "/login/2fa/passkey",
            post(two_factor::login_passkey_options),
        )
        .route("/login/passkey/start", post(passkeys::passwordless_start))
        .route("/login/passkey/finish", post(passkeys::passwordless_finish))
        // ABS's OpenID flows, with Shelfwarden's own login page as the identity provider.
        .route("/auth/openid", get(openid::start))
        .route(
            "/auth/openid/login",
            get(openid::login_page).post(openid::login_submit),
        )
        .route("/auth/openid/mobile-redirect", get(openid::mobile_redirect))
        .route("/auth/openid/callback", get(openid::callback))
        // Authenticated routes: the extractor in each handler's signature decides who may call it.
        .route("/api/authorize", post(auth::authorize))
        .route("/api/me", get(me::me))
        .route("/api/me/password", patch(auth::change_password))
        .route("/api/me/sessions", get(users::my_sessions))
        .route("/api/me/2fa", get(two_factor::status))
        .route("/api/me/2fa/totp/enroll", post(two_factor::totp_enroll))
        .route("/api/me/2fa/totp/confirm", post(two_factor::totp_confirm))
        .route("/api/me/2fa/totp", delete(two_factor::totp_remove))
        .route(
            "/api/me/2fa/recovery-codes",
            post(two_factor::regenerate_recovery),
        )
        .route("/api/me/2fa/step-up", post(two_factor::step_up))
        .route("/api/me/passkeys", get(passkeys::list))
        .route(
            "/api/me/passkeys/register/start",
            post(passkeys::register_start),
        )
        .route(
            "/api/me/passkeys/register/finish",
            post(passkeys::register_finish),
        )
        .route("/api/me/passkeys/{id}", delete(passkeys::remove))
        .route(
            "/api/me/app-passwords",
            get(two_factor::app_password_list).post(two_factor::app_password_create),
        )
        .route(
            "/api/me/app-passwords/{id}",
            delete(two_factor::app_password_delete),
        )
        .route("/api/users/{id}/2fa", delete(two_factor::admin_reset))
        .route("/api/me/sessions/{id}", delete(users::delete_my_session))
        .route("/api/users", get(users::list).post(users::create))
        .route("/api/users/online", get(users::online))
        .route(
            "/api/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/api/auth-sessions", get(users::all_auth_sessions))
        .route("/api/api-keys", get(api_keys::list).post(api_keys::create))
        .route(
            "/api/api-keys/{id}",
            patch(api_keys::update).delete(api_keys::delete),
        )
        .route("/api/audit", get(audit::list))
        .route("/api/audit/export", get(audit::export))
        .route("/api/audit/verify", get(audit::verify))
        .route("/api/security/findings", get(security::findings))
        .route("/api/security/config", get(security::config))
        // Libraries and browsing.
        .route(
            "/api/libraries",
            get(libraries::list).post(libraries::create),
        )
        .route(
            "/api/libraries/{id}",
            get(libraries::get)
                .patch(libraries::update)
                .delete(libraries::delete),
        )
        .route("/api/libraries/{id}/scan", post(libraries::scan))
        .route("/api/libraries/{id}/issues", get(libraries::issues))
        .route("/api/libraries/{id}/items", get(browse::items))
        .route("/api/libraries/{id}/series", get(browse::series))
        .route("/api/libraries/{id}/series/{sid}", get(browse::series_one))
        .route("/api/libraries/{id}/authors", get(browse::authors))
        .route("/api/libraries/{id}/narrators", get(browse::narrators))
        .route("/api/libraries/{id}/search", get(browse::search))
        .route("/api/libraries/{id}/filterdata", get(browse::filterdata))
        .route(
            "/api/libraries/{id}/collections",
            get(lists::library_collections),
        )
        .route(
            "/api/libraries/{id}/playlists",
            get(lists::library_playlists),
        )
        .route(
            "/api/collections",
            get(lists::collections).post(lists::create_collection),
        )
        .route(
            "/api/collections/{id}",
            get(lists::collection)
                .patch(lists::update_collection)
                .delete(lists::delete_collection),
        )
        .route(
            "/api/collections/{id}/book",
            post(lists::collection_add_book),
        )
        .route(
            "/api/collections/{id}/book/{book}",
            delete(lists::collection_remove_book),
        )
        .route(
            "/api/collections/{id}/batch/add",
            post(lists::collection_batch_add),
        )
        .route(
            "/api/collections/{id}/batch/remove",
            post(lists::collection_batch_remove),
        )
        .route(
            "/api/playlists",
            get(lists::playlists).post(lists::create_playlist),
        )
        .route(
            "/api/playlists/{id}",
            get(lists::playlist)
                .patch(lists::update_playlist)
                .delete(lists::delete_playlist),
        )
        .route("/api/playlists/{id}/item", post(lists::playlist_add_item))
        .route(
            "/api/playlists/{id}/item/{item}",
            delete(lists::playlist_remove_item),
        )
        .route(
            "/api/playlists/{id}/item/{item}/{episode}",
            delete(lists::playlist_remove_episode),
        )
        .route(
            "/api/playlists/{id}/batch/add",
            post(lists::playlist_batch_add),
        )
        .route(
            "/api/playlists/{id}/batch/remove",
            post(lists::playlist_batch_remove),
        )
        .route(
            "/api/playlists/collection/{id}",
            post(lists::playlist_from_collection),
        )
        .route(
            "/api/libraries/{id}/personalized",
            get(shelves::personalized),
        )
        .route("/api/tasks", get(libraries::tasks))
        .route(
            "/api/backups",
            get(abs::backups::list).post(abs::backups::create),
        )
        .route("/api/backups/{id}/download", get(abs::backups::download))
        .route("/api/authors/{id}", get(entities::author))
        .route("/api/authors/{id}/image", get(entities::author_image))
        .route("/api/series/{id}", get(entities::series))
        // Items and their files.
        .route("/api/items/batch/get", post(items::batch_get))
        .route("/api/items/{id}", get(items::get))
        .route("/api/items/{id}/cover", get(items::cover))
        .route("/api/items/{id}/download", get(items::download))
        .route("/api/items/{id}/file/{ino}", get(items::file))
        .route(
            "/api/items/{id}/file/{ino}/download",
            get(items::file_download),
        )
        .route("/api/items/{id}/play", post(playback::play))
        // Listening.
        .route("/api/session/local", post(playback::local))
        .route("/api/session/local-all", post(playback::local_all))
        .route("/api/session/{id}", get(playback::get))
        .route("/api/session/{id}/sync", post(playback::sync))
        .route("/api/session/{id}/close", post(playback::close))
        .route("/api/sessions/open", get(playback::open_sessions))
        .route(
            "/public/session/{id}/track/{index}",
            get(playback::public_track),
        )
        .route("/api/me/progress/batch/update", patch(progress::batch))
        .route(
            "/api/me/progress/{id}",
            get(progress::get)
                .patch(progress::patch)
                .delete(progress::delete),
        )
        .route(
            "/api/me/items-in-progress",
            get(progress::items_in_progress),
        )
        .route("/api/me/listening-sessions", get(history::my_sessions))
        .route("/api/me/listening-stats", get(history::my_stats))
        .route("/api/me/stats/year/{year}", get(history::my_year))
        .route(
            "/api/me/item/listening-sessions/{id}",
            get(history::my_item_sessions),
        )
        .route(
            "/api/me/item/listening-sessions/{id}/{episode}",
            get(history::my_item_sessions),
        )
        .route(
            "/api/me/progress/{id}/remove-from-continue-listening",
            get(history::hide_progress),
        )
        .route(
            "/api/me/series/{id}/remove-from-continue-listening",
            get(history::hide_series),
        )
        .route(
            "/api/me/series/{id}/readd-to-continue-listening",
            get(history::readd_series),
        )
        .route("/api/sessions", get(history::all_sessions))
        .route("/api/sessions/batch/delete", post(history::batch_delete))
        .route("/api/sessions/{id}", delete(history::delete_session))
        .route(
            "/api/users/{id}/listening-sessions",
            get(history::user_sessions),
        )
        .route("/api/users/{id}/listening-stats", get(history::user_stats))
        .route("/api/me/bookmarks", get(progress::bookmarks))
        .route("/api/me/bookmarks/{item}", get(progress::bookmarks))
        .route(
            "/api/me/item/{id}/bookmark",
            post(progress::create_bookmark).patch(progress::update_bookmark),
        )
        .route(
            "/api/me/item/{id}/bookmark/{time}",
            delete(progress::delete_bookmark),
        )
}

/// Wraps the finished app (routes and Socket.IO layers) so that repeated slashes in the path are
/// merged before anything routes on it, as nginx does by default: some ABS clients join a base URL
/// and a `/api/...` path with one `/` too many (`http://host//api/users`), and behind a typical
/// proxy they work against ABS, so they must here.
pub fn merging_slashes(app: Router) -> Router {
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(merge_slashes)
            .service(app),
    )
}

fn merge_slashes(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if !path.contains("//") {
        return req;
    }
    let mut merged = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && merged.ends_with('/')) {
            merged.push(c);
        }
    }
    if let Some(q) = req.uri().query() {
        merged.push('?');
        merged.push_str(q);
    }
    let mut parts = req.uri().clone().into_parts();
    // The merged path is made of the characters of a path that parsed, so it parses too; should
    // it not, the request goes on unchanged and meets the usual 404.
    if let Ok(pq) = merged.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            // The outer router recorded the path as sent; handlers that build links from it
            // (the OpenID redirects) must see the merged one.
            req.extensions_mut()
                .insert(axum::extract::OriginalUri(uri.clone()));
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Every route, with the middleware that guards them.
pub fn router(state: AppState) -> Router {
    let trusted = TrustedProxies(Arc::new(state.config.trusted_proxies.clone()));
    let max_body = state.config.max_body_bytes;
    let api = routes();
    Router::new()
        .merge(api.clone())
        .nest(ABS_BASE_PATH, api)
        .merge(web::routes())
        .fallback(server::not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::cors,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::global_allowlist,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::csrf::guard,
        ))
        .layer(middleware::from_fn(security::request_log))
        .layer(middleware::from_fn(security::security_headers))
        .layer(axum::Extension(trusted))
        .with_state(state)
}

use abs::server;

#[cfg(test)]
mod tests {
    use super::merge_slashes;

    fn merged(uri: &str) -> String {
        let req = axum::extract::Request::builder()
            .uri(uri)
            .body(axum::body::Body::empty())
            .expect("a valid request");
        let req = merge_slashes(req);
        // Handlers that read `OriginalUri` see the merged path too (or no override at all).
        if let Some(original) = req.extensions().get::<axum::extract::OriginalUri>() {
            assert_eq!(&original.0, req.uri());
        } else {
            assert_eq!(req.uri().to_string(), uri);
        }
        req.uri().to_string()
    }

    #[test]
    fn repeated_slashes_in_the_path_are_merged_and_the_query_is_kept() {
        assert_eq!(merged("//api//users"), "/api/users");
        assert_eq!(
            merged("http://h:1//api/me?a=b//c"),
            "http://h:1/api/me?a=b//c"
        );
        assert_eq!(merged("/api/me?x=1"), "/api/me?x=1");
    }
}
