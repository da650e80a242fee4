//! What Linux's `/proc` says about the daemon: CPU time and resident memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a `/proc` figure could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The file could not be read (the process may have exited).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file did not have the expected shape.
    #[error("{path}: cannot find {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The field that was looked for.
        what: &'static str,
    },
    /// `getconf CLK_TCK` did not give the clock tick rate.
    #[error("cannot learn the clock tick rate from `getconf CLK_TCK`: {0}")]
    ClockTicks(String),
}

fn read(path: &Path) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|source| ProcError::Read {
        path: path.to_owned(),
        source,
    })
}

/// User plus system CPU time of every thread the process has had (live or exited), in clock
/// ticks: fields 14 and 15 of `/proc/PID/stat`.
pub fn cpu_ticks(pid: u32) -> Result<u64, ProcError> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    parse_stat_cpu_ticks(&read(&path)?).ok_or(ProcError::Format {
        path,
        what: "utime and stime",
    })
}

/// utime + stime from the text of `/proc/PID/stat`. The command name (field 2) is in parentheses
/// and may hold spaces and parentheses itself, so fields are counted after the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`USER_HZ`), the unit of [`cpu_ticks`].
pub fn clock_ticks_per_second() -> Result<u64, ProcError> {
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .map_err(|e| ProcError::ClockTicks(e.to_string()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.trim().parse::<u64>() {
        Ok(hz) if output.status.success() && hz > 0 => Ok(hz),
        _ => Err(ProcError::ClockTicks(format!(
            "it printed {:?} ({})",
            text.trim(),
            output.status
        ))),
    }
}

/// CPU time in ticks as a duration.
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// Time on the CPU of the process's live threads, in nanoseconds, from each
/// `/proc/PID/task/TID/schedstat` (first field). Finer than [`cpu_ticks`], but threads that have
/// exited are not counted.
pub fn live_threads_runtime(pid: u32) -> Result<Duration, ProcError> {
    sum_over_threads(pid, "schedstat", "the run time", parse_schedstat_ns).map(Duration::from_nanos)
}

/// Context switches of the process's live threads (voluntary and involuntary), from each
/// `/proc/PID/task/TID/status`: how often its threads were woken and put to sleep. A process
/// that polls shows a steady stream of them while idle.
pub fn live_threads_context_switches(pid: u32) -> Result<u64, ProcError> {
    sum_over_threads(pid, "status", "the context switch counts", context_switches)
}

/// The sum of `read(/proc/PID/task/TID/FILE)` over the process's live threads; `what` names
/// the figure when a file does not hold it.
fn sum_over_threads(
    pid: u32,
    file: &str,
    what: &'static str,
    read: impl Fn(&str) -> Option<u64>,
) -> Result<u64, ProcError> {
    let dir = PathBuf::from(format!("/proc/{pid}/task"));
    let entries = std::fs::read_dir(&dir).map_err(|source| ProcError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut total = 0u64;
    for entry in entries {
        let entry = entry.map_err(|source| ProcError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path().join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => total += read(&text).ok_or(ProcError::Format { path, what })?,
            // The thread exited between the listing and the read: its directory is gone
            // (NotFound), or still listed for a dead task (ESRCH).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {}
            Err(source) => return Err(ProcError::Read { path, source }),
        }
    }
    Ok(total)
}

/// `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of a `status` text.
fn context_switches(status: &str) -> Option<u64> {
    let count = |name: &str| {
        status.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?;
            value.trim().parse::<u64>().ok()
        })
    };
    Some(count("voluntary_ctxt_switches")? + count("nonvoluntary_ctxt_switches")?)
}

fn parse_schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Resident memory now and at its peak, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`, in KiB.
    pub rss_kib: u64,
    /// `VmHWM` (the peak of `VmRSS`), in KiB.
    pub hwm_kib: u64,
}

/// The process's [`Memory`].
pub fn memory(pid: u32) -> Result<Memory, ProcError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let text = read(&path)?;
    let field = |what: &'static str| {
        status_kib(&text, what).ok_or(ProcError::Format {
            path: path.clone(),
            what,
        })
    };
    Ok(Memory {
        rss_kib: field("VmRSS")?,
        hwm_kib: field("VmHWM")?,
    })
}

/// The value of a `Name:   1234 kB` line of `/proc/PID/status`.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_is_utime_plus_stime_after_the_command_name() {
        // A command name with a space and a parenthesis, as a thread name can have.
        let stat = "4242 (loyal ty)d) S 1 4242 4242 0 -1 4194560 1204 0 0 0 37 12 0 0 20 0 6 0 \
                    88 23068672 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(49));
        assert_eq!(parse_stat_cpu_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn status_lines_give_kib() {
        let status = "Name:\tloyaltyd\nVmHWM:\t   9216 kB\nVmRSS:\t    8704 kB\nThreads:\t6\n";
        assert_eq!(status_kib(status, "VmRSS"), Some(8704));
        assert_eq!(status_kib(status, "VmHWM"), Some(9216));
        assert_eq!(status_kib(status, "VmSwap"), None);
        assert_eq!(status_kib("VmRSSX: 1 kB", "VmRSS"), None);
    }

    #[test]
    fn context_switches_add_both_kinds() {
        let status =
            "Name:\tloyaltyd\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(context_switches(status), Some(123));
        assert_eq!(context_switches("voluntary_ctxt_switches:\t1\n"), None);
    }

    #[test]
    fn schedstat_gives_nanoseconds_on_the_cpu() {
        assert_eq!(parse_schedstat_ns("123456789 2000 17\n"), Some(123_456_789));
        assert_eq!(parse_schedstat_ns(""), None);
    }

    #[test]
    fn ticks_convert_at_the_tick_rate() {
        assert_eq!(ticks_to_duration(5, 100), Duration::from_millis(50));
    }

    #[test]
    fn this_process_can_be_read() {
        let pid = std::process::id();
        assert!(memory(pid).expect("own status").rss_kib > 0);
        cpu_ticks(pid).expect("own stat");
        assert!(live_threads_runtime(pid).expect("own schedstat") > Duration::ZERO);
        assert!(live_threads_context_switches(pid).expect("own status") > 0);
    }
}
