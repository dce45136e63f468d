//! The `tensorjson` binary: parse arguments, run `encode` or `decode` (each in its own
//! module), map errors to exit statuses (0 success, 1 bad input or I/O failure, 2 bad usage).

mod cli;
mod decode;
mod encode;
mod ends;
#[cfg(unix)]
mod oom;
mod progress;
#[cfg(unix)]
mod signals;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};

#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: oom::Reporting = oom::Reporting;

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(unix)]
    {
        oom::large_blocks_mapped();
        signals::clean_up_on_ending_signals();
        signals::write_errors_past_file_size_limit();
    }
    let (subcommand, result) = match cli.command {
        Command::Encode(args) => ("encode", encode::encode(args, cli.quiet)),
        Command::Decode(args) => ("decode", decode::decode(args, cli.quiet)),
    };
    // By now the output is closed, and a temporary output file removed: exiting leaves
    // nothing behind.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_usage(&error) => usage_error(subcommand, format!("{error:#}")),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether the library refused an option that does not apply to the run.
fn is_usage(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<tensorjson::Error>(),
            Some(tensorjson::Error::Usage(_))
        )
    })
}

/// Ends the run as clap ends it on bad usage: the message, the subcommand's usage line, and
/// exit status 2.
pub(crate) fn usage_error(subcommand: &str, message: impl std::fmt::Display) -> ! {
    let mut command = Cli::command();
    // Building gives the subcommand its full name for the usage line (`tensorjson decode`).
    command.build();
    let subcommand = command
        .find_subcommand_mut(subcommand)
        .expect("a subcommand of the command line");
    subcommand
        .error(clap::error::ErrorKind::ArgumentConflict, message)
        .exit()
}
