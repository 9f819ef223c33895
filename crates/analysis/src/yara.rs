//! YARA scanning with yara-x. (Stub: filled in by the YARA work.)

use crate::engine::EngineError;
use crate::walk::Walk;
use std::path::PathBuf;

/// Compiled rules (shipped + operator directories).
#[derive(Debug, Default)]
pub(crate) struct YaraRules {}

impl YaraRules {
    pub(crate) fn load(_builtin: bool, _dirs: &[PathBuf]) -> Result<YaraRules, EngineError> {
        Ok(YaraRules {})
    }

    pub(crate) fn fingerprint(&self) -> String {
        "none".to_string()
    }
}

/// Scans `data` (the object at location `at`) and records hits in `report.scans`.
pub(crate) fn scan(_walk: &mut Walk<'_>, _data: &[u8], _at: &str) {}
