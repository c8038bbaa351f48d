//! The ABS listening API against a generated library: browse, play, stream, sync, progress,
//! bookmarks, and an access matrix proving a user sees nothing they may not see, by any route.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, client, login};

pub const BOOKS: usize = 12;

pub fn generate(dir: &Path, books: usize, seed: u64) {
    let out = std::process::Command::new(crate::harness::BIN)
        .args([
            "generate-library",
            "--books",
            &books.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub async fn get(s: &TestServer, token: &str, path: &str) -> reqwest::Response {
    client()
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub async fn get_json(s: &TestServer, token: &str, path: &str) -> Value {
    let r = get(s, token, path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

/// Waits (bounded) until the library's scan has produced `n` items; returns the library id.
pub async fn wait_for_library(s: &TestServer, token: &str, name: &str, n: usize) -> String {
    for _ in 0..400 {
        let libs = get_json(s, token, "/api/libraries").await;
        if let Some(lib) = libs["libraries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
        {
            let id = lib["id"].as_str().unwrap().to_string();
            let page = get_json(s, token, &format!("/api/libraries/{id}/items?limit=1")).await;
            if page["total"].as_u64() == Some(n as u64) {
                return id;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("library {name} never reached {n} items");
}

pub struct Fixture {
    pub s: TestServer,
    pub root: String,
    pub lib: String,
    _dir: tempfile::TempDir,
    pub folder: PathBuf,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("Audiobooks");
    generate(&folder, BOOKS, 3);
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .arg("--library")
        .arg(folder.to_str().unwrap())
        .start()
        .await;
    let root = access_token(&login(&s, "root", PASSWORD).await);
    let lib = wait_for_library(&s, &root, "Audiobooks", BOOKS).await;
    Fixture {
        s,
        root,
        lib,
        _dir: dir,
        folder,
    }
}

fn b64(v: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}

#[tokio::test]
async fn browse_a_library_as_abs_clients_do() {
    let f = fixture().await;
    let (s, t, lib) = (&f.s, f.root.as_str(), f.lib.as_str());
    let libs = get_json(s, t, "/api/libraries?include=stats").await;
    assert_eq!(libs["libraries"][0]["stats"]["totalItems"], BOOKS);
    for key in [
        "id",
        "name",
        "folders",
        "displayOrder",
        "icon",
        "mediaType",
        "provider",
        "settings",
        "createdAt",
        "lastUpdate",
    ] {
        assert!(
            libs["libraries"][0].get(key).is_some(),
            "library lacks {key}"
        );
    }

    let page = get_json(
        s,
        t,
        &format!("/api/libraries/{lib}/items?limit=5&page=1&minified=1"),
    )
    .await;
    assert_eq!(page["total"], BOOKS);
    assert_eq!(page["results"].as_array().unwrap().len(), 5);
    let item = &page["results"][0];
    for key in ["numFiles", "size", "media"] {
        assert!(item.get(key).is_some(), "minified item lacks {key}");
    }
    for key in [
        "titleIgnorePrefix",
        "authorName",
        "authorNameLF",
        "narratorName",
        "seriesName",
        "genres",
        "explicit",
    ] {
        assert!(
            item["media"]["metadata"].get(key).is_some(),
            "metadata lacks {key}"
        );
    }
    let r = get(s, t, &format!("/api/libraries/{lib}/items?limit=-1")).await;
    assert_eq!(r.status(), 400);

    // Sorted by title, descending, and filtered by an author (base64 of the id).
    let desc = get_json(
        s,
        t,
        &format!("/api/libraries/{lib}/items?sort=media.metadata.title&desc=1"),
    )
    .await;
    let titles: Vec<String> = desc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["media"]["metadata"]["titleIgnorePrefix"]
                .as_str()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    let mut sorted = titles.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(titles, sorted);
    let authors = get_json(s, t, &format!("/api/libraries/{lib}/authors")).await;
    let author = &authors["authors"][0];
    let by_author = get_json(
        s,
        t,
        &format!(
            "/api/libraries/{lib}/items?filter=authors.{}",
            b64(author["id"].as_str().unwrap())
        ),
    )
    .await;
    assert_eq!(by_author["total"], author["numBooks"]);

    let series = get_json(
        s,
        t,
        &format!("/api/libraries/{lib}/series?limit=10&page=0"),
    )
    .await;
    if let Some(one) = series["results"].as_array().unwrap().first() {
        let sid = one["id"].as_str().unwrap();
        let in_series = get_json(
            s,
            t,
            &format!(
                "/api/libraries/{lib}/items?filter=series.{}&sort=sequence",
                b64(sid)
            ),
        )
        .await;
        assert_eq!(
            in_series["total"].as_u64().unwrap() as usize,
            one["books"].as_array().unwrap().len()
        );
        assert!(
            in_series["results"][0]["media"]["metadata"]["series"].is_object(),
            "series filter gives an object"
        );
        let collapsed = get_json(
            s,
            t,
            &format!("/api/libraries/{lib}/items?collapseseries=1"),
        )
        .await;
        assert!(
            collapsed["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["collapsedSeries"]["id"] == sid)
        );
        let one_series = get_json(
            s,
            t,
            &format!("/api/libraries/{lib}/series/{sid}?include=progress"),
        )
        .await;
        assert!(one_series["progress"].is_object());
    }
    let fd = get_json(s, t, &format!("/api/libraries/{lib}/filterdata")).await;
    assert_eq!(fd["bookCount"], BOOKS);
    let with_fd = get_json(s, t, &format!("/api/libraries/{lib}?include=filterdata")).await;
    assert!(with_fd["filterdata"]["authors"].is_array() && with_fd["library"]["id"] == lib);
    let narrators = get_json(s, t, &format!("/api/libraries/{lib}/narrators")).await;
    assert!(narrators["narrators"].is_array());
    let title = item["media"]["metadata"]["title"].as_str().unwrap();
    let word = title.split_whitespace().next().unwrap();
    let found = get_json(s, t, &format!("/api/libraries/{lib}/search?q={word}")).await;
    assert!(
        found["book"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["libraryItem"]["media"]["metadata"]["title"] == title)
    );
    assert_eq!(
        get(s, t, &format!("/api/libraries/{lib}/search"))
            .await
            .status(),
        400
    );
    let shelves = get_json(s, t, &format!("/api/libraries/{lib}/personalized")).await;
    assert!(
        shelves
            .as_array()
            .unwrap()
            .iter()
            .any(|sh| sh["id"] == "recently-added")
    );
    assert_eq!(get(s, t, "/api/libraries/nope").await.status(), 404);
}

#[tokio::test]
async fn play_stream_sync_and_resume() {
    let f = fixture().await;
    let (s, t, lib) = (&f.s, f.root.as_str(), f.lib.as_str());
    // The generated books last seconds: finish only at the very end.
    let r = client()
        .patch(s.url(&format!("/api/libraries/{lib}")))
        .bearer_auth(t)
        .json(&json!({ "settings": { "markAsFinishedTimeRemaining": 0.1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let items = get_json(s, t, &format!("/api/libraries/{lib}/items")).await;
    let id = items["results"][0]["id"].as_str().unwrap().to_string();
    let expanded = get_json(
        s,
        t,
        &format!("/api/items/{id}?expanded=1&include=progress"),
    )
    .await;
    assert!(expanded["userMediaProgress"].is_null());
    assert!(!expanded["media"]["tracks"].as_array().unwrap().is_empty());
    let plain = get_json(s, t, &format!("/api/items/{id}")).await;
    assert!(plain["media"]["audioFiles"].is_array() && plain["libraryFiles"].is_array());

    let play: Value = client()
        .post(s.url(&format!("/api/items/{id}/play")))
        .bearer_auth(t)
        .json(&json!({ "deviceInfo": { "deviceId": "phone-1", "clientName": "test" }, "mediaPlayer": "html5" }))
        .send().await.unwrap().json().await.unwrap();
    for key in [
        "id",
        "userId",
        "libraryId",
        "libraryItemId",
        "mediaType",
        "mediaMetadata",
        "displayTitle",
        "duration",
        "playMethod",
        "mediaPlayer",
        "deviceInfo",
        "serverVersion",
        "date",
        "dayOfWeek",
        "timeListening",
        "startTime",
        "currentTime",
        "startedAt",
        "updatedAt",
        "audioTracks",
    ] {
        assert!(play.get(key).is_some(), "session lacks {key}");
    }
    let sid = play["id"].as_str().unwrap().to_string();
    let track = &play["audioTracks"][0];
    let url = track["contentUrl"].as_str().unwrap();
    let r = client()
        .get(s.url(url))
        .bearer_auth(t)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("audio/")
    );
    assert!(r.headers().contains_key("etag") && r.headers().contains_key("last-modified"));
    assert_eq!(r.bytes().await.unwrap().len(), 10);
    let r = client()
        .get(s.url(&format!("{url}?token={t}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "?token= works on media routes");
    let r = client()
        .get(s.url(&format!("/public/session/{sid}/track/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the open session id is the capability");
    assert_eq!(
        client()
            .get(s.url(&format!("/public/session/{sid}/track/9")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client()
            .get(s.url(&format!("/public/session/{sid}/track/x")))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    let r = client()
        .post(s.url(&format!("/api/session/{sid}/sync")))
        .bearer_auth(t)
        .json(&json!({ "currentTime": 1.25, "timeListened": 1.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p = get_json(s, t, &format!("/api/me/progress/{id}")).await;
    assert_eq!(p["currentTime"], 1.25);
    let in_progress = get_json(s, t, "/api/me/items-in-progress").await;
    assert_eq!(in_progress["libraryItems"][0]["id"], id.as_str());
    let r = client()
        .post(s.url(&format!("/api/session/{sid}/close")))
        .bearer_auth(t)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        client()
            .get(s.url(&format!("/public/session/{sid}/track/1")))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "closed session"
    );
    let history = get_json(s, t, "/api/me/listening-sessions").await;
    assert_eq!(history["total"], 1);

    // Another device resumes where this one left off.
    let again: Value = client()
        .post(s.url(&format!("/api/items/{id}/play")))
        .bearer_auth(t)
        .json(&json!({ "deviceInfo": { "deviceId": "tablet-2" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["startTime"], 1.25);
}

#[tokio::test]
async fn progress_rules_bookmarks_and_durability() {
    let mut f = fixture().await;
    let t = f.root.clone();
    let items = get_json(&f.s, &t, &format!("/api/libraries/{}/items", f.lib)).await;
    let id = items["results"][1]["id"].as_str().unwrap().to_string();
    let c = client();
    let patch = |body: Value| {
        c.patch(f.s.url(&format!("/api/me/progress/{id}")))
            .bearer_auth(&t)
            .json(&body)
            .send()
    };
    assert_eq!(
        patch(json!({ "duration": 100.0, "currentTime": 30.0 }))
            .await
            .unwrap()
            .status(),
        200
    );
    // Concurrent writes never duplicate the row.
    let mut handles = Vec::new();
    for i in 0..20 {
        let (url, tok) = (f.s.url(&format!("/api/me/progress/{id}")), t.clone());
        handles.push(tokio::spawn(async move {
            client()
                .patch(url)
                .bearer_auth(tok)
                .json(&json!({ "currentTime": 31.0 + i as f64 }))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let me = get_json(&f.s, &t, "/api/me").await;
    assert_eq!(
        me["mediaProgress"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["libraryItemId"] == id.as_str())
            .count(),
        1
    );
    // An older offline write loses; near the end the book is finished.
    assert_eq!(
        patch(json!({ "currentTime": 5.0, "lastUpdate": 1_000 }))
            .await
            .unwrap()
            .status(),
        200
    );
    let p = get_json(&f.s, &t, &format!("/api/me/progress/{id}")).await;
    assert!(p["currentTime"].as_f64().unwrap() > 30.0);
    assert_eq!(
        patch(json!({ "currentTime": 95.0 }))
            .await
            .unwrap()
            .status(),
        200
    );
    let p = get_json(&f.s, &t, &format!("/api/me/progress/{id}")).await;
    assert_eq!(p["isFinished"], true);
    assert_eq!(
        patch(json!({ "currentTime": "bad" }))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.patch(f.s.url("/api/me/progress/nope"))
            .bearer_auth(&t)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let r = c
        .post(f.s.url(&format!("/api/me/item/{id}/bookmark")))
        .bearer_auth(&t)
        .json(&json!({ "time": 12.5, "title": "Good bit" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let marks = get_json(&f.s, &t, "/api/me/bookmarks").await;
    assert_eq!(marks["bookmarks"][0]["title"], "Good bit");
    let r = c
        .post(f.s.url(&format!("/api/me/item/{id}/bookmark")))
        .bearer_auth(&t)
        .json(&json!({ "time": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A write acknowledged with 200 survives kill -9.
    f.s.kill9();
    f.s.restart().await;
    let t = access_token(&login(&f.s, "root", PASSWORD).await);
    let p = get_json(&f.s, &t, &format!("/api/me/progress/{id}")).await;
    assert_eq!(p["isFinished"], true);
    let r = client()
        .delete(f.s.url(&format!("/api/me/item/{id}/bookmark/12.5")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = p["id"].as_str().unwrap();
    assert_eq!(
        client()
            .delete(f.s.url(&format!("/api/me/progress/{pid}")))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(&f.s, &t, &format!("/api/me/progress/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn offline_sessions_sync_newest_wins() {
    let f = fixture().await;
    let (s, t) = (&f.s, f.root.as_str());
    let items = get_json(s, t, &format!("/api/libraries/{}/items", f.lib)).await;
    let id = items["results"][2]["id"].as_str().unwrap().to_string();
    let now = chrono_now();
    let session = |sid: &str, pos: f64, at: i64| {
        json!({ "id": sid, "libraryItemId": id, "currentTime": pos,
        "timeListening": 10.0, "duration": 100.0, "startedAt": at - 10_000, "updatedAt": at })
    };
    let r = client()
        .post(s.url("/api/session/local"))
        .bearer_auth(t)
        .json(&session("local-1", 40.0, now - 5_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = client()
        .post(s.url("/api/session/local-all"))
        .bearer_auth(t)
        .json(&json!({ "sessions": [session("local-0", 20.0, now - 60_000), { "id": "bad" }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["success"], true);
    assert_eq!(r["results"][1]["success"], false);
    let p = get_json(s, t, &format!("/api/me/progress/{id}")).await;
    assert_eq!(
        p["currentTime"], 40.0,
        "the older offline session does not overwrite newer progress"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Adds ABS `metadata.json` sidecars that tag one book and mark another explicit, then rescans.
pub async fn tag_books(f: &Fixture, items: &[Value]) -> (String, String) {
    let folders: Vec<&Value> = items.iter().filter(|i| i["isFile"] == false).collect();
    let (kids, adult) = (folders[0], folders[1]);
    std::fs::write(
        Path::new(kids["path"].as_str().unwrap()).join("metadata.json"),
        r#"{"tags":["kids"]}"#,
    )
    .unwrap();
    std::fs::write(
        Path::new(adult["path"].as_str().unwrap()).join("metadata.json"),
        r#"{"explicit":true}"#,
    )
    .unwrap();
    let r = client()
        .post(f.s.url(&format!("/api/libraries/{}/scan?force=1", f.lib)))
        .bearer_auth(&f.root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let kid_id = kids["id"].as_str().unwrap().to_string();
    for _ in 0..400 {
        let it = get_json(&f.s, &f.root, &format!("/api/items/{kid_id}")).await;
        if it["media"]["tags"] == json!(["kids"]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (kid_id, adult["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn access_matrix_every_route_respects_permissions() {
    let f = fixture().await;
    let s = &f.s;
    let items = get_json(s, &f.root, &format!("/api/libraries/{}/items", f.lib)).await;
    let items = items["results"].as_array().unwrap().clone();
    let (kids, adult) = tag_books(&f, &items).await;
    let other = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .find(|i| *i != kids && *i != adult)
        .unwrap();
    let c = client();

    // Root plays `kids` and keeps the session open; its progress and session are root's alone.
    let play: Value = c
        .post(s.url(&format!("/api/items/{kids}/play")))
        .bearer_auth(&f.root)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root_session = play["id"].as_str().unwrap().to_string();
    c.patch(s.url(&format!("/api/me/progress/{kids}")))
        .bearer_auth(&f.root)
        .json(&json!({ "currentTime": 1.0 }))
        .send()
        .await
        .unwrap();
    let root_progress = get_json(s, &f.root, &format!("/api/me/progress/{kids}")).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A user limited to books tagged "kids", without explicit content.
    let r = c.post(s.url("/api/users")).bearer_auth(&f.root).json(&json!({
        "username": "child", "password": PASSWORD, "type": "user",
        "permissions": { "accessAllTags": false, "accessExplicitContent": false }, "itemTagsSelected": ["kids"]
    })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let child = access_token(&login(s, "child", PASSWORD).await);
    // A user with no library at all.
    let r = c
        .post(s.url("/api/users"))
        .bearer_auth(&f.root)
        .json(&json!({
            "username": "outsider", "password": PASSWORD, "type": "user",
            "permissions": { "accessAllLibraries": false }, "librariesAccessible": []
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let outsider = access_token(&login(s, "outsider", PASSWORD).await);

    let page = get_json(s, &child, &format!("/api/libraries/{}/items", f.lib)).await;
    assert_eq!(page["total"], 1, "child sees only the kids book");
    assert_eq!(page["results"][0]["id"], kids.as_str());
    assert_eq!(
        get_json(s, &child, &format!("/api/libraries/{}/filterdata", f.lib)).await["bookCount"],
        1
    );
    let search_word =
        items.iter().find(|i| i["id"] == other.as_str()).unwrap()["media"]["metadata"]["title"]
            .as_str()
            .unwrap()
            .to_string();
    let found = get_json(
        s,
        &child,
        &format!(
            "/api/libraries/{}/search?q={}",
            f.lib,
            search_word.split_whitespace().next().unwrap()
        ),
    )
    .await;
    assert!(
        found["book"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["libraryItem"]["id"] == kids.as_str())
    );

    for hidden in [&other, &adult] {
        for path in [
            format!("/api/items/{hidden}"),
            format!("/api/items/{hidden}/cover"),
            format!("/api/me/progress/{hidden}"),
        ] {
            let r = get(s, &child, &path).await;
            assert!(
                r.status() == 403 || r.status() == 404,
                "child GET {path}: {}",
                r.status()
            );
        }
        let plain = get_json(s, &f.root, &format!("/api/items/{hidden}")).await;
        let ino = plain["media"]["audioFiles"][0]["ino"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            get(s, &child, &format!("/api/items/{hidden}/file/{ino}"))
                .await
                .status(),
            403
        );
        assert_eq!(
            c.post(s.url(&format!("/api/items/{hidden}/play")))
                .bearer_auth(&child)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            c.patch(s.url(&format!("/api/me/progress/{hidden}")))
                .bearer_auth(&child)
                .json(&json!({ "currentTime": 1 }))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            c.post(s.url(&format!("/api/me/item/{hidden}/bookmark")))
                .bearer_auth(&child)
                .json(&json!({ "time": 1, "title": "x" }))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            c.post(s.url("/api/items/batch/get"))
                .bearer_auth(&child)
                .json(&json!({ "libraryItemIds": [kids, hidden] }))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
    }
    assert_eq!(
        get(s, &child, &format!("/api/items/{kids}")).await.status(),
        200
    );

    // The outsider cannot see the library by any route.
    assert_eq!(
        get_json(s, &outsider, "/api/libraries").await["libraries"],
        json!([])
    );
    for path in [
        "",
        "/items",
        "/series",
        "/authors",
        "/narrators",
        "/search?q=a",
        "/filterdata",
        "/personalized",
    ] {
        assert_eq!(
            get(s, &outsider, &format!("/api/libraries/{}{path}", f.lib))
                .await
                .status(),
            403,
            "outsider {path}"
        );
    }
    assert_eq!(
        get(s, &outsider, &format!("/api/items/{kids}/cover"))
            .await
            .status(),
        403
    );

    // Nobody reads or changes another user's progress, sessions or bookmarks.
    for token in [&child, &outsider] {
        assert_eq!(
            get(s, token, &format!("/api/session/{root_session}"))
                .await
                .status(),
            404
        );
        assert_eq!(
            c.post(s.url(&format!("/api/session/{root_session}/sync")))
                .bearer_auth(token)
                .json(&json!({ "currentTime": 99 }))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        assert_eq!(
            c.delete(s.url(&format!("/api/me/progress/{root_progress}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        assert_eq!(
            get_json(s, token, "/api/me").await["mediaProgress"],
            json!([])
        );
        assert_eq!(get(s, token, "/api/sessions/open").await.status(), 404);
    }
    assert_eq!(
        get_json(s, &f.root, &format!("/api/me/progress/{kids}")).await["currentTime"],
        1.0
    );

    // Taking access away hides the book from the owner's in-progress list too.
    let r = c
        .patch(s.url(&format!("/api/me/progress/{other}")))
        .bearer_auth(&child)
        .json(&json!({ "currentTime": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        get_json(s, &child, "/api/me/items-in-progress").await["libraryItems"],
        json!([])
    );
}

#[tokio::test]
async fn admin_library_routes_and_tasks() {
    let f = fixture().await;
    let (s, t) = (&f.s, f.root.as_str());
    let c = client();
    let second = f.folder.parent().unwrap().join("Second");
    generate(&second, 3, 9);
    let r = c
        .post(s.url("/api/libraries"))
        .bearer_auth(t)
        .json(
            &json!({ "name": "Second", "folders": [{ "fullPath": second }], "mediaType": "book" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lib2 = wait_for_library(s, t, "Second", 3).await;
    let r = c
        .post(s.url("/api/libraries"))
        .bearer_auth(t)
        .json(&json!({ "name": "Bad", "folders": [{ "fullPath": "/does/not/exist" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(s.url("/api/libraries"))
        .bearer_auth(t)
        .json(&json!({ "name": "Overlap", "folders": [{ "fullPath": s.data.path() }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the data dir is never a library");
    let tasks = get_json(s, t, "/api/tasks").await;
    assert!(
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["action"] == "library-scan" && t["data"]["libraryId"] == lib2.as_str())
    );
    // The start-up scan of the fixture library reported its progress: every book read.
    let mut first_scan = Value::Null;
    for _ in 0..400 {
        let tasks = get_json(s, t, "/api/tasks").await;
        if let Some(done) = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["data"]["libraryId"] == f.lib.as_str() && x["isFinished"] == true)
        {
            first_scan = done.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        first_scan["data"]["progress"],
        json!({ "phase": "done", "done": BOOKS, "total": BOOKS }),
        "{first_scan}"
    );
    let r = c
        .patch(s.url(&format!("/api/libraries/{lib2}")))
        .bearer_auth(t)
        .json(&json!({ "name": "Renamed", "settings": { "hideSingleBookSeries": true } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lib: Value = r.json().await.unwrap();
    assert_eq!(lib["name"], "Renamed");
    assert_eq!(lib["settings"]["hideSingleBookSeries"], true);
    s.add_user("plain", PASSWORD, false);
    let plain = access_token(&login(s, "plain", PASSWORD).await);
    assert_eq!(
        c.post(s.url(&format!("/api/libraries/{lib2}/scan")))
            .bearer_auth(&plain)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        c.delete(s.url(&format!("/api/libraries/{lib2}")))
            .bearer_auth(&plain)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(get(s, &plain, "/api/tasks").await.status(), 403);
    for _ in 0..200 {
        if c.delete(s.url(&format!("/api/libraries/{lib2}")))
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        get(s, t, &format!("/api/libraries/{lib2}")).await.status(),
        404
    );
    let audit = get_json(s, t, "/api/audit?action=library.*").await;
    assert!(audit["total"].as_i64().unwrap() >= 3);
}

#[tokio::test]
async fn covers_are_resized_cached_and_raw_on_request() {
    let f = fixture().await;
    let (s, t, lib) = (&f.s, f.root.as_str(), f.lib.as_str());
    let page = get_json(s, t, &format!("/api/libraries/{lib}/items?limit={BOOKS}")).await;
    let item = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["media"]["coverPath"]
                .as_str()
                .is_some_and(|p| p.ends_with("cover.jpg"))
        })
        .expect("a book with a folder cover");
    let id = item["id"].as_str().unwrap();
    let original = std::fs::read(item["media"]["coverPath"].as_str().unwrap()).unwrap();

    let decode = |bytes: &[u8]| image::load_from_memory(bytes).unwrap();
    let r = get(s, t, &format!("/api/items/{id}/cover?width=50")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let small = decode(&r.bytes().await.unwrap());
    assert_eq!((small.width(), small.height()), (50, 50));

    let r = get(s, t, &format!("/api/items/{id}/cover?width=64&format=webp")).await;
    assert_eq!(r.headers()["content-type"], "image/webp");
    let webp = r.bytes().await.unwrap();
    assert_eq!(&webp[8..12], b"WEBP");
    assert_eq!(decode(&webp).width(), 64);

    // No size: ABS's 400 px, but a 200 px cover is never enlarged.
    let r = get(s, t, &format!("/api/items/{id}/cover")).await;
    let default = decode(&r.bytes().await.unwrap());
    assert_eq!((default.width(), default.height()), (200, 200));

    // raw=1 is the file itself.
    let r = get(s, t, &format!("/api/items/{id}/cover?raw=1")).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), original.as_slice());

    // Made once, then served from the data dir's cache; bad sizes are a clear 400.
    let cached = std::fs::read_dir(f.s.data.path().join("cache").join("covers"))
        .unwrap()
        .count();
    assert_eq!(cached, 3, "50 px jpeg, 64 px webp, default");
    let r = get(s, t, &format!("/api/items/{id}/cover?width=50")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        std::fs::read_dir(f.s.data.path().join("cache").join("covers"))
            .unwrap()
            .count(),
        3
    );
    let r = get(s, t, &format!("/api/items/{id}/cover?width=wide")).await;
    assert_eq!(r.status(), 400);
    let r = get(s, t, &format!("/api/items/{id}/cover?format=tiff")).await;
    assert_eq!(r.status(), 400);
}
