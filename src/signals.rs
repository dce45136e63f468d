//! Signals that end a run. No destructor runs then, so the temporary output file is removed
//! here; a file size limit becomes an ordinary write error.

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

/// The catchable signals whose default is to end the process: Ctrl-C, `kill`, `timeout`,
/// docker and systemd (SIGTERM), a closed terminal (SIGHUP), Ctrl-\ (SIGQUIT).
const ENDING: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// On any ending signal, removes the temporary output file and exits with 128 + the signal's
/// number, the status a shell gives a process a signal ended. A signal ignored when the run
/// starts (under `nohup`, or in a script's background job) stays ignored.
pub fn clean_up_on_ending_signals() {
    let caught = ENDING.into_iter().filter(|&signal| !ignored(signal));
    let Ok(mut signals) = Signals::new(caught) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            tensorjson::output::remove_temporaries();
            std::process::exit(128 + signal);
        }
    });
}

/// Past the file size limit (`ulimit -f`), SIGXFSZ would end the process and leave the
/// temporary file; ignored, the write fails with EFBIG and is reported as a write error.
pub fn write_errors_past_file_size_limit() {
    // SAFETY: SIG_IGN installs no handler: no code of ours runs in signal context.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn ignored(signal: i32) -> bool {
    // SAFETY: an all-zero `sigaction` is a valid value of that plain C struct; with a null
    // new action, `sigaction` changes nothing and only fills in the current one.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}
