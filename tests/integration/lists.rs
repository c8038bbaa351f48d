//! Collections and playlists: who may read and change them, and what each user sees of them.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, client, login, send};
use crate::listening::{fixture, get, get_json, tag_books};

async fn new_user(s: &TestServer, root: &str, name: &str, extra: Value) -> String {
    let mut body = json!({ "username": name, "password": PASSWORD, "type": "user" });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = client()
        .post(s.url("/api/users"))
        .bearer_auth(root)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    access_token(&login(s, name, PASSWORD).await)
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b.get("libraryItemId")
                .unwrap_or(&b["id"])
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn collections_follow_permissions_and_show_each_user_only_their_books() {
    use reqwest::Method;
    let f = fixture().await;
    let s = &f.s;
    let page = get_json(s, &f.root, &format!("/api/libraries/{}/items", f.lib)).await;
    let items = page["results"].as_array().unwrap().clone();
    let (kids, adult) = tag_books(&f, &items).await;
    let other = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .find(|i| *i != kids && *i != adult)
        .unwrap();
    let child = new_user(s, &f.root, "child", json!({
        "permissions": { "accessAllTags": false, "accessExplicitContent": false, "update": true },
        "itemTagsSelected": ["kids"]
    }))
    .await;
    let editor = new_user(
        s,
        &f.root,
        "editor",
        json!({ "permissions": { "update": true, "accessExplicitContent": true } }),
    )
    .await;
    let plain = new_user(s, &f.root, "plain", json!({})).await;
    let outsider = new_user(
        s,
        &f.root,
        "outsider",
        json!({
            "permissions": { "accessAllLibraries": false }, "librariesAccessible": []
        }),
    )
    .await;

    let body = json!({ "name": " Mixed ", "libraryId": f.lib, "books": [kids, adult, other] });
    let (status, made) = send(
        s,
        Method::POST,
        &f.root,
        "/api/collections",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["name"], "Mixed");
    assert_eq!(
        ids(&made, "books"),
        vec![kids.clone(), adult.clone(), other.clone()]
    );
    assert!(
        made["books"][0]["media"]["tracks"].is_array(),
        "books are expanded items"
    );
    let path = format!("/api/collections/{}", made["id"].as_str().unwrap());

    // Each user sees the books they may see; a closed library hides the collection entirely.
    assert_eq!(
        ids(&get_json(s, &child, &path).await, "books"),
        vec![kids.clone()]
    );
    assert_eq!(get(s, &outsider, &path).await.status(), 404);
    let listed = get_json(s, &outsider, "/api/collections").await;
    assert_eq!(listed["collections"], json!([]));
    assert_eq!(
        get(
            s,
            &outsider,
            &format!("/api/libraries/{}/collections", f.lib)
        )
        .await
        .status(),
        403
    );
    let paged = get_json(
        s,
        &plain,
        &format!("/api/libraries/{}/collections?limit=1&page=0", f.lib),
    )
    .await;
    assert_eq!(
        (
            paged["total"].clone(),
            paged["results"].as_array().unwrap().len()
        ),
        (json!(1), 1)
    );

    // Changing needs `update`, deleting needs `delete`, including the route ABS forgot.
    for (method, p, b) in [
        (
            Method::POST,
            "/api/collections".to_string(),
            Some(body.clone()),
        ),
        (Method::PATCH, path.clone(), Some(json!({ "name": "x" }))),
        (
            Method::POST,
            format!("{path}/book"),
            Some(json!({ "id": other })),
        ),
        (Method::DELETE, format!("{path}/book/{other}"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        assert_eq!(send(s, method, &plain, &p, b).await.0, 403, "{p}");
    }
    assert_eq!(send(s, Method::DELETE, &editor, &path, None).await.0, 403);

    // The editor reorders and trims; bad input is refused.
    let (status, v) = send(
        s,
        Method::PATCH,
        &editor,
        &path,
        Some(json!({ "books": [other, kids], "description": "for the car" })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        ids(&v, "books"),
        vec![other.clone(), kids.clone(), adult.clone()]
    );
    assert_eq!(v["description"], "for the car");
    let (status, v) = send(
        s,
        Method::PATCH,
        &editor,
        &path,
        Some(json!({ "description": null })),
    )
    .await;
    assert_eq!((status, v["description"].clone()), (200, Value::Null));
    assert_eq!(
        send(
            s,
            Method::POST,
            &editor,
            &format!("{path}/book"),
            Some(json!({ "id": other }))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(
            s,
            Method::POST,
            &editor,
            &format!("{path}/book"),
            Some(json!({ "id": "nope" }))
        )
        .await
        .0,
        404
    );
    let (status, v) = send(
        s,
        Method::DELETE,
        &editor,
        &format!("{path}/book/{other}"),
        None,
    )
    .await;
    assert_eq!(
        (status, ids(&v, "books")),
        (200, vec![kids.clone(), adult.clone()])
    );
    let (status, v) = send(
        s,
        Method::POST,
        &editor,
        &format!("{path}/batch/add"),
        Some(json!({ "books": [other, kids] })),
    )
    .await;
    assert_eq!(
        (status, ids(&v, "books")),
        (200, vec![kids.clone(), adult.clone(), other.clone()])
    );
    let (status, v) = send(
        s,
        Method::POST,
        &editor,
        &format!("{path}/batch/remove"),
        Some(json!({ "books": [kids] })),
    )
    .await;
    assert_eq!(
        (status, ids(&v, "books")),
        (200, vec![adult.clone(), other.clone()])
    );
    assert_eq!(
        send(
            s,
            Method::POST,
            &editor,
            &format!("{path}/batch/remove"),
            Some(json!({ "books": [] }))
        )
        .await
        .0,
        400
    );
    for bad in [
        json!({ "name": "", "libraryId": f.lib, "books": [kids] }),
        json!({ "name": "n", "libraryId": f.lib, "books": [] }),
        json!({ "name": "n", "libraryId": f.lib, "books": ["nope"] }),
        json!({ "name": "n", "libraryId": f.lib, "books": "x" }),
    ] {
        assert_eq!(
            send(
                s,
                Method::POST,
                &editor,
                "/api/collections",
                Some(bad.clone())
            )
            .await
            .0,
            400,
            "{bad}"
        );
    }

    // A user who sees only some books reorders what they see; the rest stay.
    let (status, v) = send(
        s,
        Method::POST,
        &f.root,
        &format!("{path}/batch/add"),
        Some(json!({ "books": [kids] })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = send(
        s,
        Method::PATCH,
        &child,
        &path,
        Some(json!({ "books": [kids] })),
    )
    .await;
    assert_eq!((status, ids(&v, "books")), (200, vec![kids.clone()]));
    assert_eq!(
        ids(&get_json(s, &f.root, &path).await, "books"),
        vec![kids.clone(), adult.clone(), other.clone()]
    );
    // A book the child may not see cannot be added by them either.
    assert_eq!(
        send(
            s,
            Method::POST,
            &child,
            &format!("{path}/batch/add"),
            Some(json!({ "books": [adult] }))
        )
        .await
        .0,
        400
    );

    let (status, text) = send(s, Method::DELETE, &f.root, &path, None).await;
    assert_eq!((status, text), (200, json!("OK")));
    assert_eq!(get(s, &f.root, &path).await.status(), 404);
}

#[tokio::test]
async fn playlists_are_private_to_their_owner() {
    use reqwest::Method;
    let f = fixture().await;
    let s = &f.s;
    let page = get_json(s, &f.root, &format!("/api/libraries/{}/items", f.lib)).await;
    let items: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let (a, b) = (items[0].clone(), items[1].clone());
    let alice = new_user(s, &f.root, "alice", json!({})).await;
    let bob = new_user(s, &f.root, "bob", json!({})).await;

    let entries = |ids: &[&String]| -> Value {
        json!(
            ids.iter()
                .map(|i| json!({ "libraryItemId": i, "episodeId": null }))
                .collect::<Vec<_>>()
        )
    };
    let (status, made) = send(
        s,
        Method::POST,
        &alice,
        "/api/playlists",
        Some(json!({ "name": "Mine", "libraryId": f.lib, "items": entries(&[&a, &b]) })),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["userId"].as_str().unwrap().len(), 36);
    assert_eq!(ids(&made, "items"), vec![a.clone(), b.clone()]);
    let path = format!("/api/playlists/{}", made["id"].as_str().unwrap());

    for (method, p, body) in [
        (Method::GET, path.clone(), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({ "name": "Theirs" })),
        ),
        (
            Method::POST,
            format!("{path}/item"),
            Some(json!({ "libraryItemId": a })),
        ),
        (Method::DELETE, format!("{path}/item/{a}"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        assert_eq!(send(s, method, &bob, &p, body).await.0, 403, "{p}");
    }
    assert_eq!(
        get_json(s, &bob, "/api/playlists").await["playlists"],
        json!([])
    );
    let bobs = get_json(s, &bob, &format!("/api/libraries/{}/playlists", f.lib)).await;
    assert_eq!(bobs["total"], 0);

    // Reorders must name the same books; ids and owners cannot move.
    assert_eq!(
        send(
            s,
            Method::PATCH,
            &alice,
            &path,
            Some(json!({ "items": entries(&[&b]) }))
        )
        .await
        .0,
        400
    );
    let (status, v) = send(
        s,
        Method::PATCH,
        &alice,
        &path,
        Some(json!({ "items": entries(&[&b, &a]) })),
    )
    .await;
    assert_eq!(
        (status, ids(&v, "items")),
        (200, vec![b.clone(), a.clone()])
    );
    assert_eq!(
        send(
            s,
            Method::PATCH,
            &alice,
            &path,
            Some(json!({ "libraryId": "x" }))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(
            s,
            Method::POST,
            &alice,
            &format!("{path}/item"),
            Some(json!({ "libraryItemId": a }))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(
            s,
            Method::POST,
            &alice,
            &format!("{path}/item"),
            Some(json!({ "libraryItemId": "nope" }))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(
            s,
            Method::POST,
            &alice,
            &format!("{path}/item"),
            Some(json!({ "libraryItemId": a, "episodeId": "e1" }))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(
            s,
            Method::DELETE,
            &alice,
            &format!("{path}/item/{}", items[2]),
            None
        )
        .await
        .0,
        404
    );

    // Emptied, it is gone (as in ABS).
    let (status, v) = send(s, Method::DELETE, &alice, &format!("{path}/item/{a}"), None).await;
    assert_eq!((status, ids(&v, "items")), (200, vec![b.clone()]));
    let (status, v) = send(s, Method::DELETE, &alice, &format!("{path}/item/{b}"), None).await;
    assert_eq!((status, ids(&v, "items")), (200, Vec::<String>::new()));
    assert_eq!(get(s, &alice, &path).await.status(), 404);
}
