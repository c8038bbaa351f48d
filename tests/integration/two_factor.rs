//! Two-factor authentication against the real binary: TOTP enrolment and login with codes computed
//! from the seed, replay refusal, recovery codes, app passwords, the 2FA policy, step-up, the
//! admin reset, and ABS's OpenID mobile and web flows served by Shelfwarden's own login page.

use base64::Engine;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{PASSWORD, TestServer, access_token, client, login};

const ROOT: &str = "root";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn start() -> TestServer {
    // Failures are part of these tests; keep the per-IP limit out of their way.
    TestServer::builder()
        .env("SHELFWARDEN_RATE_LIMIT_AUTH_MAX", "1000")
        .admin(ROOT, PASSWORD)
        .start()
        .await
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Authenticator {
    totp: totp_rs::TOTP,
    /// The code that confirmed the enrolment (so it is spent, whatever step it is now).
    confirmed: String,
}

impl Authenticator {
    /// The code for the step `offset_steps` from now. The server accepts ±1 step, so +1 is the
    /// next unused code without sleeping.
    fn code(&self, offset_steps: i64) -> String {
        let t = now_secs() as i64 + offset_steps * 30;
        self.totp.generate(t as u64)
    }
}

/// Enrols TOTP for the holder of `token`; returns the authenticator (seeded from the server's
/// secret, like a phone scanning the QR code) and the recovery codes. Uses the current step.
async fn enrol(s: &TestServer, token: &str) -> (Authenticator, Vec<String>) {
    let r = client()
        .post(s.url("/api/me/2fa/totp/enroll"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e: Value = r.json().await.unwrap();
    let uri = e["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Shelfwarden:"), "{uri}");
    assert!(e["qrSvg"].as_str().unwrap().starts_with("<svg"));
    let secret = e["secret"].as_str().unwrap();
    assert!(uri.contains(secret));
    let mut auth = Authenticator {
        totp: totp_rs::TOTP::from_url(uri).unwrap(),
        confirmed: String::new(),
    };
    auth.confirmed = auth.code(0);
    let r = client()
        .post(s.url("/api/me/2fa/totp/confirm"))
        .bearer_auth(token)
        .json(&json!({ "code": auth.confirmed }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let codes: Vec<String> = body["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    (auth, codes)
}

async fn password_login(s: &TestServer, user: &str, password: &str) -> reqwest::Response {
    client()
        .post(s.url("/login"))
        .header("x-return-tokens", "true")
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap()
}

/// `POST /login` for a 2FA user: 401 `mfaRequired` with the intermediate token.
async fn mfa_token(s: &TestServer, user: &str) -> String {
    let r = password_login(s, user, PASSWORD).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Second factor required");
    assert_eq!(body["mfaRequired"], true);
    assert!(
        body["user"].is_null(),
        "no session before the second factor"
    );
    body["mfaToken"].as_str().unwrap().to_string()
}

async fn second_step(s: &TestServer, body: Value) -> reqwest::Response {
    client()
        .post(s.url("/login/2fa"))
        .header("x-return-tokens", "true")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn totp_enrol_login_replay_and_recovery_codes() {
    let s = start().await;
    let token = access_token(&login(&s, ROOT, PASSWORD).await);
    let (auth, codes) = enrol(&s, &token).await;
    let st: Value = client()
        .get(s.url("/api/me/2fa"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["totp"], true);
    assert_eq!(st["recoveryCodesRemaining"], 10);
    // The seed is encrypted at rest: its bytes are nowhere in the database files.
    let key = s.data.path().join("mfa-key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mfa-key is private");
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(s.data.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.contains(".db") || name.ends_with(".sqlite") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(auth.totp.secret.len())
                    .any(|w| w == auth.totp.secret.as_slice()),
                "{name}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "found the database files");

    // The password alone no longer opens a session.
    let mfa = mfa_token(&s, ROOT).await;
    // The code that confirmed the enrolment was used: replay refused. (Replaying that very code,
    // not the current step's, keeps this true when a 30 s step boundary passes meanwhile.)
    let r = second_step(&s, json!({ "mfaToken": mfa, "code": auth.confirmed })).await;
    assert_eq!(r.status(), 401);
    // The next step's code is inside the ±1 window and unused.
    let next = auth.code(1);
    let r = second_step(&s, json!({ "mfaToken": mfa, "code": next })).await;
    assert_eq!(r.status(), 200);
    let payload: Value = r.json().await.unwrap();
    assert!(payload["user"]["accessToken"].is_string());
    assert!(payload["user"]["refreshToken"].is_string());
    // The intermediate token is single-use, and the code cannot be replayed with a new one.
    let r = second_step(&s, json!({ "mfaToken": mfa, "code": next })).await;
    assert_eq!(r.status(), 401);
    let mfa = mfa_token(&s, ROOT).await;
    let r = second_step(&s, json!({ "mfaToken": mfa, "code": next })).await;
    assert_eq!(r.status(), 401, "same code twice");

    // A recovery code works once; case and separators do not matter.
    let r = second_step(&s, json!({ "mfaToken": mfa, "recoveryCode": codes[0] })).await;
    assert_eq!(r.status(), 200);
    let mfa = mfa_token(&s, ROOT).await;
    let r = second_step(&s, json!({ "mfaToken": mfa, "recoveryCode": codes[0] })).await;
    assert_eq!(r.status(), 401, "recovery code reused");
    let typed = codes[1].to_uppercase().replace('-', " ");
    let r = second_step(&s, json!({ "mfaToken": mfa, "recoveryCode": typed })).await;
    assert_eq!(r.status(), 200);
    let fresh = access_token(&r.json::<Value>().await.unwrap());

    // Failures of the second step are audited.
    let audit = client()
        .get(s.url("/api/audit?action=2fa.failure"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("2fa.failure"), "{audit}");

    // Regenerating recovery codes (fresh session) invalidates the old ones.
    let r = client()
        .post(s.url("/api/me/2fa/recovery-codes"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let new_codes: Value = r.json().await.unwrap();
    assert_eq!(new_codes["recoveryCodes"].as_array().unwrap().len(), 10);
    let mfa = mfa_token(&s, ROOT).await;
    let r = second_step(&s, json!({ "mfaToken": mfa, "recoveryCode": codes[2] })).await;
    assert_eq!(r.status(), 401, "old recovery codes are gone");
}

#[tokio::test]
async fn app_passwords_policy_and_admin_reset() {
    let s = start().await;
    s.add_user("admin2", PASSWORD, true);
    s.add_user("reader", PASSWORD, false);
    let root = access_token(&login(&s, ROOT, PASSWORD).await);
    // Before any admin has enrolled, the default policy demands nothing.
    let admin2 = login(&s, "admin2", PASSWORD).await;
    assert!(admin2.get("mfaEnrollmentRequired").is_none());
    let (_auth, codes) = enrol(&s, &root).await;

    // An app password, shown once, logs in through plain `POST /login` and skips the second factor.
    let r = client()
        .post(s.url("/api/me/app-passwords"))
        .bearer_auth(&root)
        .json(&json!({ "name": "Car stereo", "scopes": ["read", "progress"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    let app_pw = created["password"].as_str().unwrap().to_string();
    assert_eq!(app_pw.len(), 39);
    let r = password_login(&s, ROOT, &app_pw).await;
    assert_eq!(r.status(), 200);
    let app_token = access_token(&r.json::<Value>().await.unwrap());
    let r = client()
        .get(s.url("/api/libraries"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The account password alone is refused for the 2FA user.
    let _ = mfa_token(&s, ROOT).await;
    // Someone else's app password is not accepted for this account.
    assert_eq!(password_login(&s, "reader", &app_pw).await.status(), 401);
    // An app-password session carries its scopes and is never fresh enough for credential changes.
    let r = client()
        .post(s.url("/api/me/app-passwords"))
        .bearer_auth(&app_token)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .get(s.url("/api/users"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no admin scope");
    let list: Value = client()
        .get(s.url("/api/me/app-passwords"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["appPasswords"].as_array().unwrap().len(), 1);
    assert!(list.to_string().find(&app_pw).is_none(), "never listed");
    // Revoking it ends its sessions and its logins.
    let id = created["id"].as_str().unwrap();
    let r = client()
        .delete(s.url(&format!("/api/me/app-passwords/{id}")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(password_login(&s, ROOT, &app_pw).await.status(), 401);
    let r = client()
        .get(s.url("/api/libraries"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Now an admin has enrolled: other admins must enrol before anything else; users need not.
    let r = password_login(&s, "admin2", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let limited: Value = r.json().await.unwrap();
    assert_eq!(limited["mfaEnrollmentRequired"], true);
    let admin2_id = limited["user"]["id"].as_str().unwrap().to_string();
    let legacy = limited["user"]["token"].as_str().unwrap().to_string();
    let limited = access_token(&limited);
    // The never-expiring legacy token is limited the same way.
    let r = client()
        .get(s.url("/api/libraries"))
        .bearer_auth(&legacy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "legacy token bypasses enrolment");
    let r = client()
        .get(s.url("/api/libraries"))
        .bearer_auth(&limited)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let reader = login(&s, "reader", PASSWORD).await;
    assert!(reader.get("mfaEnrollmentRequired").is_none());
    // Enrolling lifts the limit on the same session.
    let (_a2, _) = enrol(&s, &limited).await;
    let r = client()
        .get(s.url("/api/libraries"))
        .bearer_auth(&limited)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = mfa_token(&s, "admin2").await;

    // Admin reset (lost phone): audited, and the user is back to the password step (and, by
    // policy, to enrolment).
    let r = client()
        .delete(s.url(&format!("/api/users/{admin2_id}/2fa")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = password_login(&s, "admin2", PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["mfaEnrollmentRequired"],
        true
    );
    let audit = client()
        .get(s.url("/api/audit?action=2fa.disable"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains(&admin2_id) && audit.contains("adminReset"),
        "{audit}"
    );
    // A non-admin cannot reset anyone.
    let r = client()
        .delete(s.url(&format!("/api/users/{admin2_id}/2fa")))
        .bearer_auth(access_token(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Step-up re-authentication needs the password and, with 2FA on, a factor.
    for (body, want) in [
        (json!({ "password": "wrong password entirely" }), 401),
        (json!({ "password": PASSWORD }), 401),
        (
            json!({ "password": PASSWORD, "recoveryCode": codes[4] }),
            200,
        ),
    ] {
        let r = client()
            .post(s.url("/api/me/2fa/step-up"))
            .bearer_auth(&root)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{body}");
    }

    // Turning 2FA off needs the password and a factor.
    let r = client()
        .delete(s.url("/api/me/2fa/totp"))
        .bearer_auth(&root)
        .json(&json!({ "password": PASSWORD, "recoveryCode": "aaaaa-aaaaa" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .delete(s.url("/api/me/2fa/totp"))
        .bearer_auth(&root)
        .json(&json!({ "password": PASSWORD, "recoveryCode": codes[3] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(password_login(&s, ROOT, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn step_up_is_enforced() {
    // A window of 0 makes every session stale, as if the login were more than 10 minutes old.
    let s = TestServer::builder()
        .env("SHELFWARDEN_STEP_UP_WINDOW_SECS", "0")
        .admin(ROOT, PASSWORD)
        .start()
        .await;
    let token = access_token(&login(&s, ROOT, PASSWORD).await);
    for (method, path) in [
        ("POST", "/api/me/app-passwords"),
        ("POST", "/api/me/2fa/totp/enroll"),
        ("POST", "/api/me/2fa/recovery-codes"),
        ("POST", "/api/me/passkeys/register/start"),
        ("DELETE", "/api/me/passkeys/some-id"),
        ("POST", "/api/api-keys"),
        ("POST", "/api/users"),
        ("PATCH", "/api/users/some-id"),
        (
            "GET",
            "/api/backups/shelfwarden-backup-20260101T000000Z.tar.zst.age/download",
        ),
    ] {
        let r = client()
            .request(method.parse().unwrap(), s.url(path))
            .bearer_auth(&token)
            .json(&json!({ "name": "x" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "Re-authentication required", "{path}");
    }
    // Turning 2FA off checks the password and a factor itself: no step-up first (which would
    // use up the only current code).
    let r = client()
        .delete(s.url("/api/me/2fa/totp"))
        .bearer_auth(&token)
        .json(&json!({ "password": PASSWORD, "code": "000000" }))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 403);
    // A user who is not an admin is refused as such, and learns nothing about step-up.
    s.add_user("lena", PASSWORD, false);
    let lena = access_token(&login(&s, "lena", PASSWORD).await);
    let r = client()
        .post(s.url("/api/users"))
        .bearer_auth(&lena)
        .json(&json!({ "username": "max", "password": "a long enough passphrase 42", "type": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_ne!(
        r.text().await.unwrap(),
        r#"{"error":"Re-authentication required"}"#
    );
    // Ordinary routes are unaffected.
    let r = client()
        .get(s.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
        })
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}

fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
}

fn pkce() -> (String, String) {
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_bytes() -> Vec<u8> {
    let mut b = uuid::Uuid::new_v4().as_bytes().to_vec();
    b.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    b
}

/// The app's side: `GET /auth/openid` without following redirects, then the browser's side: the
/// login page and its form. Returns the flow cookie and the submitted form's response.
async fn app_opens_login(
    s: &TestServer,
    challenge: &str,
    user: &str,
    code: &str,
) -> (String, reqwest::Response) {
    let c = no_redirects();
    let r = c
        .get(s.url("/auth/openid"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "Audiobookshelf-App"),
            ("redirect_uri", "audiobookshelf://oauth"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "app-state-42"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let flow_cookie = set_cookie(&r, "sw_oidc_flow").unwrap();
    let page_url = s.url(r.headers()["location"].to_str().unwrap());
    // The browser has its own cookie jar: only the CSRF cookie of the page travels with the form.
    let page = c.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("form-action 'self' audiobookshelf:"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let csrf_cookie = set_cookie(&page, "sw_oidc_csrf").unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script") && !html.contains("style="));
    let form = [
        ("flow", hidden(&html, "flow")),
        ("csrf", hidden(&html, "csrf")),
        ("username", user.to_string()),
        ("password", PASSWORD.to_string()),
        ("code", code.to_string()),
    ];
    // Without the page's cookie the form is refused (CSRF).
    let r = c
        .post(s.url("/auth/openid/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(s.url("/auth/openid/login"))
        .header("cookie", format!("sw_oidc_csrf={csrf_cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (flow_cookie, r)
}

/// Follows the form's redirect to the mobile redirect, which hands the code to the app's URI
/// (not followed: it is `audiobookshelf://`).
async fn code_from_redirects(s: &TestServer, r: reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/auth/openid/mobile-redirect?"), "{loc}");
    let r = no_redirects().get(s.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let app = r.headers()["location"].to_str().unwrap().to_string();
    assert!(app.starts_with("audiobookshelf://oauth?"), "{app}");
    assert_eq!(query_param(&app, "state").as_deref(), Some("app-state-42"));
    query_param(&app, "code").unwrap()
}

async fn exchange(
    s: &TestServer,
    flow_cookie: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    no_redirects()
        .get(s.url("/auth/openid/callback"))
        .header("cookie", format!("sw_oidc_flow={flow_cookie}"))
        .query(&[
            ("state", "app-state-42"),
            ("code", code),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn openid_mobile_flow_with_second_factor() {
    let s = start().await;
    let status: Value = client()
        .get(s.url("/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["authMethods"], json!(["local", "openid"]));
    assert!(status["authFormData"]["authOpenIDButtonText"].is_string());

    let token = access_token(&login(&s, ROOT, PASSWORD).await);
    let (auth, codes) = enrol(&s, &token).await;
    let (verifier, challenge) = pkce();

    // Requests outside the allow-list or without PKCE are refused.
    for q in [
        vec![
            ("response_type", "code"),
            ("redirect_uri", "evil://steal"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
        vec![
            ("response_type", "code"),
            ("redirect_uri", "audiobookshelf://oauth"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "plain"),
        ],
        vec![
            ("response_type", "code"),
            ("redirect_uri", "audiobookshelf://oauth"),
        ],
    ] {
        let r = no_redirects()
            .get(s.url("/auth/openid"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q:?}");
    }

    // A wrong second factor re-renders the page; no code is issued.
    let (_, r) = app_opens_login(&s, &challenge, ROOT, "000000").await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Invalid username, password or code")
    );

    // Password + TOTP: the code reaches the app; a wrong verifier fails and burns the code.
    let (flow_cookie, r) = app_opens_login(&s, &challenge, ROOT, &auth.code(1)).await;
    let code = code_from_redirects(&s, r).await;
    let (wrong, _) = pkce();
    let r = exchange(&s, &flow_cookie, &code, &wrong).await;
    assert_eq!(r.status(), 400);
    let r = exchange(&s, &flow_cookie, &code, &verifier).await;
    assert_eq!(r.status(), 400, "the code was burnt by the failed exchange");

    // Again with a recovery code in the code field; the right verifier gets the login payload.
    let (flow_cookie, r) = app_opens_login(&s, &challenge, ROOT, &codes[0]).await;
    let code = code_from_redirects(&s, r).await;
    let r = exchange(&s, &flow_cookie, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let payload: Value = r.json().await.unwrap();
    let access = payload["user"]["accessToken"].as_str().unwrap();
    assert!(payload["user"]["refreshToken"].is_string());
    let r = client()
        .get(s.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Codes are single-use.
    let r = exchange(&s, &flow_cookie, &code, &verifier).await;
    assert_eq!(r.status(), 400);
    // The refresh token works at ABS's refresh route.
    let r = client()
        .post(s.url("/auth/refresh"))
        .header(
            "x-refresh-token",
            payload["user"]["refreshToken"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn openid_web_flow_sets_tokens_on_the_callback() {
    let s = start().await;
    s.add_user("reader", PASSWORD, false);
    let c = no_redirects();
    let r = c
        .get(s.url("/auth/openid"))
        .query(&[("callback", "/login"), ("state", "w1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let r2 = c
        .get(s.url("/auth/openid"))
        .query(&[("callback", "https://evil.example/steal")])
        .send()
        .await
        .unwrap();
    assert_eq!(r2.status(), 400, "only same-origin callbacks");
    // Apps saved with ABS's base path stay under it.
    let r3 = c
        .get(s.url("/audiobookshelf/auth/openid"))
        .query(&[("callback", "/audiobookshelf/login")])
        .send()
        .await
        .unwrap();
    assert_eq!(r3.status(), StatusCode::FOUND);
    let prefixed = r3.headers()["location"].to_str().unwrap();
    assert!(
        prefixed.starts_with("/audiobookshelf/auth/openid/login?flow="),
        "{prefixed}"
    );
    let page = c.get(s.url(prefixed)).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("action=\"/audiobookshelf/auth/openid/login\"")
    );
    let page = c
        .get(s.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap();
    let csrf_cookie = set_cookie(&page, "sw_oidc_csrf").unwrap();
    let html = page.text().await.unwrap();
    let r = c
        .post(s.url("/auth/openid/login"))
        .header("cookie", format!("sw_oidc_csrf={csrf_cookie}"))
        .form(&[
            ("flow", hidden(&html, "flow")),
            ("csrf", hidden(&html, "csrf")),
            ("username", "reader".to_string()),
            ("password", PASSWORD.to_string()),
            ("code", String::new()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(set_cookie(&r, "refresh_token").is_some_and(|v| !v.is_empty()));
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/login?setToken="), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("w1"));
    let access = query_param(&loc, "accessToken").unwrap();
    let r = client()
        .get(s.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
