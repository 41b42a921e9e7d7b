//! The hub's bulk lane: storage work and photo checks run on threads below the network's priority.
//!
//! On a small machine the hub's CPU-heavy work (hashing and writing uploads, syncing the
//! store, checking photos) shares the cores with the threads that move packets. At the
//! same priority a hash or a check delays the ACKs that pace a sender and the frames the
//! relay forwards; below it, that work takes the CPU the network leaves over, which is most
//! of it. On two cores this cut an upload's time to its acknowledgement, beyond a bare quinn
//! transfer of the same bytes, from 2.9 to 2.1 ms (medians over 1,080 uploads; nice 10 and
//! 15 helped less; BENCHMARKS.md). The lowest priority does not mean idle-only: under CPU load a bulk thread still gets a
//! share (about 1/70 of a busy normal thread's), and any core the network leaves idle.

use std::sync::OnceLock;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// How far below the hub's other threads bulk threads run (a nice value).
pub const BULK_NICE: i32 = 19;

/// A runtime kept only for its blocking pool, whose threads start at the lower priority;
/// `None` when it could not be built (bulk work then runs on the caller's runtime).
static BULK: OnceLock<Option<Runtime>> = OnceLock::new();

/// Runs `work` on a bulk thread, like [`tokio::task::spawn_blocking`].
pub fn spawn<F, R>(work: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match BULK.get_or_init(build) {
        Some(bulk) => bulk.spawn_blocking(work),
        None => tokio::task::spawn_blocking(work),
    }
}

fn build() -> Option<Runtime> {
    let built = tokio::runtime::Builder::new_current_thread()
        .thread_name("hub-bulk")
        .on_thread_start(|| {
            if let Err(error) = lower_thread_priority(BULK_NICE) {
                tracing::debug!(%error, "a bulk thread runs at normal priority");
            }
        })
        .build();
    match built {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            tracing::warn!(%error, "no bulk lane; storage and checks share the network's priority");
            None
        }
    }
}

/// Lowers the calling thread's CPU priority by `nice` (on Linux the nice value is a thread's).
#[cfg(target_os = "linux")]
fn lower_thread_priority(nice: i32) -> std::io::Result<()> {
    let thread = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(thread))?;
    rustix::process::setpriority_process(Some(thread), current + nice)?;
    Ok(())
}

/// Elsewhere a nice value is the whole process's: bulk threads keep the normal priority.
#[cfg(not(target_os = "linux"))]
fn lower_thread_priority(_nice: i32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "only Linux gives each thread its own nice value",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bulk_work_runs_below_the_callers_priority() {
        let priority = || rustix::process::getpriority_process(None).unwrap();
        let caller = priority();
        let bulk = spawn(priority).await.unwrap();
        assert_eq!(bulk, (caller + BULK_NICE).min(19));
        // The caller's own thread is untouched.
        assert_eq!(priority(), caller);
    }
}
