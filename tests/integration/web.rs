//! The web app as the server serves it: the shell under the strict CSP with nothing inline, the
//! embedded assets with their types and validators, the password strength endpoint, and the
//! cross-origin guard on the cookie-authenticated routes.

use crate::harness::{self, PASSWORD, TestServer, client};

#[tokio::test]
async fn shell_is_html_under_the_strict_csp_with_nothing_inline() {
    let server = TestServer::start().await;
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    // The 2FA QR code is shown as an image from a Blob URL; scripts never come from blob:.
    assert!(csp.contains("img-src 'self' data: blob:"));
    assert!(!csp.contains("script-src 'self' blob:"));
    assert_eq!(h["cache-control"], "no-cache");
    let body = r.text().await.unwrap();
    assert!(!body.contains("style="), "style attribute in the shell");
    assert!(!body.contains("<style"), "style element in the shell");
    for part in body.split("<script").skip(1) {
        let (attrs, rest) = part.split_once('>').unwrap();
        assert!(attrs.contains("src=\"/app/"), "inline script: {part}");
        assert!(rest.starts_with("</script>"), "script with a body: {part}");
    }
    // The ABS API is untouched: its routes still answer as before, and under the base path.
    let s = client().get(server.url("/status")).send().await.unwrap();
    assert_eq!(s.status(), 200);
    let nested = client()
        .get(server.url("/audiobookshelf/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(nested.status(), 200);
}

#[tokio::test]
async fn assets_have_their_types_and_revalidate_with_etags() {
    let server = TestServer::start().await;
    for (path, ty) in [
        ("/app/main.js", "text/javascript; charset=utf-8"),
        ("/app/player.js", "text/javascript; charset=utf-8"),
        ("/app/security.js", "text/javascript; charset=utf-8"),
        ("/app/webauthn.js", "text/javascript; charset=utf-8"),
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/icon.svg", "image/svg+xml"),
    ] {
        let r = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ty, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let again = client()
            .get(server.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    for missing in ["/app/nope.js", "/app/..%2fCargo.toml", "/app/"] {
        let r = client().get(server.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn cross_origin_refresh_and_logout_need_the_custom_header() {
    let server = TestServer::builder().admin("admin", PASSWORD).start().await;
    let login = harness::login(&server, "admin", PASSWORD).await;
    let refresh = harness::refresh_token(&login);
    let cookie = format!("refresh_token={refresh}");
    let host = server.base.trim_start_matches("http://").to_string();

    // A page on another origin riding on the cookie is refused before the token is touched.
    for path in ["/auth/refresh", "/logout", "/audiobookshelf/auth/refresh"] {
        let r = client()
            .post(server.url(path))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    // The same request from the app's own origin passes.
    let r = client()
        .post(server.url("/auth/refresh"))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    // Cross-origin with the header a simple form cannot send passes too (the web app sends it).
    let r = client()
        .post(server.url("/auth/refresh"))
        .header("cookie", format!("refresh_token={rotated}"))
        .header("origin", "https://other.example")
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("refresh_token="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    // The ABS apps' web view origin is trusted by the CORS policy, so it is exempt.
    let r = client()
        .post(server.url("/auth/refresh"))
        .header("cookie", format!("refresh_token={rotated}"))
        .header("origin", "capacitor://localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // No Origin at all (native ABS apps, curl) is unaffected.
    let r = client()
        .post(server.url("/login"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "/login is not cookie-authenticated");
}

#[tokio::test]
async fn password_strength_reports_the_policy_reasons() {
    let server = TestServer::builder().admin("admin", PASSWORD).start().await;
    let token = harness::access_token(&harness::login(&server, "admin", PASSWORD).await);
    let weak: serde_json::Value = client()
        .post(server.url("/api/me/password/strength"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "password": "admin12345" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(weak["acceptable"], false);
    assert!(!weak["reasons"].as_array().unwrap().is_empty());
    let strong: serde_json::Value = client()
        .post(server.url("/api/me/password/strength"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "password": "velvet orbit marmalade tunnel 7" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(strong["acceptable"], true, "{strong}");
    let anonymous = client()
        .post(server.url("/api/me/password/strength"))
        .json(&serde_json::json!({ "password": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn settings_page_data_is_admin_only_and_masks_credentials() {
    let s = crate::harness::TestServer::builder()
        .env(
            "SHELFWARDEN_JWT_SECRET",
            "a signing key nobody may read back 0123456789",
        )
        .admin("root", crate::harness::PASSWORD)
        .start()
        .await;
    s.add_user("lena", crate::harness::PASSWORD, false);
    let root = crate::harness::access_token(
        &crate::harness::login(&s, "root", crate::harness::PASSWORD).await,
    );
    let lena = crate::harness::access_token(
        &crate::harness::login(&s, "lena", crate::harness::PASSWORD).await,
    );
    let c = crate::harness::client();
    let r = c
        .get(s.url("/api/security/config"))
        .bearer_auth(&lena)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(s.url("/api/security/config"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("nobody may read back"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["settings"]["jwt_secret"], "(set)");
    assert_eq!(v["settings"]["require_2fa"], "auto");
}
