//! The ABS face's read model: per library, every item in memory with its minified JSON
//! pre-rendered, rebuilt only when the library's `catalog_version` (bumped by triggers on every
//! catalog change, whoever makes it) moves. `Store::versions` tells whether it moved without a
//! trip to the database unless something was committed, so the model is always current.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::value::RawValue;

use super::items_json;
use crate::error::{AppError, AppResult};
use crate::library::model::{Author, Item, Library, Series};
use crate::store::{Store, items, libraries};

pub struct LibraryIndex {
    pub library: Library,
    pub version: i64,
    /// Ordered by title without prefix (ABS's default order).
    pub items: Vec<Arc<Item>>,
    pub minified: Vec<Box<RawValue>>,
    pub by_id: HashMap<String, usize>,
    pub authors: Vec<Author>,
    pub series: Vec<Series>,
    orders: Mutex<HashMap<&'static str, Arc<Vec<usize>>>>,
}

impl LibraryIndex {
    pub fn item(&self, id: &str) -> Option<&Arc<Item>> {
        self.by_id.get(id).map(|i| &self.items[*i])
    }

    /// Item positions ordered by `key`, computed once per index version.
    pub fn order(
        &self,
        key: &'static str,
        make: impl FnOnce(&[Arc<Item>]) -> Vec<usize>,
    ) -> Arc<Vec<usize>> {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        orders
            .entry(key)
            .or_insert_with(|| Arc::new(make(&self.items)))
            .clone()
    }
}

#[derive(Default)]
pub struct Catalog {
    libs: RwLock<HashMap<String, Arc<LibraryIndex>>>,
    rebuild: tokio::sync::Mutex<()>,
}

fn build(conn: &rusqlite::Connection, id: &str) -> AppResult<Option<LibraryIndex>> {
    // One read transaction, so the version matches the items read.
    let tx = conn.unchecked_transaction()?;
    let Some(version) = libraries::catalog_version(&tx, id)? else {
        return Ok(None);
    };
    let Some(library) = libraries::get_library(&tx, id)? else {
        return Ok(None);
    };
    let list = items::list_items(&tx, id)?;
    let authors = items::list_authors(&tx, id)?;
    let series = items::list_series(&tx, id)?;
    tx.finish()?;
    let mut minified = Vec::with_capacity(list.len());
    let mut by_id = HashMap::with_capacity(list.len());
    let mut arcs = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let json =
            serde_json::to_string(&items_json::minified(&item)).map_err(AppError::internal)?;
        minified.push(RawValue::from_string(json).map_err(AppError::internal)?);
        by_id.insert(item.id.clone(), i);
        arcs.push(Arc::new(item));
    }
    Ok(Some(LibraryIndex {
        library,
        version,
        items: arcs,
        minified,
        by_id,
        authors,
        series,
        orders: Mutex::new(HashMap::new()),
    }))
}

impl Catalog {
    fn cached(&self, id: &str) -> Option<Arc<LibraryIndex>> {
        self.libs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The current index of a library, or None if it does not exist.
    pub async fn library(&self, store: &Store, id: &str) -> AppResult<Option<Arc<LibraryIndex>>> {
        let Some(version) = store.versions()?.catalog(id) else {
            self.libs
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
            return Ok(None);
        };
        if let Some(ix) = self.cached(id).filter(|ix| ix.version == version) {
            return Ok(Some(ix));
        }
        let _one_builder = self.rebuild.lock().await;
        if let Some(ix) = self.cached(id).filter(|ix| ix.version >= version) {
            return Ok(Some(ix));
        }
        let key = id.to_string();
        let built = store.read(move |c| build(c, &key)).await?;
        let Some(built) = built else { return Ok(None) };
        let ix = Arc::new(built);
        self.libs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), ix.clone());
        Ok(Some(ix))
    }

    /// An item and the index it belongs to. Found in memory when a current index holds it; an
    /// item no current index holds (another library not loaded yet, or none) costs one read.
    pub async fn item(
        &self,
        store: &Store,
        item_id: &str,
    ) -> AppResult<Option<(Arc<LibraryIndex>, Arc<Item>)>> {
        let versions = store.versions()?;
        let in_memory = self
            .libs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|ix| versions.catalog(&ix.library.id) == Some(ix.version))
            .find_map(|ix| ix.item(item_id).map(|item| (ix.clone(), item.clone())));
        if in_memory.is_some() {
            return Ok(in_memory);
        }
        let key = item_id.to_string();
        let found = store
            .read(move |c| libraries::item_library(c, &key))
            .await?;
        let Some(library_id) = found else {
            return Ok(None);
        };
        let Some(ix) = self.library(store, &library_id).await? else {
            return Ok(None);
        };
        let item = ix.item(item_id).cloned();
        Ok(item.map(|i| (ix, i)))
    }

    /// All library ids, in display order.
    pub async fn library_ids(store: &Store) -> AppResult<Vec<String>> {
        store.read(libraries::ids_in_display_order).await
    }
}
