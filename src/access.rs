//! Can this user see this library or this item? The one place ABS's permission rules live
//! (library access, explicit content, tag allow/deny lists). Every route that returns or touches
//! an item goes through here — including the ones ABS forgets (covers, progress, search facets).

use crate::library::model::Item;
use crate::model::User;

pub fn can_access_library(user: &User, library_id: &str) -> bool {
    user.permissions.access_all_libraries
        || user.libraries_accessible.iter().any(|l| l == library_id)
}

fn tags_permit(user: &User, tags: &[String]) -> bool {
    if user.permissions.access_all_tags {
        return true;
    }
    let selected = &user.item_tags_selected;
    let carries_selected = tags
        .iter()
        .any(|t| selected.iter().any(|s| s.eq_ignore_ascii_case(t)));
    if user.permissions.selected_tags_not_accessible {
        !carries_selected
    } else {
        carries_selected
    }
}

/// Whether every item of a library `user` may open passes `can_see_item` (no tag or explicit
/// restriction applies), so listing code may skip the per-item check.
pub fn sees_every_item(user: &User) -> bool {
    user.is_active && user.permissions.access_all_tags && user.permissions.access_explicit_content
}

/// ABS's `checkCanAccessLibraryItem`: library, explicit content and tags must all pass.
pub fn can_see_item(user: &User, item: &Item) -> bool {
    can_access_library(user, &item.library_id)
        && (!item.metadata.explicit || (user.permissions.access_explicit_content && user.is_active))
        && tags_permit(user, &item.tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_every_item_only_without_restrictions() {
        let mut u = new_user("u", None, UserType::User, 0);
        u.permissions.access_all_tags = true;
        u.permissions.access_explicit_content = true;
        assert!(sees_every_item(&u));
        u.permissions.access_explicit_content = false;
        assert!(!sees_every_item(&u));
        u.permissions.access_explicit_content = true;
        u.permissions.access_all_tags = false;
        assert!(!sees_every_item(&u));
        u.permissions.access_all_tags = true;
        u.is_active = false;
        assert!(!sees_every_item(&u));
    }
    use crate::accounts::new_user;
    use crate::model::UserType;

    fn item(lib: &str, explicit: bool, tags: &[&str]) -> Item {
        let mut i: Item = serde_json::from_value(serde_json::json!({
            "id": "i", "bookId": "b", "libraryId": lib, "folderId": null, "path": "/x", "relPath": "x", "ino": "1",
            "fingerprint": "", "isFile": false, "isMissing": false, "isInvalid": false, "mtimeMs": 0, "ctimeMs": 0,
            "birthtimeMs": 0, "size": 0, "libraryFiles": [], "lastScan": null, "scanVersion": null, "createdAt": 0,
            "updatedAt": 0, "metadata": { "title": "t", "subtitle": null, "authors": [], "narrators": [], "series": [],
            "genres": [], "publishedYear": null, "publishedDate": null, "publisher": null, "description": null,
            "isbn": null, "asin": null, "language": null, "explicit": false, "abridged": false },
            "coverPath": null, "tags": [], "audioFiles": [], "chapters": [], "ebookFile": null, "duration": 0.0
        }))
        .expect("item");
        i.metadata.explicit = explicit;
        i.tags = tags.iter().map(|t| t.to_string()).collect();
        i
    }

    #[test]
    fn library_explicit_and_tag_rules() {
        let mut u = new_user("u", None, UserType::User, 0);
        assert!(can_see_item(&u, &item("A", false, &[])));
        assert!(
            !can_see_item(&u, &item("A", true, &[])),
            "explicit needs permission"
        );
        u.permissions.access_all_libraries = false;
        u.libraries_accessible = vec!["B".into()];
        assert!(!can_see_item(&u, &item("A", false, &[])));
        assert!(can_see_item(&u, &item("B", false, &[])));
        u.permissions.access_all_tags = false;
        u.item_tags_selected = vec!["kids".into()];
        assert!(can_see_item(&u, &item("B", false, &["Kids"])), "allow-list");
        assert!(
            !can_see_item(&u, &item("B", false, &[])),
            "untagged fails an allow-list"
        );
        u.permissions.selected_tags_not_accessible = true;
        assert!(!can_see_item(&u, &item("B", false, &["kids"])), "deny-list");
        assert!(
            can_see_item(&u, &item("B", false, &[])),
            "untagged passes a deny-list"
        );
    }
}
