//! A progress line on standard error for long runs, when standard error is a terminal.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Runs shorter than this show nothing.
const QUIET_START: Duration = Duration::from_secs(1);
const INTERVAL: Duration = Duration::from_millis(250);

/// Counts the bytes read through it and redraws a progress line now and then.
pub struct Progress<R> {
    inner: R,
    total: Option<u64>,
    read: u64,
    started: Instant,
    last: Option<Instant>,
    enabled: bool,
}

impl<R> Progress<R> {
    /// `total` is the input's size when known; `quiet` turns the line off.
    pub fn new(inner: R, total: Option<u64>, quiet: bool) -> Self {
        Progress {
            inner,
            total,
            read: 0,
            started: Instant::now(),
            last: None,
            enabled: !quiet && io::stderr().is_terminal(),
        }
    }

    fn advance(&mut self, count: usize) {
        self.read += count as u64;
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let due = self.last.map_or(now - self.started >= QUIET_START, |last| {
            now - last >= INTERVAL
        });
        if due {
            self.last = Some(now);
            let line = describe(self.read, self.total, now - self.started);
            let _ = write!(io::stderr(), "\r\x1b[Ktensorjson: {line}");
        }
    }
}

/// `1.5 GiB of 2.0 GiB (75%), 410 MiB/s`
pub fn describe(read: u64, total: Option<u64>, elapsed: Duration) -> String {
    let rate = read as f64 / elapsed.as_secs_f64().max(1e-3);
    match total {
        Some(total) if total > 0 => format!(
            "read {} of {} ({:.0}%), {}/s",
            size(read as f64),
            size(total as f64),
            read as f64 * 100.0 / total as f64,
            size(rate)
        ),
        _ => format!("read {}, {}/s", size(read as f64), size(rate)),
    }
}

fn size(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", units[unit])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        if self.enabled && self.last.is_some() {
            let _ = write!(io::stderr(), "\r\x1b[K");
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.advance(count);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for Progress<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.advance(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_bytes_percent_and_rate() {
        let line = describe(3 << 29, Some(2 << 30), Duration::from_secs(2));
        assert_eq!(line, "read 1.5 GiB of 2.0 GiB (75%), 768.0 MiB/s");
        assert_eq!(
            describe(100, None, Duration::from_secs(1)),
            "read 100 B, 100 B/s"
        );
    }

    #[test]
    fn counts_what_is_read_and_stays_silent_off_a_terminal() {
        let mut progress = Progress::new(&b"hello world"[..], Some(11), true);
        let mut out = String::new();
        progress.read_to_string(&mut out).unwrap();
        assert_eq!((out.as_str(), progress.read), ("hello world", 11));
        assert!(!progress.enabled);
    }
}
