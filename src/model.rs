//! Domain types shared by storage, auth and the APIs. They carry no HTTP or ABS JSON concerns;
//! the ABS wire shapes are built from them in `http::abs::json`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserType {
    Root,
    Admin,
    User,
    Guest,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Root => "root",
            UserType::Admin => "admin",
            UserType::User => "user",
            UserType::Guest => "guest",
        }
    }
    pub fn parse(s: &str) -> Option<UserType> {
        match s {
            "root" => Some(UserType::Root),
            "admin" => Some(UserType::Admin),
            "user" => Some(UserType::User),
            "guest" => Some(UserType::Guest),
            _ => None,
        }
    }
    pub fn is_admin(self) -> bool {
        matches!(self, UserType::Root | UserType::Admin)
    }
}

/// ABS's permission object (the two lists live on `User`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permissions {
    pub download: bool,
    pub update: bool,
    pub delete: bool,
    pub upload: bool,
    pub create_ereader: bool,
    pub access_all_libraries: bool,
    pub access_all_tags: bool,
    pub access_explicit_content: bool,
    pub selected_tags_not_accessible: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions::for_type(UserType::User)
    }
}

impl Permissions {
    /// ABS's defaults by user type.
    pub fn for_type(t: UserType) -> Permissions {
        let admin = t.is_admin();
        Permissions {
            download: true,
            update: admin,
            delete: t == UserType::Root,
            upload: admin,
            create_ereader: admin,
            access_all_libraries: true,
            access_all_tags: true,
            access_explicit_content: admin,
            selected_tags_not_accessible: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub user_type: UserType,
    pub is_active: bool,
    pub is_locked: bool,
    pub must_change_password: bool,
    pub legacy_token_id: String,
    pub permissions: Permissions,
    pub libraries_accessible: Vec<String>,
    pub item_tags_selected: Vec<String>,
    pub series_hide_from_continue: Vec<String>,
    pub allowed_networks: Vec<String>,
    pub last_seen: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.user_type.is_admin()
    }
}

/// One user's progress on one item (or podcast episode).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaProgress {
    pub id: String,
    pub user_id: String,
    pub item_id: String,
    pub episode_id: String,
    /// The book id (ABS's `mediaItemId`).
    pub media_item_id: String,
    pub duration: f64,
    pub current_time: f64,
    pub progress: f64,
    pub is_finished: bool,
    pub hide_from_continue: bool,
    pub ebook_location: Option<String>,
    pub ebook_progress: Option<f64>,
    pub finished_at: Option<i64>,
    pub started_at: i64,
    pub last_update: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bookmark {
    pub item_id: String,
    pub title: String,
    pub time: f64,
    pub created_at: i64,
}
