//! Starts scans without a user: a debounced filesystem watcher per library and a per-library
//! interval scheduler. Both only call back; the caller runs the scan (and reports it as a task).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::library::layout::is_ignored_name;

/// ABS waits 10 s after the last event; files still being copied keep resetting the timer.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(10);

/// Watches library folders; dropping it stops the watcher and its thread.
pub struct LibraryWatcher {
    _watcher: notify::RecommendedWatcher,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Events on ignored paths (dotfiles, `@eaDir`, partial downloads) inside a library folder
/// never trigger a scan; the folder's own location may contain anything.
fn relevant(event: &notify::Event, roots: &[PathBuf]) -> bool {
    !matches!(event.kind, notify::EventKind::Access(_))
        && event.paths.iter().any(|p| {
            let rel = roots
                .iter()
                .find_map(|r| p.strip_prefix(r).ok())
                .unwrap_or(p);
            !rel.components()
                .any(|c| is_ignored_name(&c.as_os_str().to_string_lossy()))
        })
}

impl LibraryWatcher {
    /// Calls `on_change` once per burst of changes under `folders`, `debounce` after the last.
    pub fn start(
        folders: &[PathBuf],
        debounce: Duration,
        on_change: impl Fn() + Send + 'static,
    ) -> notify::Result<LibraryWatcher> {
        let (tx, rx) = mpsc::channel::<()>();
        let roots = folders.to_vec();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok_and(|e| relevant(&e, &roots)) {
                    let _ = tx.send(());
                }
            })?;
        for f in folders {
            watcher.watch(f, RecursiveMode::Recursive)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let tick = debounce.min(Duration::from_millis(200));
        let thread = std::thread::spawn(move || {
            let mut due: Option<Instant> = None;
            while !stop2.load(Ordering::Relaxed) {
                match rx.recv_timeout(tick) {
                    Ok(()) => due = Some(Instant::now() + debounce),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if due.is_some_and(|d| Instant::now() >= d) {
                    due = None;
                    on_change();
                }
            }
        });
        Ok(LibraryWatcher {
            _watcher: watcher,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for LibraryWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Calls `on_tick` every `interval` until dropped (a library's `scanIntervalSecs`).
pub struct IntervalScheduler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl IntervalScheduler {
    pub fn start(interval: Duration, on_tick: impl Fn() + Send + 'static) -> IntervalScheduler {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now() + interval;
            while !stop2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100).min(interval));
                if Instant::now() >= next {
                    next = Instant::now() + interval;
                    on_tick();
                }
            }
        });
        IntervalScheduler {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for IntervalScheduler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn wait_for(count: &AtomicUsize, at_least: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if count.load(Ordering::SeqCst) >= at_least {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn burst_of_changes_triggers_one_callback() {
        let tmp = tempfile::tempdir().expect("tmp");
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let w = LibraryWatcher::start(
            &[tmp.path().to_path_buf()],
            Duration::from_millis(300),
            move || {
                c.fetch_add(1, Ordering::SeqCst);
            },
        )
        .expect("watch");
        for i in 0..5 {
            std::fs::write(tmp.path().join(format!("{i}.mp3")), b"x").expect("write");
        }
        assert!(wait_for(&count, 1));
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(count.load(Ordering::SeqCst), 1);
        drop(w);
    }

    #[test]
    fn scheduler_ticks() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let s = IntervalScheduler::start(Duration::from_millis(50), move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(wait_for(&count, 2));
        drop(s);
    }
}
