//! Passkeys: a real WebAuthn registration and authentication ceremony against the real binary,
//! with a software authenticator (P-256 key, "none" attestation, CBOR by hand) standing in for a
//! phone or security key. The server verifies with webauthn-rs, nothing is mocked on its side.

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{PASSWORD, TestServer, access_token, client, login};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// Minimal CBOR (RFC 8949) for the few shapes an attestation object needs.
fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}
fn cbor_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        cbor_head(0, i as u64, out)
    } else {
        cbor_head(1, (-1 - i) as u64, out)
    }
}
fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len() as u64, out);
    out.extend_from_slice(b);
}
fn cbor_text(t: &str, out: &mut Vec<u8>) {
    cbor_head(3, t.len() as u64, out);
    out.extend_from_slice(t.as_bytes());
}

struct SoftAuthenticator {
    key: EcdsaKeyPair,
    cred_id: Vec<u8>,
    counter: u32,
    origin: String,
    rp_id: String,
    rng: SystemRandom,
    /// The user handle the server gave at registration, returned on sign-in as a resident key does.
    user_handle: Option<String>,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl SoftAuthenticator {
    fn new(origin: &str, rp_id: &str) -> SoftAuthenticator {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let cred_id = uuid::Uuid::new_v4().as_bytes().to_vec();
        SoftAuthenticator {
            key,
            cred_id,
            counter: 0,
            origin: origin.into(),
            rp_id: rp_id.into(),
            rng,
            user_handle: None,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn auth_data(&mut self, flags: u8, attested: bool) -> Vec<u8> {
        self.counter += 1;
        let mut d = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        d.push(flags);
        d.extend(self.counter.to_be_bytes());
        if attested {
            d.extend([0u8; 16]); // AAGUID
            d.extend((self.cred_id.len() as u16).to_be_bytes());
            d.extend(&self.cred_id);
            let public = self.key.public_key().as_ref(); // 0x04 ‖ x ‖ y
            let mut cose = Vec::new();
            cbor_head(5, 5, &mut cose);
            cbor_int(1, &mut cose);
            cbor_int(2, &mut cose); // kty: EC2
            cbor_int(3, &mut cose);
            cbor_int(-7, &mut cose); // alg: ES256
            cbor_int(-1, &mut cose);
            cbor_int(1, &mut cose); // crv: P-256
            cbor_int(-2, &mut cose);
            cbor_bytes(&public[1..33], &mut cose);
            cbor_int(-3, &mut cose);
            cbor_bytes(&public[33..65], &mut cose);
            d.extend(cose);
        }
        d
    }

    /// `navigator.credentials.create` with "none" attestation.
    fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        assert_eq!(pk["rp"]["id"], self.rp_id.as_str());
        self.user_handle = pk["user"]["id"].as_str().map(str::to_string);
        let challenge = pk["challenge"].as_str().unwrap().trim_end_matches('=');
        let client_data = self.client_data("webauthn.create", challenge);
        let auth_data = self.auth_data(UP | UV | AT, true);
        let mut att = Vec::new();
        cbor_head(5, 3, &mut att);
        cbor_text("fmt", &mut att);
        cbor_text("none", &mut att);
        cbor_text("attStmt", &mut att);
        cbor_head(5, 0, &mut att);
        cbor_text("authData", &mut att);
        cbor_bytes(&auth_data, &mut att);
        json!({
            "id": b64(&self.cred_id),
            "rawId": b64(&self.cred_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
    }

    /// `navigator.credentials.get`: signs authenticatorData ‖ SHA-256(clientDataJSON).
    fn get(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .unwrap()
            .trim_end_matches('=');
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.auth_data(UP | UV, false);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let sig = self.key.sign(&self.rng, &signed).unwrap();
        json!({
            "id": b64(&self.cred_id),
            "rawId": b64(&self.cred_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(sig.as_ref()),
                "userHandle": self.user_handle,
            },
            "extensions": {},
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn post(s: &TestServer, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut r = client().post(s.url(path)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn passkey_registration_and_second_factor_ceremony() {
    let port = free_port();
    let origin = format!("http://localhost:{port}");
    let s = TestServer::builder()
        .env("SHELFWARDEN_PUBLIC_URL", &origin)
        .env("SHELFWARDEN_RATE_LIMIT_AUTH_MAX", "1000")
        .admin("root", PASSWORD)
        .start_on_port(port)
        .await;
    let token = access_token(&login(&s, "root", PASSWORD).await);

    // Passkeys are an alternative to TOTP: refused until TOTP is on.
    let r = post(
        &s,
        "/api/me/passkeys/register/start",
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e: Value = post(&s, "/api/me/2fa/totp/enroll", Some(&token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let totp = totp_rs::TOTP::from_url(e["otpauthUri"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = post(
        &s,
        "/api/me/2fa/totp/confirm",
        Some(&token),
        json!({ "code": totp.generate(now) }),
    )
    .await;
    assert_eq!(r.status(), 200);

    // Registration ceremony.
    let mut authenticator = SoftAuthenticator::new(&origin, "localhost");
    let start: Value = post(
        &s,
        "/api/me/passkeys/register/start",
        Some(&token),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        start["options"]["publicKey"]["authenticatorSelection"]["residentKey"], "preferred",
        "a passkey should be discoverable, for the passwordless sign-in"
    );
    let credential = authenticator.create(&start["options"]);
    let r = post(
        &s,
        "/api/me/passkeys/register/finish",
        Some(&token),
        json!({ "challengeId": start["challengeId"], "name": "Phone", "credential": credential }),
    )
    .await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    // The challenge is single-use.
    let r = post(
        &s,
        "/api/me/passkeys/register/finish",
        Some(&token),
        json!({ "challengeId": start["challengeId"], "name": "Again", "credential": credential }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let list: Value = client()
        .get(s.url("/api/me/passkeys"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["passkeys"].as_array().unwrap().len(), 1);
    assert_eq!(list["passkeys"][0]["name"], "Phone");

    // Login: password, then the passkey as the second factor.
    let r = client()
        .post(s.url("/login"))
        .json(&json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let mfa = r.json::<Value>().await.unwrap()["mfaToken"]
        .as_str()
        .unwrap()
        .to_string();
    let opts: Value = post(&s, "/login/2fa/passkey", None, json!({ "mfaToken": mfa }))
        .await
        .json()
        .await
        .unwrap();
    // A signature by another key is refused.
    let mut impostor = SoftAuthenticator::new(&origin, "localhost");
    impostor.cred_id = authenticator.cred_id.clone();
    let forged = impostor.get(&opts["options"]);
    let r = post(
        &s,
        "/login/2fa",
        None,
        json!({ "mfaToken": mfa, "passkey": { "challengeId": opts["challengeId"], "credential": forged } }),
    )
    .await;
    assert_eq!(r.status(), 401);
    // The real authenticator, on a fresh challenge.
    let opts: Value = post(&s, "/login/2fa/passkey", None, json!({ "mfaToken": mfa }))
        .await
        .json()
        .await
        .unwrap();
    let assertion = authenticator.get(&opts["options"]);
    let r = post(
        &s,
        "/login/2fa",
        None,
        json!({ "mfaToken": mfa, "passkey": { "challengeId": opts["challengeId"], "credential": assertion } }),
    )
    .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body["user"]["accessToken"].is_string());
    let audit = client()
        .get(s.url("/api/audit?action=passkey.add"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("passkey.add"), "{audit}");

    // Passwordless: no username, the authenticator offers its resident passkey.
    let start: Value = post(&s, "/login/passkey/start", None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        start["options"]["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{start}"
    );
    // Another key claiming the same credential id is refused.
    let forged = impostor.get(&start["options"]);
    let r = post(
        &s,
        "/login/passkey/finish",
        None,
        json!({ "challengeId": start["challengeId"], "credential": forged }),
    )
    .await;
    assert_eq!(r.status(), 401);
    // The challenge was used up by that attempt, even with the right authenticator.
    let assertion = authenticator.get(&start["options"]);
    let r = post(
        &s,
        "/login/passkey/finish",
        None,
        json!({ "challengeId": start["challengeId"], "credential": assertion }),
    )
    .await;
    assert_eq!(r.status(), 401);
    let start: Value = post(&s, "/login/passkey/start", None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let assertion = authenticator.get(&start["options"]);
    let r = post(
        &s,
        "/login/passkey/finish",
        None,
        json!({ "challengeId": start["challengeId"], "credential": assertion }),
    )
    .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "root");
    let passwordless = access_token(&body);
    let me = client()
        .get(s.url("/api/me"))
        .bearer_auth(&passwordless)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // A replayed assertion (same challenge) is refused.
    let r = post(
        &s,
        "/login/passkey/finish",
        None,
        json!({ "challengeId": start["challengeId"], "credential": assertion }),
    )
    .await;
    assert_eq!(r.status(), 401);

    // The second-step challenge advertises the passkey method.
    let r = client()
        .post(s.url("/login"))
        .json(&json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let challenge: Value = r.json().await.unwrap();
    assert!(
        challenge["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("passkey")),
        "{challenge}"
    );

    // Removing the passkey (a sensitive change, fresh session) ends passwordless sign-in with it.
    let id = list["passkeys"][0]["id"].as_str().unwrap().to_string();
    let r = client()
        .delete(s.url(&format!("/api/me/passkeys/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let start: Value = post(&s, "/login/passkey/start", None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let assertion = authenticator.get(&start["options"]);
    let r = post(
        &s,
        "/login/passkey/finish",
        None,
        json!({ "challengeId": start["challengeId"], "credential": assertion }),
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn passkeys_need_a_public_url() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    let r = post(&s, "/login/passkey/start", None, json!({})).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("public_url"), "{text}");
}
