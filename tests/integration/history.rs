//! Listening history and statistics: what each user may read of whose history, what the totals
//! add up to, who may delete a session (and that an admin's deletion is audited), and hiding
//! books and series from "continue listening".

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, access_token, login, send};
use crate::listening::{fixture, get, get_json, tag_books};

/// Creates a user and returns (id, access token).
async fn new_user(s: &TestServer, root: &str, name: &str, extra: Value) -> (String, String) {
    let mut body = json!({ "username": name, "password": PASSWORD, "type": "user" });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, made) = send(s, Method::POST, root, "/api/users", Some(body)).await;
    assert_eq!(status, 200, "{made}");
    let id = made["user"]["id"].as_str().unwrap().to_string();
    (id, access_token(&login(s, name, PASSWORD).await))
}

/// One listening session: play, report `seconds` listened at `position`, close. Returns its id.
async fn listen(s: &TestServer, token: &str, item: &str, position: f64, seconds: f64) -> String {
    let (status, play) = send(
        s,
        Method::POST,
        token,
        &format!("/api/items/{item}/play"),
        Some(json!({ "deviceInfo": { "deviceId": "history-test" } })),
    )
    .await;
    assert_eq!(status, 200, "{play}");
    let sid = play["id"].as_str().unwrap().to_string();
    let (status, _) = send(
        s,
        Method::POST,
        token,
        &format!("/api/session/{sid}/close"),
        Some(json!({ "currentTime": position, "timeListened": seconds })),
    )
    .await;
    assert_eq!(status, 200);
    sid
}

