//! The pinned Python tools some checks use, in a virtualenv of their own.

use std::path::PathBuf;
use std::process::Command;

use crate::paths::{root, target_dir};
use crate::process::run_checked;
use crate::report::Result;

/// A virtualenv with the pinned tools, installed once.
pub struct PythonTools {
    bin: PathBuf,
}

impl PythonTools {
    pub fn install() -> Result<Self> {
        let venv = target_dir().join("xtask/python");
        let requirements = root().join("xtask/python-requirements.txt");
        let pinned = std::fs::read_to_string(&requirements).map_err(|e| e.to_string())?;
        let stamp = venv.join("installed-requirements.txt");
        let bin = venv.join("bin");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(pinned.as_str()) {
            return Ok(Self { bin });
        }
        println!(
            "installing the Python OpenAPI tools (once; under a minute) into {}",
            venv.display()
        );
        run_checked(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
        run_checked(
            Command::new(bin.join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
            "pip install",
        )?;
        std::fs::write(&stamp, pinned).map_err(|e| e.to_string())?;
        Ok(Self { bin })
    }

    pub fn tool(&self, name: &str) -> Command {
        Command::new(self.bin.join(name))
    }
}
