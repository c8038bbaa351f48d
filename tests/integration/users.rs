//! Admin user management and the caller's own sessions.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, client, login, refresh_token};

#[tokio::test]
async fn admin_manages_users_and_others_are_refused() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let root = access_token(&login(&s, "root", PASSWORD).await);
    let c = client();

    let r = c
        .post(s.url("/api/users"))
        .bearer_auth(&root)
        .json(&json!({ "username": "erin", "password": PASSWORD, "type": "admin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let erin: Value = r.json().await.unwrap();
    let erin_id = erin["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(erin["user"]["type"], "admin");

    let r = c
        .post(s.url("/api/users"))
        .bearer_auth(&root)
        .json(&json!({ "username": "weak", "password": "password1", "type": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "policy applies to the API");
    let r = c
        .post(s.url("/api/users"))
        .bearer_auth(&root)
        .json(&json!({ "username": "x", "password": PASSWORD, "type": "root" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no second root");

    let r = c
        .post(s.url("/api/users"))
        .bearer_auth(&root)
        .json(
            &json!({ "username": "frank", "password": PASSWORD, "type": "user",
            "permissions": { "download": false }, "librariesAccessible": ["lib1"] }),
        )
        .send()
        .await
        .unwrap();
    let frank: Value = r.json().await.unwrap();
    let frank_id = frank["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(frank["user"]["permissions"]["download"], false);
    assert_eq!(frank["user"]["librariesAccessible"], json!(["lib1"]));

    // A non-admin gets 403 on every admin route.
    let frank_token = access_token(&login(&s, "frank", PASSWORD).await);
    for (method, path) in [
        ("GET", "/api/users".to_string()),
        ("GET", format!("/api/users/{erin_id}")),
        ("DELETE", format!("/api/users/{erin_id}")),
        ("GET", "/api/users/online".to_string()),
    ] {
        let r = c
            .request(method.parse().unwrap(), s.url(&path))
            .bearer_auth(&frank_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
    }

    // A non-root admin sees users but not root's token, and cannot edit root.
    let erin_token = access_token(&login(&s, "erin", PASSWORD).await);
    let list: Value = c
        .get(s.url("/api/users"))
        .bearer_auth(&erin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root_row = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["type"] == "root")
        .unwrap();
    assert!(root_row["token"].is_null());
    let root_id = root_row["id"].as_str().unwrap().to_string();
    let r = c
        .patch(s.url(&format!("/api/users/{root_id}")))
        .bearer_auth(&erin_token)
        .json(&json!({ "isActive": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Deactivating a user ends their tokens at once.
    let r = c
        .patch(s.url(&format!("/api/users/{frank_id}")))
        .bearer_auth(&root)
        .json(&json!({ "isActive": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(s.url("/api/me"))
            .bearer_auth(&frank_token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let r = c
        .delete(s.url(&format!("/api/users/{frank_id}")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(s.url(&format!("/api/users/{frank_id}")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .delete(s.url(&format!("/api/users/{root_id}")))
        .bearer_auth(&erin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "root cannot be deleted");
}

#[tokio::test]
async fn users_see_and_end_their_own_sessions_only() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("gina", PASSWORD, false);
    s.add_user("hank", PASSWORD, false);
    let a = login(&s, "gina", PASSWORD).await;
    let b = login(&s, "gina", PASSWORD).await;
    let h = login(&s, "hank", PASSWORD).await;
    let c = client();
    let list: Value = c
        .get(s.url("/api/me/sessions"))
        .bearer_auth(access_token(&a))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions.iter().filter(|x| x["isCurrent"] == true).count(),
        1
    );
    let other = sessions.iter().find(|x| x["isCurrent"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = c
        .delete(s.url(&format!("/api/me/sessions/{other}")))
        .bearer_auth(access_token(&h))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not hank's session");
    let r = c
        .delete(s.url(&format!("/api/me/sessions/{other}")))
        .bearer_auth(access_token(&a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(s.url("/api/me"))
            .bearer_auth(access_token(&b))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = c
        .post(s.url("/auth/refresh"))
        .header("x-refresh-token", refresh_token(&b))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
