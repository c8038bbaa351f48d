//! Access hardening: client IP and spoofing, brute-force protection, password policy, API-key
//! scopes, allowlists and the audit log, each through the real server.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, client, login, refresh_token};

async fn try_login(s: &TestServer, user: &str, pw: &str, xff: Option<&str>) -> reqwest::Response {
    let mut req = client()
        .post(s.url("/login"))
        .json(&json!({ "username": user, "password": pw }));
    if let Some(ip) = xff {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn spoofed_forwarding_headers_from_an_untrusted_peer_change_nothing() {
    // Only 10.9.9.9 is a proxy, so the test client (127.0.0.1) is an ordinary peer.
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_TRUSTED_PROXIES", "10.9.9.9/32")
        .start()
        .await;
    for i in 0..10 {
        let r = try_login(
            &s,
            &format!("nobody{i}"),
            "wrong guess here",
            Some(&format!("203.0.113.{i}")),
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    let r = try_login(&s, "nobody", "wrong guess here", Some("198.51.100.77")).await;
    assert_eq!(
        r.status(),
        429,
        "rotating X-Forwarded-For does not reset the per-IP budget"
    );
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers().contains_key("ratelimit-limit"));
    // Malformed headers from an untrusted peer are simply ignored.
    let r = client()
        .get(s.url("/ping"))
        .header("x-forwarded-for", "not-an-ip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn trusted_proxy_headers_are_used_and_malformed_ones_refused() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    // Loopback is a trusted proxy by default: each forwarded client has its own budget.
    for i in 0..12 {
        let r = try_login(
            &s,
            &format!("ghost{i}"),
            "wrong guess here",
            Some(&format!("203.0.113.{i}")),
        )
        .await;
        assert_eq!(r.status(), 401, "attempt {i} comes from its own client IP");
    }
    for _ in 0..10 {
        try_login(&s, "ghost", "wrong guess here", Some("198.51.100.1")).await;
    }
    assert_eq!(
        try_login(&s, "ghost", "x", Some("198.51.100.1"))
            .await
            .status(),
        429
    );
    let r = client()
        .get(s.url("/ping"))
        .header("x-forwarded-for", "not-an-ip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "a trusted proxy sending garbage is an error"
    );
    let r = client()
        .post(s.url("/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure"),
        "trusted proxy says https"
    );
}

#[tokio::test]
async fn distributed_guessing_is_held_per_account_but_the_owner_gets_in() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("victim", PASSWORD, false);
    let owner = login(&s, "victim", PASSWORD).await;
    // 200 attackers behind the trusted proxy, one guess each.
    for i in 0..200u32 {
        let ip = format!("100.{}.{}.{}", 64 + i / 65536, (i / 256) % 256, i % 256);
        let r = try_login(&s, "victim", "not the password", Some(&ip)).await;
        assert_eq!(r.status(), 401);
    }
    // The account is softlocked: even the right password from a new device fails, identically.
    let wrong = try_login(&s, "victim", "not the password", Some("192.0.2.200")).await;
    let right = try_login(&s, "victim", PASSWORD, Some("192.0.2.201")).await;
    assert_eq!(right.status(), 401, "no oracle during the softlock");
    assert_eq!(wrong.text().await.unwrap(), right.text().await.unwrap());
    // The owner's known device (its refresh session) is exempt.
    let r = client()
        .post(s.url("/login"))
        .header("x-refresh-token", refresh_token(&owner))
        .json(&json!({ "username": "victim", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = s.cli(&["audit", "export", "--action", "login.locked"], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("victim"),
        "locked attempts are audited"
    );
}

#[tokio::test]
async fn throttle_state_survives_a_restart() {
    let mut s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_TRUSTED_PROXIES", "10.9.9.9/32")
        .start()
        .await;
    for _ in 0..10 {
        try_login(&s, "nobody", "wrong guess here", None).await;
    }
    assert_eq!(try_login(&s, "nobody", "x", None).await.status(), 429);
    s.restart().await;
    assert_eq!(try_login(&s, "nobody", "x", None).await.status(), 429);
}

#[tokio::test]
async fn password_policy_refuses_weak_passwords_everywhere() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let root = access_token(&login(&s, "root", PASSWORD).await);
    for weak in ["password1", "correcthorse", "Summer2024!"] {
        let out = s.cli(&["user", "add", "weakling", "--password-stdin"], Some(weak));
        assert!(!out.status.success(), "CLI accepted {weak}");
        let r = client()
            .post(s.url("/api/users"))
            .bearer_auth(&root)
            .json(&json!({ "username": "weakling", "password": weak }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "API accepted {weak}");
        assert!(r.text().await.unwrap().contains("Password refused"));
    }
}

async fn create_key(s: &TestServer, admin: &str, user_id: &str, scopes: &[&str]) -> String {
    let r = client()
        .post(s.url("/api/api-keys"))
        .bearer_auth(admin)
        .json(&json!({ "name": "k", "userId": user_id, "expiresIn": 3600, "isActive": true, "scopes": scopes }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["apiKey"]["apiKey"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn api_key_scopes_are_enforced_per_route_class() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let payload = login(&s, "root", PASSWORD).await;
    let root = access_token(&payload);
    let root_id = payload["user"]["id"].as_str().unwrap().to_string();
    let c = client();

    let r = c
        .post(s.url("/api/api-keys"))
        .bearer_auth(&root)
        .json(&json!({ "name": "forever", "userId": root_id, "isActive": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "expiry is required by default");

    let read = create_key(&s, &root, &root_id, &["read"]).await;
    let admin = create_key(&s, &root, &root_id, &["admin"]).await;
    let progress = create_key(&s, &root, &root_id, &["progress"]).await;
    // read class
    assert_eq!(
        c.get(s.url("/api/me"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(s.url("/api/me"))
            .bearer_auth(&progress)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // admin class
    assert_eq!(
        c.get(s.url("/api/users"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        c.get(s.url("/api/users"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // the key list never shows tokens, and shows last use
    let list: Value = c
        .get(s.url("/api/api-keys"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!list.to_string().contains(&read));
    assert_eq!(list["apiKeys"].as_array().unwrap().len(), 3);

    // revoked and inactive keys are dead
    let id = list["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scopes"] == json!(["read"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .patch(s.url(&format!("/api/api-keys/{id}")))
        .bearer_auth(&root)
        .json(&json!({ "isActive": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(s.url("/api/me"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn api_keys_die_with_their_disabled_user() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("kay", PASSWORD, false);
    let root = access_token(&login(&s, "root", PASSWORD).await);
    let kay = login(&s, "kay", PASSWORD).await;
    let kay_id = kay["user"]["id"].as_str().unwrap().to_string();
    let key = create_key(&s, &root, &kay_id, &["read"]).await;
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(s.cli(&["user", "disable", "kay"], None).status.success());
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn apikey_cli_creates_lists_and_revokes() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let out = s.cli(
        &[
            "apikey",
            "create",
            "--user",
            "root",
            "--name",
            "ci",
            "--scope",
            "read",
            "--expires-days",
            "30",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .split_whitespace()
        .find(|w| w.matches('.').count() == 2)
        .expect("token printed")
        .to_string();
    assert_eq!(
        client()
            .get(s.url("/api/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let listed = String::from_utf8(s.cli(&["apikey", "list"], None).stdout).unwrap();
    assert!(listed.contains("ci") && !listed.contains(&token));
    let out = s.cli(
        &["apikey", "create", "--user", "root", "--name", "forever"],
        None,
    );
    assert!(!out.status.success(), "no expiry refused");
}

#[tokio::test]
async fn allowlists_refuse_and_audit() {
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_ADMIN_ALLOW", "tailscale")
        .start()
        .await;
    s.add_user("lou", PASSWORD, false);
    // Admins may only log in from the tailnet; users from anywhere.
    assert_eq!(try_login(&s, "root", PASSWORD, None).await.status(), 403);
    let lou = login(&s, "lou", PASSWORD).await;
    let r = try_login(&s, "root", PASSWORD, Some("100.100.1.2")).await;
    assert_eq!(
        r.status(),
        200,
        "from a tailnet address (through the trusted loopback proxy)"
    );
    let root: Value = r.json().await.unwrap();
    let lou_id = lou["user"]["id"].as_str().unwrap().to_string();
    let c = client();
    let r = c
        .patch(s.url(&format!("/api/users/{lou_id}")))
        .bearer_auth(access_token(&root))
        .header("x-forwarded-for", "100.100.1.2")
        .json(&json!({ "allowedNetworks": ["192.168.0.0/16"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(s.url("/api/me"))
        .bearer_auth(access_token(&lou))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "lou is limited to the LAN now");
    let r = c
        .get(s.url("/api/me"))
        .bearer_auth(access_token(&lou))
        .header("x-forwarded-for", "192.168.4.4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = String::from_utf8(
        s.cli(&["audit", "export", "--action", "allowlist.refused"], None)
            .stdout,
    )
    .unwrap();
    assert!(out.lines().count() >= 2, "{out}");

    let blocked = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_ALLOW", "10.0.0.0/8")
        .start_unchecked()
        .await;
    let r = client().get(blocked.url("/status")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn audit_log_records_admin_actions_and_detects_tampering() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let root = access_token(&login(&s, "root", PASSWORD).await);
    let r = client()
        .post(s.url("/api/users"))
        .bearer_auth(&root)
        .json(&json!({ "username": "mia", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    try_login(&s, "mia", "wrong guess here", None).await;
    let page: Value = client()
        .get(s.url("/api/audit?action=user.create"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"][0]["actorName"], "root");
    assert_eq!(page["events"][0]["target"], "user:mia");
    let all: Value = client()
        .get(s.url("/api/audit?action=login.*"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"login.success") && actions.contains(&"login.failure"),
        "{actions:?}"
    );
    let export = client()
        .get(s.url("/api/audit/export"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(export.lines().count() >= 3);

    assert!(s.cli(&["audit", "verify"], None).status.success());
    // Tamper: an attacker with the database file drops the guard trigger and edits a row.
    let db = rusqlite::Connection::open(s.data.path().join("shelfwarden.sqlite")).unwrap();
    db.execute_batch("DROP TRIGGER IF EXISTS audit_events_no_update; UPDATE audit_events SET actor_name = 'someone-else' WHERE action = 'user.create';")
        .unwrap();
    let out = s.cli(&["audit", "verify"], None);
    assert!(!out.status.success(), "edited row detected");
}

#[tokio::test]
async fn audit_verify_detects_a_deleted_row() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    for _ in 0..3 {
        try_login(&s, "root", "wrong guess here", None).await;
    }
    login(&s, "root", PASSWORD).await;
    assert!(s.cli(&["audit", "verify"], None).status.success());
    let db = rusqlite::Connection::open(s.data.path().join("shelfwarden.sqlite")).unwrap();
    db.execute_batch(
        "DROP TRIGGER IF EXISTS audit_events_prune_only; DELETE FROM audit_events WHERE seq = 2;",
    )
    .unwrap();
    assert!(
        !s.cli(&["audit", "verify"], None).status.success(),
        "deleted row detected"
    );
}
