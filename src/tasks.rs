//! Background work the server runs without a user: library scans (started by an admin, at start,
//! by the filesystem watcher or by a library's interval), reported as ABS tasks over the API and
//! Socket.IO (`task_started` / `task_finished`), plus the watchers and schedulers that start them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::library::folders::validate_folders;
use crate::library::model::{Library, LibrarySettings};
use crate::library::scan::{ScanOptions, ScanPhase, ScanProgress, scan_library};
use crate::library::watch::{DEFAULT_DEBOUNCE, IntervalScheduler, LibraryWatcher};
use crate::store::libraries;

/// Recent tasks kept for `GET /api/tasks`.
const KEEP_TASKS: usize = 50;

/// What keeps a library rescanning by itself; dropping it stops both.
type Watch = (Option<LibraryWatcher>, Option<IntervalScheduler>);

#[derive(Default)]
pub struct Tasks {
    list: Mutex<Vec<Value>>,
    watchers: Mutex<HashMap<String, Watch>>,
}

impl Tasks {
    /// One task by id, as last recorded.
    pub fn get(&self, id: &str) -> Option<Value> {
        let list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().find(|t| t["id"] == id).cloned()
    }

    pub fn snapshot(&self) -> Vec<Value> {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn upsert(&self, task: Value) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|t| t["id"] != task["id"]);
        list.push(task);
        let excess = list.len().saturating_sub(KEEP_TASKS);
        list.drain(..excess);
    }
}

fn progress_json(p: &ScanProgress) -> Value {
    let phase = match p.phase {
        ScanPhase::Walking => "walking",
        ScanPhase::Reading => "reading",
        ScanPhase::Done => "done",
    };
    json!({ "phase": phase, "done": p.done, "total": p.total })
}

/// Starts a scan of `library_id` in the background. Fails at once (400) if one is running.
pub fn start_scan(state: &AppState, library: &Library, force: bool) -> AppResult<()> {
    if crate::library::scan::is_scanning(&library.id) {
        return Err(AppError::bad_request("Library is already being scanned"));
    }
    let task_id = uuid::Uuid::new_v4().to_string();
    let started = state.now_ms();
    let task = json!({
        "id": task_id, "action": "library-scan",
        "data": { "libraryId": library.id, "libraryName": library.name },
        "title": format!("Scanning \"{}\"", library.name), "description": null,
        "error": null, "isFailed": false, "isFinished": false, "startedAt": started, "finishedAt": null,
    });
    state.tasks.upsert(task.clone());
    let state = state.clone();
    let library_id = library.id.clone();
    tokio::spawn(async move {
        if let Some(rt) = &state.realtime {
            rt.to_admins("task_started", &task).await;
        }
        let (store, data_dir) = (state.store.clone(), state.data_dir.clone());
        let id = library_id.clone();
        let (live_state, live_task) = (state.clone(), task.clone());
        let result = tokio::task::spawn_blocking(move || {
            let mut opts = ScanOptions::new(&data_dir);
            opts.force = force;
            // Each step goes into the task's `data.progress`, which `/api/tasks` (and the web
            // app's libraries page) shows while the scan runs.
            scan_library(&store, &id, &opts, &|p| {
                let mut running = live_task.clone();
                running["data"]["progress"] = progress_json(p);
                live_state.tasks.upsert(running);
            })
        })
        .await;
        let mut done = state.tasks.get(&task_id).unwrap_or_else(|| task.clone());
        done["isFinished"] = json!(true);
        done["finishedAt"] = json!(state.now_ms());
        match &result {
            Ok(Ok(summary)) => {
                done["description"] = json!(format!(
                    "{} added, {} updated, {} missing, {} issues",
                    summary.added, summary.updated, summary.missing, summary.issues
                ));
                tracing::info!(library = %library_id, added = summary.added, updated = summary.updated,
                    missing = summary.missing, issues = summary.issues, ms = summary.elapsed.as_millis() as u64, "scan finished");
            }
            Ok(Err(e)) => {
                done["isFailed"] = json!(true);
                done["error"] = json!(e.to_string());
                tracing::error!(library = %library_id, error = %e, "scan failed");
            }
            Err(e) => {
                done["isFailed"] = json!(true);
                done["error"] = json!("scan crashed");
                tracing::error!(library = %library_id, error = %e, "scan task failed");
            }
        }
        state.tasks.upsert(done.clone());
        if let Some(rt) = &state.realtime {
            rt.to_admins("task_finished", &done).await;
            rt.to_authenticated("library_updated", &json!({ "id": library_id }))
                .await;
            if let Ok(Ok(summary)) = &result {
                let updated: Vec<String> = summary
                    .updated_ids
                    .iter()
                    .chain(&summary.missing_ids)
                    .cloned()
                    .collect();
                rt.items_changed(&state, &library_id, &summary.added_ids, &updated)
                    .await;
            }
        }
    });
    Ok(())
}

/// Makes sure a library exists for each folder given on the command line, named after the folder.
pub fn ensure_libraries(state: &AppState, folders: &[PathBuf]) -> anyhow::Result<Vec<Library>> {
    let mut out = Vec::new();
    for folder in folders {
        let paths = validate_folders(&[folder.to_string_lossy().into_owned()], &state.data_dir)
            .map_err(|e| anyhow::anyhow!("--library {}: {e}", folder.display()))?;
        let path = paths.first().cloned().unwrap_or_default();
        let name = Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Audiobooks".into());
        let now = state.now_ms();
        let lib =
            state.store.write_blocking(move |tx| {
                match libraries::find_library_by_folder(tx, &path)? {
                    Some(l) => Ok(l),
                    None => libraries::create_library(
                        tx,
                        &name,
                        std::slice::from_ref(&path),
                        &LibrarySettings::default(),
                        now,
                    ),
                }
            })?;
        out.push(lib);
    }
    Ok(out)
}

/// (Re)starts the watcher and interval scheduler of one library according to its settings.
pub fn watch_library(state: &AppState, library: &Library) {
    let mut watchers = state
        .tasks
        .watchers
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    watchers.remove(&library.id);
    if !state.config.watch_libraries {
        return;
    }
    let handle = tokio::runtime::Handle::current();
    let trigger = {
        let (state, id) = (state.clone(), library.id.clone());
        move || {
            let (state, id) = (state.clone(), id.clone());
            handle.spawn(async move {
                if let Ok(Some(lib)) = state
                    .store
                    .read(move |c| libraries::get_library(c, &id))
                    .await
                {
                    let _ = start_scan(&state, &lib, false);
                }
            });
        }
    };
    let folders: Vec<PathBuf> = library
        .folders
        .iter()
        .map(|f| PathBuf::from(&f.path))
        .collect();
    let watcher = if library.settings.disable_watcher {
        None
    } else {
        match LibraryWatcher::start(&folders, DEFAULT_DEBOUNCE, trigger.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(library = %library.name, error = %e, "cannot watch library folders; rescans need a schedule or an admin");
                None
            }
        }
    };
    let scheduler = library
        .settings
        .scan_interval_secs
        .filter(|s| *s >= 60)
        .map(|s| IntervalScheduler::start(Duration::from_secs(s), trigger));
    watchers.insert(library.id.clone(), (watcher, scheduler));
}

pub fn unwatch_library(state: &AppState, library_id: &str) {
    state
        .tasks
        .watchers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(library_id);
}
