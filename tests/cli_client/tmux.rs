//! A tmux server for one test: a real terminal whose screen the test can read.

use std::time::Duration;

/// What the pane's shell prints after the command: `[exited with 0]`.
const EXIT_MARK: &str = "[exited with ";

/// A tmux server of its own (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
    _conf: tempfile::NamedTempFile,
}

impl Tmux {
    /// Starts `command` in a 160x48 pane that stays on screen after the command ends,
    /// followed by a line with its exit status.
    pub async fn start(command: &[&str]) -> Self {
        use std::io::Write;
        let mut conf = tempfile::NamedTempFile::new().unwrap();
        writeln!(conf, "set -g remain-on-exit on").unwrap();
        let socket = format!(
            "transcoder-cli-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        let line: Vec<String> = command
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let tmux = Self {
            socket,
            _conf: conf,
        };
        let conf_path = tmux._conf.path().to_str().unwrap().to_owned();
        tmux.run(&[
            "-f",
            &conf_path,
            "new-session",
            "-d",
            "-s",
            "cli",
            "-x",
            "160",
            "-y",
            "48",
            &format!("{}; echo \"{EXIT_MARK}$?]\"", line.join(" ")),
        ])
        .await;
        tmux
    }

    async fn run(&self, args: &[&str]) -> String {
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::process::Command::new("tmux")
                .arg("-L")
                .arg(&self.socket)
                .args(args)
                .env("TERM", "xterm-256color")
                .output(),
        )
        .await
        .expect("tmux answers within 10 s")
        .expect("tmux runs (make deps installs it)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane's text, its history included: what the command wrote before tmux gave
    /// the new pane its size is scrolled into the history.
    pub async fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-S", "-", "-t", "cli"])
            .await
    }

    /// The command's exit status, from the line the pane's shell prints after it (tmux's
    /// own `pane_dead` flag was seen to miss a command that ends at once).
    pub fn exit_status(screen: &str) -> Option<i32> {
        screen.lines().find_map(|l| {
            l.trim()
                .strip_prefix(EXIT_MARK)?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
