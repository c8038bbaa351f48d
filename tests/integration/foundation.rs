//! Foundation: start-up, data dir, setup token, login, refresh rotation and reuse, logout, errors, logs.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, client, login, refresh_token};

#[tokio::test]
async fn ping_healthcheck_and_status_in_abs_shapes() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let c = client();
    let ping: Value = c
        .get(s.url("/ping"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ping, json!({ "success": true }));
    let hc = c.get(s.url("/healthcheck")).send().await.unwrap();
    assert_eq!(hc.status(), 200);
    let status: Value = c
        .get(s.url("/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["app"], "audiobookshelf");
    assert_eq!(status["isInit"], true);
    assert_eq!(status["authMethods"], json!(["local"]));
    let text = status.to_string();
    assert!(
        !text.contains(s.data.path().to_str().unwrap()),
        "status leaks a path: {text}"
    );
    assert!(status.get("ConfigPath").is_none() && status.get("MetadataPath").is_none());
    // Every route also answers under ABS's base path.
    let prefixed = c.get(s.url("/audiobookshelf/ping")).send().await.unwrap();
    assert_eq!(prefixed.status(), 200);
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let s = TestServer::start().await;
    for path in ["/ping", "/nope", "/api/me"] {
        let r = client().get(s.url(path)).send().await.unwrap();
        let h = r.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn data_dir_and_secrets_are_private() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(s.data.path()), 0o700);
    assert_eq!(mode(&s.data.path().join("shelfwarden.sqlite")), 0o600);
    assert_eq!(mode(&s.data.path().join("jwt-secret")), 0o600);
}

#[tokio::test]
async fn fresh_server_can_only_be_claimed_with_the_setup_token() {
    let s = TestServer::start().await;
    let token_file = s.data.path().join("setup-token");
    let token = std::fs::read_to_string(&token_file).expect("setup token written");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let status: Value = client()
        .get(s.url("/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["isInit"], false);

    let body = json!({ "newRoot": { "username": "owner", "password": PASSWORD } });
    let r = client()
        .post(s.url("/init"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no token");
    let mut wrong = body.clone();
    wrong["setupToken"] = json!("not-the-token");
    let r = client()
        .post(s.url("/init"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "wrong token");

    let mut right = body.clone();
    right["setupToken"] = json!(token.trim());
    let r = client()
        .post(s.url("/init"))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!token_file.exists(), "setup token is single-use");
    let r = client()
        .post(s.url("/init"))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "cannot be claimed twice");
    let payload = login(&s, "owner", PASSWORD).await;
    assert_eq!(payload["user"]["type"], "root");
}

#[tokio::test]
async fn init_refuses_a_weak_password() {
    let s = TestServer::start().await;
    let token = std::fs::read_to_string(s.data.path().join("setup-token")).unwrap();
    let body = json!({ "newRoot": { "username": "owner", "password": "short" }, "setupToken": token.trim() });
    let r = client()
        .post(s.url("/init"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("characters"));
}

#[tokio::test]
async fn login_returns_abs_payload_with_and_without_x_return_tokens() {
    let s = TestServer::builder().admin("Root", PASSWORD).start().await;
    let payload = login(&s, "root", PASSWORD).await; // usernames are case-insensitive
    for key in [
        "user",
        "serverSettings",
        "Source",
        "userDefaultLibraryId",
        "ereaderDevices",
    ] {
        assert!(payload.get(key).is_some(), "missing {key}");
    }
    let user = &payload["user"];
    for key in [
        "id",
        "username",
        "type",
        "token",
        "accessToken",
        "refreshToken",
        "mediaProgress",
        "bookmarks",
        "seriesHideFromContinueListening",
        "isActive",
        "isLocked",
        "createdAt",
        "permissions",
    ] {
        assert!(user.get(key).is_some(), "user missing {key}");
    }
    assert_eq!(payload["serverSettings"]["version"], "2.36.0");

    let r = client()
        .post(s.url("/login"))
        .json(&json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("refresh_token=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP from a direct client: no Secure"
    );
    let body: Value = r.json().await.unwrap();
    assert!(
        body["user"]["refreshToken"].is_null(),
        "cookie-only without x-return-tokens"
    );
    assert!(body["user"]["accessToken"].is_string());

    // Form bodies work as in ABS.
    let r = client()
        .post(s.url("/login"))
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn failed_logins_look_the_same() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("alice", PASSWORD, false);
    s.add_user("bob", PASSWORD, false);
    let out = s.cli(&["user", "disable", "bob"], None);
    assert!(out.status.success());
    let mut bodies = Vec::new();
    for (u, p) in [
        ("alice", "wrong password!!"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
    ] {
        let r = client()
            .post(s.url("/login"))
            .json(&json!({ "username": u, "password": p }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{u}");
        bodies.push(r.text().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    let r = client()
        .post(s.url("/login"))
        .json(&json!({ "username": "alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "missing password");
}

#[tokio::test]
async fn bad_json_is_400_and_oversized_bodies_413() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let r = client()
        .post(s.url("/login"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "x".repeat(2 * 1024 * 1024);
    let r = client()
        .post(s.url("/login"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn bearer_tokens_authenticate_and_query_tokens_do_not_on_api_routes() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let payload = login(&s, "root", PASSWORD).await;
    let access = access_token(&payload);
    let legacy = payload["user"]["token"].as_str().unwrap().to_string();
    for token in [&access, &legacy] {
        let r = client()
            .get(s.url("/api/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client()
        .get(s.url(&format!("/api/me?token={access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "?token= only on media and cover GETs");
    let r = client().get(s.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), "Unauthorized");
    let refresh = refresh_token(&payload);
    let r = client()
        .get(s.url("/api/me"))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a refresh token is not an access token");
    let r = client()
        .post(s.url("/api/authorize"))
        .bearer_auth(&legacy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["user"].get("accessToken").is_none(),
        "authorize returns only the legacy token"
    );
}

async fn refresh_with_header(s: &TestServer, token: &str) -> reqwest::Response {
    client()
        .post(s.url("/auth/refresh"))
        .header("x-refresh-token", token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refresh_rotates_and_honours_the_grace_period() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let payload = login(&s, "root", PASSWORD).await;
    let first = refresh_token(&payload);

    let r = refresh_with_header(&s, &first).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let second = body["user"]["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(first, second, "rotated");
    let access = body["user"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A racing request with the old token inside the grace period gets the same new token.
    let r = refresh_with_header(&s, &first).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"]["refreshToken"].as_str().unwrap(), second);

    // Cookie callers get the token only in the cookie.
    let r = client()
        .post(s.url("/auth/refresh"))
        .header("cookie", format!("refresh_token={second}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("refresh_token=")
    );
    let body: Value = r.json().await.unwrap();
    assert!(body["user"]["refreshToken"].is_null());

    let r = client().post(s.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "No refresh token provided");
    let r = refresh_with_header(&s, &access).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Invalid token type");
}

#[tokio::test]
async fn reused_refresh_token_after_grace_revokes_the_session() {
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("REFRESH_TOKEN_GRACE_PERIOD", "0")
        .start()
        .await;
    let payload = login(&s, "root", PASSWORD).await;
    let stolen = refresh_token(&payload);
    let r = refresh_with_header(&s, &stolen).await;
    let body: Value = r.json().await.unwrap();
    let legit = body["user"]["refreshToken"].as_str().unwrap().to_string();
    let legit_access = body["user"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&legit_access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The thief replays the old token: refused, and the whole session dies.
    assert_eq!(refresh_with_header(&s, &stolen).await.status(), 401);
    assert_eq!(
        refresh_with_header(&s, &legit).await.status(),
        401,
        "session revoked"
    );
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&legit_access)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "its access tokens die with it"
    );
    // Other sessions are untouched.
    let other = login(&s, "root", PASSWORD).await;
    assert_eq!(
        refresh_with_header(&s, &refresh_token(&other))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn logout_ends_one_or_all_sessions() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let a = login(&s, "root", PASSWORD).await;
    let b = login(&s, "root", PASSWORD).await;
    let c = login(&s, "root", PASSWORD).await;
    let r = client()
        .post(s.url("/logout"))
        .header("x-refresh-token", refresh_token(&a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["redirect_url"].is_null());
    assert_eq!(
        refresh_with_header(&s, &refresh_token(&a)).await.status(),
        401
    );
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(access_token(&a))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        refresh_with_header(&s, &refresh_token(&b)).await.status(),
        200
    );

    let r = client()
        .post(s.url("/logout?allDevices=1"))
        .header("cookie", format!("refresh_token={}", refresh_token(&c)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(access_token(&b))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn password_change_rotates_legacy_token_and_ends_other_sessions() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("alice", PASSWORD, false);
    let a = login(&s, "alice", PASSWORD).await;
    let b = login(&s, "alice", PASSWORD).await;
    let legacy = a["user"]["token"].as_str().unwrap().to_string();
    let new_pw = "an entirely different passphrase";
    let r = client()
        .patch(s.url("/api/me/password"))
        .bearer_auth(access_token(&a))
        .json(&json!({ "password": "wrong one entirely", "newPassword": new_pw }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "current password required");
    let r = client()
        .patch(s.url("/api/me/password"))
        .bearer_auth(access_token(&a))
        .json(&json!({ "password": PASSWORD, "newPassword": new_pw }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(access_token(&a))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(access_token(&b))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&legacy)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    login(&s, "alice", new_pw).await;

    // The CLI does the same for an admin resetting a password.
    let c = login(&s, "alice", new_pw).await;
    let out = s.cli(
        &["user", "passwd", "alice", "--password-stdin"],
        Some("yet another long passphrase"),
    );
    assert!(out.status.success());
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(access_token(&c))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn disabling_a_user_kills_their_tokens_at_once() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("carol", PASSWORD, false);
    let p = login(&s, "carol", PASSWORD).await;
    let out = s.cli(&["user", "disable", "carol"], None);
    assert!(out.status.success());
    for t in [
        access_token(&p),
        p["user"]["token"].as_str().unwrap().to_string(),
    ] {
        assert_eq!(
            client()
                .get(s.url("/api/me"))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_eq!(
        refresh_with_header(&s, &refresh_token(&p)).await.status(),
        401
    );
    let out = s.cli(&["user", "enable", "carol"], None);
    assert!(out.status.success());
    login(&s, "carol", PASSWORD).await;
}

#[tokio::test]
async fn logs_never_contain_passwords_or_tokens() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let p = login(&s, "root", PASSWORD).await;
    let access = access_token(&p);
    let refresh = refresh_token(&p);
    let _ = client()
        .get(s.url(&format!("/api/items/x/cover?token={access}")))
        .send()
        .await
        .unwrap();
    let _ = client()
        .get(s.url("/api/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let _ = refresh_with_header(&s, &refresh).await;
    let _ = client()
        .post(s.url("/login"))
        .json(&json!({ "username": "root", "password": "a wrong but secret guess" }))
        .send()
        .await
        .unwrap();
    let log = s.log();
    assert!(log.contains("/api/me"), "requests are logged: {log}");
    for secret in [
        PASSWORD,
        "a wrong but secret guess",
        access.as_str(),
        refresh.as_str(),
        "token=",
    ] {
        assert!(!log.contains(secret), "log contains {secret:?}");
    }
}

#[tokio::test]
async fn cli_manages_users() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let out = s.cli(&["user", "add", "dave", "--password-stdin"], Some("short"));
    assert!(!out.status.success(), "policy applies on the CLI");
    s.add_user("dave", PASSWORD, false);
    let out = s.cli(&["user", "add", "DAVE", "--password-stdin"], Some(PASSWORD));
    assert!(
        !out.status.success(),
        "usernames are unique regardless of case"
    );
    let list = String::from_utf8(s.cli(&["user", "list"], None).stdout).unwrap();
    assert!(list.contains("dave") && list.contains("root"), "{list}");
    let out = s.cli(&["user", "delete", "dave"], None);
    assert!(out.status.success());
    let r = client()
        .post(s.url("/login"))
        .json(&json!({ "username": "dave", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let out = s.cli(&["user", "add", "x", "--admin"], None);
    assert!(!out.status.success(), "--password-stdin is required");
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_acknowledged_writes_survive_kill9() {
    let mut s = TestServer::builder().admin("root", PASSWORD).start().await;
    let p = login(&s, "root", PASSWORD).await;
    let refresh = refresh_token(&p);
    s.kill9();
    s.restart().await;
    assert_eq!(
        refresh_with_header(&s, &refresh).await.status(),
        200,
        "session written before kill -9 survives"
    );
    let status = s.stop().expect("exit status");
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn bad_configuration_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("shelfwarden.toml"), "prot = 1\n").unwrap();
    let out = crate::harness::run_cli(data.path(), &["serve", "--allow-root", "--port", "0"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prot"), "{err}");
    let data = tempfile::tempdir().unwrap();
    let mut c = crate::harness::command(data.path());
    let out = c
        .args(["serve", "--allow-root", "--port", "0", "--bind", "0.0.0.0"])
        .env("RATE_LIMIT_AUTH_MAX", "0")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "no throttling on a public bind is refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("RATE_LIMIT_AUTH_MAX"));
}

#[tokio::test]
async fn cors_only_for_the_abs_apps_and_configured_origins() {
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_ALLOWED_ORIGINS", "https://app.example.org")
        .start()
        .await;
    for origin in ["capacitor://localhost", "https://app.example.org"] {
        let r = client()
            .request(reqwest::Method::OPTIONS, s.url("/api/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{origin}");
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    let r = client()
        .get(s.url("/ping"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        !r.headers().contains_key("access-control-allow-origin"),
        "never reflect arbitrary origins"
    );
}

#[test]
fn readme_documents_every_configuration_key() {
    let readme = include_str!("../../README.md");
    let tls = include_str!("../../docs/TLS.md");
    let backup = include_str!("../../docs/BACKUP.md");
    let config = include_str!("../../src/config.rs");
    let keys: Vec<&str> = config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(keys.len() > 30, "parsed {keys:?}");
    for key in keys {
        assert!(
            readme.contains(&format!("`{key}`"))
                || tls.contains(&format!("`{key}`"))
                || backup.contains(&format!("`{key}`")),
            "README lacks `{key}`"
        );
    }
}