/// The generated books last seconds: without this, every position would count as finished.
async fn finish_only_at_the_end(s: &TestServer, root: &str, lib: &str) {
    let (status, body) = send(
        s,
        Method::PATCH,
        root,
        &format!("/api/libraries/{lib}"),
        Some(json!({ "settings": { "markAsFinishedTimeRemaining": 0.1 } })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn delete_session(s: &TestServer, token: &str, id: &str) -> u16 {
    send(
        s,
        Method::DELETE,
        token,
        &format!("/api/sessions/{id}"),
        None,
    )
    .await
    .0
}

fn session_ids(page: &Value) -> Vec<String> {
    page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn history_and_stats_add_up_and_stay_with_their_owner() {
    let f = fixture().await;
    let s = &f.s;
    finish_only_at_the_end(s, &f.root, &f.lib).await;
    let page = get_json(s, &f.root, &format!("/api/libraries/{}/items", f.lib)).await;
    let items: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let (alice_id, alice) = new_user(s, &f.root, "alice", json!({})).await;
    let (bob_id, bob) = new_user(s, &f.root, "bob", json!({})).await;

    // The generated books last seconds, so the reported listening exceeds the positions. Only
    // the third session reaches the end of its book, which finishes it.
    let end_of_second = page["results"][1]["media"]["duration"].as_f64().unwrap();
    let a1 = listen(s, &alice, &items[0], 1.0, 30.0).await;
    let a2 = listen(s, &alice, &items[0], 1.0, 20.0).await;
    let a3 = listen(s, &alice, &items[1], end_of_second, 10.0).await;
    let b1 = listen(s, &bob, &items[2], 1.0, 5.0).await;
    // A session opened and closed without listening is not history. While it is open, admins
    // see it with its owner and its tracks.
    let (status, open) = send(
        s,
        Method::POST,
        &alice,
        &format!("/api/items/{}/play", items[3]),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let listed = get_json(s, &f.root, "/api/sessions/open").await;
    let entry = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == open["id"])
        .unwrap()
        .clone();
    assert_eq!(entry["user"]["username"], "alice");
    assert!(!entry["audioTracks"].as_array().unwrap().is_empty());
    let (status, _) = send(
        s,
        Method::POST,
        &alice,
        &format!("/api/session/{}/close", open["id"].as_str().unwrap()),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);

    let st = get_json(s, &alice, "/api/me/listening-stats").await;
    assert_eq!(st["totalTime"], json!(60.0));
    assert_eq!(st["today"], json!(60.0));
    assert_eq!(st["items"][&items[0]]["timeListening"], json!(50.0));
    assert_eq!(st["items"][&items[1]]["timeListening"], json!(10.0));
    assert!(st["items"].get(&items[3]).is_none());
    let days = st["days"].as_object().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days.values().next(), Some(&json!(60.0)));
    assert_eq!(st["recentSessions"].as_array().unwrap().len(), 3);
    assert_eq!(st["recentSessions"][0]["id"], a3.as_str(), "newest first");

    // Some clients join the base URL and the path with one slash too many.
    assert_eq!(
        get_json(s, &alice, "//api//me/listening-stats").await["totalTime"],
        json!(60.0)
    );

    let mine = get_json(s, &alice, "/api/me/listening-sessions?itemsPerPage=2").await;
    assert_eq!(mine["total"], 3);
    assert_eq!(mine["numPages"], 2);
    assert_eq!(session_ids(&mine), vec![a3.clone(), a2.clone()]);

    let one = get_json(
        s,
        &alice,
        &format!("/api/me/item/listening-sessions/{}", items[0]),
    )
    .await;
    let mut of_item = session_ids(&one);
    of_item.sort();
    let mut expected = vec![a1.clone(), a2.clone()];
    expected.sort();
    assert_eq!(of_item, expected);
    let of_episode = get_json(
        s,
        &alice,
        &format!("/api/me/item/listening-sessions/{}/ep-1", items[0]),
    )
    .await;
    assert_eq!(of_episode["total"], 0, "a book has no episode sessions");
    assert_eq!(
        get(s, &alice, "/api/me/item/listening-sessions/no-such-item")
            .await
            .status(),
        404
    );

    // The year in review counts this year's listening; nonsense years are refused.
    let year = chrono_year();
    let review = get_json(s, &alice, &format!("/api/me/stats/year/{year}")).await;
    assert_eq!(review["totalListeningSessions"], 3);
    assert_eq!(review["totalListeningTime"], json!(60));
    assert_eq!(review["numBooksListened"], 2);
    assert_eq!(review["numBooksFinished"], 1);
    assert_eq!(
        review["longestAudiobookFinished"]["id"],
        page["results"][1]["media"]["id"]
    );
    let last_year = get_json(s, &alice, &format!("/api/me/stats/year/{}", year - 1)).await;
    assert_eq!(last_year["totalListeningSessions"], 0);
    for bad in ["abc", "20261", "1066"] {
        assert_eq!(
            get(s, &alice, &format!("/api/me/stats/year/{bad}"))
                .await
                .status(),
            400,
            "{bad}"
        );
    }

    // Another user's history: themself or an admin, never a peer; an unknown user is a 404.
    let path = format!("/api/users/{alice_id}/listening-sessions");
    assert_eq!(get_json(s, &alice, &path).await["total"], 3);
    assert_eq!(get(s, &bob, &path).await.status(), 403);
    let seen = get_json(s, &f.root, &path).await;
    assert_eq!(seen["total"], 3);
    assert_eq!(seen["sessions"][0]["user"]["username"], "alice");
    let stats_path = format!("/api/users/{alice_id}/listening-stats");
    assert_eq!(get(s, &bob, &stats_path).await.status(), 403);
    assert_eq!(
        get_json(s, &f.root, &stats_path).await["totalTime"],
        json!(60.0)
    );
    assert_eq!(
        get(s, &f.root, "/api/users/nobody/listening-stats")
            .await
            .status(),
        404
    );

    // Everyone's history is for admins; to anyone else the route does not exist.
    assert_eq!(get(s, &bob, "/api/sessions").await.status(), 404);
    let all = get_json(
        s,
        &f.root,
        "/api/sessions?itemsPerPage=3&sort=timeListening&desc=1",
    )
    .await;
    assert_eq!(all["total"], 4);
    assert_eq!(all["sessions"].as_array().unwrap().len(), 3);
    assert_eq!(all["sessions"][0]["id"], a1.as_str(), "longest first");
    assert_eq!(all["sessions"][0]["timeListening"], json!(30.0));
    let bobs = get_json(s, &f.root, &format!("/api/sessions?user={bob_id}")).await;
    assert_eq!(session_ids(&bobs), vec![b1.clone()]);
    assert_eq!(bobs["sessions"][0]["user"]["username"], "bob");
    assert_eq!(bobs["userId"], bob_id.as_str());

    // Each user's newest session, for the admin's user list.
    let users = get_json(s, &f.root, "/api/users?include=latestSession").await;
    let latest = |name: &str| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["latestSession"]
            .clone()
    };
    assert_eq!(latest("alice")["id"], a3.as_str());
    assert_eq!(latest("bob")["id"], b1.as_str());
    assert!(latest("root").is_null());

    // Deleting: one's own session, not a peer's (which does not even exist for them).
    assert_eq!(delete_session(s, &bob, &a1).await, 404);
    assert_eq!(delete_session(s, &alice, &a2).await, 200);
    assert_eq!(
        get_json(s, &alice, "/api/me/listening-stats").await["totalTime"],
        json!(40.0)
    );
    let audit_path = "/api/audit?action=listening_session.delete";
    let audited = |log: &Value| log["events"].as_array().unwrap().len();
    let before = audited(&get_json(s, &f.root, audit_path).await);
    assert_eq!(
        before, 0,
        "deleting one's own session is not an admin action"
    );
    assert_eq!(delete_session(s, &f.root, &b1).await, 200);
    assert_eq!(
        get_json(s, &bob, "/api/me/listening-sessions").await["total"],
        0
    );
    assert_eq!(delete_session(s, &f.root, &b1).await, 404, "already gone");

    // Batch deletion: admins only, and an empty list is a mistake.
    let batch = json!({ "sessions": [a1.clone(), a3.clone()] });
    let (status, _) = send(
        s,
        Method::POST,
        &alice,
        "/api/sessions/batch/delete",
        Some(batch.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        s,
        Method::POST,
        &f.root,
        "/api/sessions/batch/delete",
        Some(json!({ "sessions": [] })),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        s,
        Method::POST,
        &f.root,
        "/api/sessions/batch/delete",
        Some(batch),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get_json(s, &alice, "/api/me/listening-sessions").await["total"],
        0
    );
    let log = get_json(s, &f.root, audit_path).await;
    assert_eq!(audited(&log), 2, "{log}");
    // Newest first: the batch, then the single deletion of Bob's session.
    assert_eq!(log["events"][0]["target"], "sessions:2");
    assert_eq!(log["events"][0]["actorName"], "root");
    assert_eq!(log["events"][0]["details"]["users"], json!([alice_id]));
    assert_eq!(log["events"][1]["details"]["sessions"], json!([b1]));
}

fn chrono_year() -> i64 {
    // Days since the epoch to a civil year (Howard Hinnant's algorithm), so the test needs no
    // date crate of its own.
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

#[tokio::test]
async fn continue_listening_can_hide_a_book_or_a_series_and_readd_the_series() {
    let f = fixture().await;
    let s = &f.s;
    finish_only_at_the_end(s, &f.root, &f.lib).await;
    let page = get_json(s, &f.root, &format!("/api/libraries/{}/items", f.lib)).await;
    let items = page["results"].as_array().unwrap().clone();
    let (kids, adult) = tag_books(&f, &items).await;
    let (reader_id, reader) = new_user(s, &f.root, "reader", json!({})).await;
    let (_, child) = new_user(
        s,
        &f.root,
        "child",
        json!({ "permissions": { "accessAllTags": false }, "itemTagsSelected": ["kids"] }),
    )
    .await;

    let book = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .find(|i| *i != kids && *i != adult)
        .unwrap();
    listen(s, &reader, &book, 1.0, 40.0).await;
    listen(s, &child, &kids, 1.0, 12.0).await;
    assert_eq!(
        get(
            s,
            &child,
            &format!("/api/me/item/listening-sessions/{book}")
        )
        .await
        .status(),
        403,
        "a book the caller may not see"
    );
    let shelf_ids = |p: &Value| -> Vec<String> {
        p.as_array()
            .unwrap()
            .iter()
            .find(|shelf| shelf["id"] == "continue-listening")
            .map(|shelf| {
                shelf["entities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let personalized = format!("/api/libraries/{}/personalized", f.lib);
    assert_eq!(
        shelf_ids(&get_json(s, &reader, &personalized).await),
        vec![book.clone()]
    );

    let progress = get_json(s, &reader, &format!("/api/me/progress/{book}")).await;
    let pid = progress["id"].as_str().unwrap().to_string();
    let child_progress = get_json(s, &child, &format!("/api/me/progress/{kids}")).await;
    let child_pid = child_progress["id"].as_str().unwrap();
    assert_eq!(
        get(
            s,
            &reader,
            &format!("/api/me/progress/{child_pid}/remove-from-continue-listening")
        )
        .await
        .status(),
        404,
        "another user's progress is not the caller's to hide"
    );
    let me = get_json(
        s,
        &reader,
        &format!("/api/me/progress/{pid}/remove-from-continue-listening"),
    )
    .await;
    let row = me["mediaProgress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pid.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["hideFromContinueListening"], true);
    assert!(shelf_ids(&get_json(s, &reader, &personalized).await).is_empty());
    assert_eq!(
        get_json(s, &child, &format!("/api/me/progress/{kids}")).await["hideFromContinueListening"],
        false
    );

    // Series: a visible one can be hidden and brought back; one the caller cannot see is a 404.
    let series = get_json(s, &f.root, &format!("/api/libraries/{}/series", f.lib)).await;
    let series = series["results"].as_array().unwrap();
    let kid_series: Vec<&str> = series
        .iter()
        .filter(|sr| {
            sr["books"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["id"] == kids.as_str())
        })
        .map(|sr| sr["id"].as_str().unwrap())
        .collect();
    let hidden_series = series
        .iter()
        .map(|sr| sr["id"].as_str().unwrap())
        .find(|id| !kid_series.contains(id))
        .expect("a series without the kids' book");
    let me = get_json(
        s,
        &reader,
        &format!("/api/me/series/{hidden_series}/remove-from-continue-listening"),
    )
    .await;
    assert_eq!(
        me["seriesHideFromContinueListening"],
        json!([hidden_series])
    );
    // An admin editing the user leaves the list alone.
    let (status, _) = send(
        s,
        Method::PATCH,
        &f.root,
        &format!("/api/users/{reader_id}"),
        Some(json!({ "permissions": { "download": false } })),
    )
    .await;
    assert_eq!(status, 200);
    let me = get_json(s, &reader, "/api/me").await;
    assert_eq!(
        me["seriesHideFromContinueListening"],
        json!([hidden_series])
    );
    let me = get_json(
        s,
        &reader,
        &format!("/api/me/series/{hidden_series}/readd-to-continue-listening"),
    )
    .await;
    assert_eq!(me["seriesHideFromContinueListening"], json!([]));
    assert_eq!(
        get(
            s,
            &child,
            &format!("/api/me/series/{hidden_series}/remove-from-continue-listening")
        )
        .await
        .status(),
        404
    );
}
