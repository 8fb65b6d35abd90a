//! Progress bars on a terminal; nothing when stderr is piped.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use lifeboat_core::progress::Progress;

pub struct Bars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            enabled: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.lock().expect("progress bar").take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn phase(&self, name: &str, total_bytes: Option<u64>) {
        if !self.enabled {
            return;
        }
        let mut slot = self.bar.lock().expect("progress bar");
        if let Some(old) = slot.take() {
            old.finish_and_clear();
        }
        let bar = match total_bytes {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner()
                .with_style(ProgressStyle::with_template("{spinner} {msg:20} {bytes} {bytes_per_sec} {elapsed}").expect("valid template")),
        };
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        *slot = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.bar.lock().expect("progress bar").as_ref() {
            bar.inc(bytes);
        }
    }

    fn item(&self, name: &str, number: u64) {
        if let Some(bar) = self.bar.lock().expect("progress bar").as_ref() {
            bar.set_message(format!("table {number}: {name}"));
        }
    }
}
