//! The command line: `hark-desktop [--data-dir DIR] [--peer ADDR]...
//! [--no-mdns]`, with `HARK_DATA_DIR` as the fallback for `--data-dir` and
//! the XDG data dir as the last resort.

use std::ffi::OsString;
use std::path::PathBuf;

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Usage: hark-desktop [--data-dir DIR] [--peer ADDR]... [--no-mdns]

Starts a Hark node and opens its window.

Options:
  --data-dir DIR  Where the key, the store and the control socket live
                  (default: $HARK_DATA_DIR, else ~/.local/share/hark)
  --peer ADDR     A peer to dial, and redial while away, where multicast
                  does not reach (a multiaddr; repeatable)
  --no-mdns       Do not find peers with mDNS
  --print-bindings
                  Print the TypeScript bindings for the window and stop
  -h, --help      Print this help
  -V, --version   Print the version";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Start the node on this data dir and open the window.
    Run {
        /// The data dir, already resolved.
        data_dir: PathBuf,
        /// How the node finds peers.
        network: Network,
    },
    /// Print [`USAGE`] and stop.
    Help,
    /// Print the version and stop.
    Version,
    /// Print the generated TypeScript bindings and stop.
    Bindings,
}

/// How the node finds peers, from `--peer` and `--no-mdns`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// Multiaddrs to dial, as given (the node checks them at start).
    pub peers: Vec<String>,
    /// Whether mDNS is off.
    pub no_mdns: bool,
}

/// Why the command line could not be understood. Retrying the same command
/// fails the same way: the user has to change the arguments or environment.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgsError {
    /// `--data-dir` or `--peer` came last, with no value after it.
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    /// An argument this program does not know.
    #[error("unknown argument {0:?} (try --help)")]
    Unknown(String),
    /// Neither the flag, nor `HARK_DATA_DIR`, nor a home directory says
    /// where the data lives.
    #[error("no data dir: pass --data-dir DIR or set HARK_DATA_DIR")]
    NoDataDir,
}

/// Reads the arguments (without the program name). `env_dir` is the value
/// of `HARK_DATA_DIR` and `default_dir` the platform's data dir; both are
/// passed in so tests need not touch the process environment.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env_dir: Option<OsString>,
    default_dir: Option<PathBuf>,
) -> Result<Request, ArgsError> {
    let mut flag_dir = None;
    let mut network = Network::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(Request::Help),
            Some("-V" | "--version") => return Ok(Request::Version),
            Some("--print-bindings") => return Ok(Request::Bindings),
            Some("--no-mdns") => network.no_mdns = true,
            Some("--peer") => {
                let addr = args.next().ok_or(ArgsError::MissingValue("--peer"))?;
                network.peers.push(addr.to_string_lossy().into_owned());
            }
            Some("--data-dir") => {
                flag_dir = Some(args.next().ok_or(ArgsError::MissingValue("--data-dir"))?)
            }
            Some(s) if s.starts_with("--data-dir=") => {
                flag_dir = Some(s["--data-dir=".len()..].into())
            }
            _ => return Err(ArgsError::Unknown(arg.to_string_lossy().into_owned())),
        }
    }

    // An empty value means "not set", as most programs treat empty variables.
    let chosen = flag_dir.or(env_dir).filter(|dir| !dir.is_empty());
    let data_dir = chosen
        .map(PathBuf::from)
        .or(default_dir)
        .ok_or(ArgsError::NoDataDir)?;
    Ok(Request::Run { data_dir, network })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(dir: &str) -> Request {
        Request::Run {
            data_dir: PathBuf::from(dir),
            network: Network::default(),
        }
    }

    // The flag wins over the environment variable and the default.
    #[test]
    fn flag_beats_env_and_default() -> Result<(), ArgsError> {
        let request = parse(
            args(&["--data-dir", "/a"]),
            Some("/b".into()),
            Some("/c".into()),
        )?;
        assert_eq!(request, run("/a"));
        Ok(())
    }

    // The `--data-dir=DIR` spelling works like the two-word one.
    #[test]
    fn flag_with_equals() -> Result<(), ArgsError> {
        assert_eq!(parse(args(&["--data-dir=/a b"]), None, None)?, run("/a b"));
        Ok(())
    }

    // Without the flag, HARK_DATA_DIR wins over the default.
    #[test]
    fn env_beats_default() -> Result<(), ArgsError> {
        assert_eq!(
            parse(args(&[]), Some("/b".into()), Some("/c".into()))?,
            run("/b")
        );
        Ok(())
    }

    // An empty HARK_DATA_DIR counts as unset.
    #[test]
    fn empty_env_falls_back_to_default() -> Result<(), ArgsError> {
        assert_eq!(
            parse(args(&[]), Some("".into()), Some("/c".into()))?,
            run("/c")
        );
        Ok(())
    }

    // With nothing at all to go on, the error says what to do.
    #[test]
    fn no_dir_at_all() {
        assert_eq!(parse(args(&[]), None, None), Err(ArgsError::NoDataDir));
    }

    // A trailing flag without its value and unknown arguments are errors.
    #[test]
    fn bad_arguments() {
        assert_eq!(
            parse(args(&["--data-dir"]), None, None),
            Err(ArgsError::MissingValue("--data-dir"))
        );
        assert_eq!(
            parse(args(&["--verbose"]), None, None),
            Err(ArgsError::Unknown("--verbose".into()))
        );
    }

    // Peers collect in order; --no-mdns turns discovery off.
    #[test]
    fn peers_and_mdns() -> Result<(), ArgsError> {
        let request = parse(
            args(&[
                "--peer",
                "/ip4/1.2.3.4/tcp/1",
                "--no-mdns",
                "--peer",
                "/ip4/5.6.7.8/tcp/2",
            ]),
            None,
            Some("/c".into()),
        )?;
        let Request::Run { network, .. } = request else {
            panic!("expected a run request, got {request:?}");
        };
        assert_eq!(network.peers, ["/ip4/1.2.3.4/tcp/1", "/ip4/5.6.7.8/tcp/2"]);
        assert!(network.no_mdns);
        Ok(())
    }

    // Help and version stop before the data dir is even looked at.
    #[test]
    fn help_and_version() {
        assert_eq!(parse(args(&["--help"]), None, None), Ok(Request::Help));
        assert_eq!(
            parse(args(&["-V", "--bogus"]), None, None),
            Ok(Request::Version)
        );
    }
}
