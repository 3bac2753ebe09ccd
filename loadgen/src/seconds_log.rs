//! The per-second half of `histograms.hlog`, written as the run goes: each second's
//! latency histogram is encoded into its untagged interval line (V2 + Deflate, base64, the
//! format of Java's `HistogramLogWriter`) as soon as the recorder folds that second away,
//! and appended to a spool file, so a long run keeps no per-second histograms in memory.
//! The report's `histograms.hlog` is the header and tagged intervals followed by the spool.

use std::fs::File;
use std::io::{BufWriter, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, anyhow};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

/// Where the lines go: a temporary file, or memory when no file could be made.
enum Sink {
    File {
        path: PathBuf,
        file: BufWriter<File>,
    },
    Memory(Vec<u8>),
}

/// The spool of one run's per-second interval lines.
pub struct SecondsLog {
    sink: Mutex<Sink>,
    /// The first write that failed; later lines are dropped and the run says so.
    error: Mutex<Option<String>>,
    lines: std::sync::atomic::AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Untagged one-second interval lines, byte for byte as the hdrhistogram crate's interval
/// log writer writes them (timestamps in seconds, Interval_Max in milliseconds).
pub fn second_lines<'a>(
    seconds: impl IntoIterator<Item = (u64, &'a Histogram<u64>)>,
) -> anyhow::Result<Vec<u8>> {
    let mut text = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut builder = IntervalLogWriterBuilder::new();
        builder.with_max_value_divisor(1000.0);
        let mut writer = builder
            .begin_log_with(&mut text, &mut serializer)
            .context("encoding per-second intervals")?;
        for (second, histogram) in seconds {
            writer
                .write_histogram(
                    histogram,
                    Duration::from_secs(second),
                    Duration::from_secs(1),
                    None,
                )
                .map_err(|e| anyhow!("encoding the histogram of second {second}: {e}"))?;
        }
    }
    // The writer starts with a `#[MaxValueDivisor]` comment; the log's own header has it.
    let body = text
        .split_inclusive(|b| *b == b'\n')
        .filter(|line| !line.starts_with(b"#"))
        .flatten()
        .copied()
        .collect();
    Ok(body)
}

impl SecondsLog {
    /// A spool in a temporary file (removed when the log is dropped), or in memory when the
    /// temporary directory is not writable.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "loadgen-seconds-{}-{}.hlog",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let sink = match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => Sink::File {
                path,
                file: BufWriter::new(file),
            },
            Err(_) => Sink::Memory(Vec::new()),
        };
        Self::with_sink(sink)
    }

    /// A spool in memory.
    pub fn in_memory() -> Self {
        Self::with_sink(Sink::Memory(Vec::new()))
    }

    fn with_sink(sink: Sink) -> Self {
        Self {
            sink: Mutex::new(sink),
            error: Mutex::new(None),
            lines: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Appends the interval line of one second.
    pub fn write_second(&self, second: u64, histogram: &Histogram<u64>) {
        if lock(&self.error).is_some() {
            return;
        }
        let written =
            second_lines([(second, histogram)]).and_then(|line| match &mut *lock(&self.sink) {
                Sink::File { file, path } => file
                    .write_all(&line)
                    .with_context(|| format!("writing {}", path.display())),
                Sink::Memory(bytes) => {
                    bytes.extend_from_slice(&line);
                    Ok(())
                }
            });
        match written {
            Ok(()) => {
                self.lines
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => *lock(&self.error) = Some(format!("{e:#}")),
        }
    }

    /// How many second lines were written.
    pub fn lines(&self) -> u64 {
        self.lines.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Why lines are missing, if a write failed.
    pub fn error(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    /// Every line written so far.
    pub fn contents(&self) -> anyhow::Result<Vec<u8>> {
        match &mut *lock(&self.sink) {
            Sink::Memory(bytes) => Ok(bytes.clone()),
            Sink::File { path, file } => {
                let read = |file: &mut BufWriter<File>| -> std::io::Result<Vec<u8>> {
                    file.flush()?;
                    let inner = file.get_mut();
                    let end = inner.stream_position()?;
                    inner.seek(SeekFrom::Start(0))?;
                    let mut bytes = Vec::new();
                    inner.read_to_end(&mut bytes)?;
                    inner.seek(SeekFrom::Start(end))?;
                    Ok(bytes)
                };
                read(file).with_context(|| format!("reading back {}", path.display()))
            }
        }
    }
}

impl Default for SecondsLog {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SecondsLog {
    fn drop(&mut self) {
        if let Sink::File { path, .. } = &*lock(&self.sink) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::coarse_histogram;

    #[test]
    fn spooled_lines_read_back_from_file_and_memory() {
        let mut one = coarse_histogram();
        one.record(2_500).expect("in range");
        for log in [SecondsLog::new(), SecondsLog::in_memory()] {
            log.write_second(0, &one);
            log.write_second(1, &coarse_histogram());
            let text = String::from_utf8(log.contents().expect("reads")).expect("text");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            assert!(lines[0].starts_with("0.000,1.000,2.5"), "{text}");
            assert!(lines[1].starts_with("1.000,1.000,0.000,HISTFAAA"), "{text}");
            assert_eq!(log.lines(), 2);
            assert!(log.error().is_none());
        }
    }
}
