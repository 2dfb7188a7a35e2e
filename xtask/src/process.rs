//! Running programs: cargo, any command that must succeed, signals to a
//! process or a group, and the processes a program has started.

use std::process::Command;

use crate::report::Result;

/// Runs `cargo` with `args`, failing with the command when it fails.
pub fn cargo(args: &[&str]) -> Result {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` exited with {status}", args.join(" ")))
    }
}

/// Runs `command`, failing with `what` when it fails.
pub fn run_checked(command: &mut Command, what: &str) -> Result {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Whether this runs as root (then it may install with apt).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// Sends `signal` (`TERM`, `KILL`) to the process `pid`; whether it was
/// sent (not when the process is gone).
pub fn signal(pid: u32, signal: &str) -> bool {
    kill(signal, &pid.to_string())
}

/// Sends `signal` to every process of the group led by `leader`; quiet, as
/// the group may be gone already.
pub fn signal_group(leader: u32, signal: &str) {
    kill(signal, &format!("-{leader}"));
}

fn kill(signal: &str, target: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(target)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A process as `/proc` shows it: its id, its command, and when it started,
/// so that another process given the same id later is not taken for it.
#[derive(Debug, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub command: String,
    started: u64,
}

impl Process {
    /// The running children of `parent` (none where there is no `/proc`).
    pub fn children(parent: u32) -> Vec<Self> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = Stat::read(pid)?;
                (stat.parent == parent && stat.state != 'Z').then_some(Self {
                    pid,
                    command: stat.command,
                    started: stat.started,
                })
            })
            .collect()
    }

    /// Whether this process still runs (a zombie has ended: only its exit
    /// status is left).
    pub fn runs(&self) -> bool {
        Stat::read(self.pid).is_some_and(|stat| stat.started == self.started && stat.state != 'Z')
    }
}

/// The fields of `/proc/<pid>/stat` used here.
#[derive(Debug, PartialEq)]
struct Stat {
    command: String,
    state: char,
    parent: u32,
    started: u64,
}

impl Stat {
    fn read(pid: u32) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// `pid (command) state ppid …`, the start time 22nd; the command may
    /// hold spaces and parentheses, so the fields after it are counted from
    /// its last `)`.
    fn parse(line: &str) -> Option<Self> {
        let (head, rest) = line.rsplit_once(')')?;
        let command = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(Self {
            command,
            state: fields.first()?.chars().next()?,
            parent: fields.get(1)?.parse().ok()?,
            started: fields.get(19)?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Process, Stat};

    #[test]
    fn a_process_is_read_from_its_stat_line() {
        let line = "4242 (quotes (api)) S 4200 4242 4100 0 -1 4194560 100 0 0 0 \
                    1 2 0 0 20 0 5 0 987654 123456 789 18446744073709551615\n";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                command: "quotes (api)".to_owned(),
                state: 'S',
                parent: 4200,
                started: 987_654,
            })
        );
        assert_eq!(Stat::parse("garbage"), None);
    }

    #[test]
    fn a_child_is_found_while_it_runs() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let found = Process::children(std::process::id());
        let sleeping = found.iter().find(|process| process.pid == child.id());
        assert_eq!(
            sleeping.map(|process| process.command.as_str()),
            Some("sleep")
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!sleeping.unwrap().runs());
    }
}
