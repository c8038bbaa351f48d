//! The server keeps credentials, `/api/me` bodies and the catalog in memory. These tests warm each
//! cache, change what lies behind it (through the API, and from another process through the
//! CLI), and check that the very next request sees the change.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, client, login};
use crate::listening::{fixture, generate, get, get_json, wait_for_library};

async fn me_twice(s: &TestServer, token: &str) -> Value {
    let first = get_json(s, token, "/api/me").await;
    let second = get_json(s, token, "/api/me").await;
    assert_eq!(first, second);
    second
}

fn progress_of(me: &Value, item: &str) -> Vec<f64> {
    me["mediaProgress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["libraryItemId"] == item)
        .map(|p| p["currentTime"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn api_me_follows_progress_bookmarks_and_account_changes() {
    let f = fixture().await;
    let root = f.root.clone();
    f.s.add_user("alice", PASSWORD, false);
    let alice = access_token(&login(&f.s, "alice", PASSWORD).await);
    let items = get_json(&f.s, &root, &format!("/api/libraries/{}/items", f.lib)).await;
    let id = items["results"][0]["id"].as_str().unwrap().to_string();
    let c = client();
    let patch = |token: String, time: f64| {
        c.patch(f.s.url(&format!("/api/me/progress/{id}")))
            .bearer_auth(token)
            .json(&json!({ "duration": 1000.0, "currentTime": time }))
            .send()
    };

    assert!(progress_of(&me_twice(&f.s, &root).await, &id).is_empty());
    assert!(progress_of(&me_twice(&f.s, &alice).await, &id).is_empty());
    for time in [10.0, 20.0, 30.0] {
        assert_eq!(patch(root.clone(), time).await.unwrap().status(), 200);
        assert_eq!(progress_of(&me_twice(&f.s, &root).await, &id), vec![time]);
    }
    // Another user's progress moves the shared counter but never shows in the wrong body.
    assert!(progress_of(&me_twice(&f.s, &alice).await, &id).is_empty());
    assert_eq!(patch(alice.clone(), 5.0).await.unwrap().status(), 200);
    assert_eq!(progress_of(&me_twice(&f.s, &alice).await, &id), vec![5.0]);
    assert_eq!(progress_of(&me_twice(&f.s, &root).await, &id), vec![30.0]);

    let r = c
        .post(f.s.url(&format!("/api/me/item/{id}/bookmark")))
        .bearer_auth(&root)
        .json(&json!({ "time": 12.5, "title": "Cached?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        me_twice(&f.s, &root).await["bookmarks"][0]["title"],
        "Cached?"
    );

    // An admin's change to the account shows in the user's own body at once.
    let alice_id = me_twice(&f.s, &alice).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        me_twice(&f.s, &alice).await["permissions"]["download"],
        true
    );
    let r = c
        .patch(f.s.url(&format!("/api/users/{alice_id}")))
        .bearer_auth(&root)
        .json(&json!({ "permissions": { "download": false } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        me_twice(&f.s, &alice).await["permissions"]["download"],
        false
    );
}

#[tokio::test]
async fn a_revoked_session_fails_on_the_next_request() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("carol", PASSWORD, false);
    let phone = access_token(&login(&s, "carol", PASSWORD).await);
    let laptop = access_token(&login(&s, "carol", PASSWORD).await);
    for token in [&phone, &laptop] {
        me_twice(&s, token).await;
    }
    let sessions = get_json(&s, &laptop, "/api/me/sessions").await;
    let phone_session = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["isCurrent"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client()
        .delete(s.url(&format!("/api/me/sessions/{phone_session}")))
        .bearer_auth(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&s, &phone, "/api/me").await.status(), 401);
    assert_eq!(get(&s, &laptop, "/api/me").await.status(), 200);

    // From another process: the CLI disables the user while the server holds her credentials.
    assert!(s.cli(&["user", "disable", "carol"], None).status.success());
    assert_eq!(get(&s, &laptop, "/api/me").await.status(), 401);
    assert!(s.cli(&["user", "enable", "carol"], None).status.success());
    // Disabling ended her sessions for good; enabling lets her sign in again.
    assert_eq!(get(&s, &laptop, "/api/me").await.status(), 401);
    let again = access_token(&login(&s, "carol", PASSWORD).await);
    assert_eq!(get(&s, &again, "/api/me").await.status(), 200);
}

#[tokio::test]
async fn a_scan_by_another_process_shows_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("Shelf");
    generate(&folder, 3, 5);
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_WATCH_LIBRARIES", "false")
        .arg("--library")
        .arg(folder.to_str().unwrap())
        .start()
        .await;
    let root = access_token(&login(&s, "root", PASSWORD).await);
    let lib = wait_for_library(&s, &root, "Shelf", 3).await;
    let page = get_json(&s, &root, &format!("/api/libraries/{lib}/items")).await;
    let first = page["results"][0]["id"].as_str().unwrap().to_string();
    let first_path = page["results"][0]["path"].as_str().unwrap().to_string();
    assert_eq!(
        get(&s, &root, &format!("/api/items/{first}"))
            .await
            .status(),
        200
    );

    // More books arrive and one leaves; the CLI scans while the server runs.
    generate(&dir.path().join("more"), 2, 6);
    for entry in walk_dirs(&dir.path().join("more")) {
        let dest = folder.join(entry.file_name().unwrap());
        std::fs::rename(&entry, dest).unwrap();
    }
    std::fs::remove_dir_all(&first_path).unwrap();
    let out = s.cli(&["scan"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let page = get_json(&s, &root, &format!("/api/libraries/{lib}/items")).await;
    assert_eq!(page["total"], 5, "{page}");
    let item = get_json(&s, &root, &format!("/api/items/{first}")).await;
    assert_eq!(item["isMissing"], true);
}

/// The author folders a generated library holds (each with its books below).
fn walk_dirs(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect()
}
