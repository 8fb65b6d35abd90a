//! Engine progress to UI progress: throttled, so a job that reports every
//! chunk does not flood the IPC channel.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lifeboat_core::progress::{CancelFlag, Progress};

use crate::dto::JobProgress;

const INTERVAL: Duration = Duration::from_millis(100);

pub(crate) struct ThrottledProgress<F> {
    send: F,
    cancel: CancelFlag,
    state: Mutex<(JobProgress, Instant)>,
}

impl<F: Fn(JobProgress) + Send + Sync> ThrottledProgress<F> {
    pub(crate) fn new(send: F, cancel: CancelFlag) -> Self {
        let start = JobProgress {
            phase: String::new(),
            done_bytes: 0,
            total_bytes: None,
            item: None,
            items_done: 0,
        };
        ThrottledProgress {
            send,
            cancel,
            state: Mutex::new((start, Instant::now())),
        }
    }
}

impl<F: Fn(JobProgress) + Send + Sync> Progress for ThrottledProgress<F> {
    fn phase(&self, name: &str, total_bytes: Option<u64>) {
        let mut state = self.state.lock().unwrap();
        state.0 = JobProgress {
            phase: name.to_string(),
            done_bytes: 0,
            total_bytes,
            item: None,
            items_done: 0,
        };
        state.1 = Instant::now();
        (self.send)(state.0.clone());
    }

    fn advance(&self, bytes: u64) {
        let mut state = self.state.lock().unwrap();
        state.0.done_bytes += bytes;
        if state.1.elapsed() >= INTERVAL {
            state.1 = Instant::now();
            (self.send)(state.0.clone());
        }
    }

    fn item(&self, name: &str, number: u64) {
        let mut state = self.state.lock().unwrap();
        state.0.item = Some(name.to_string());
        state.0.items_done = number;
        if state.1.elapsed() >= INTERVAL {
            state.1 = Instant::now();
            (self.send)(state.0.clone());
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
