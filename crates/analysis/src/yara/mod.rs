//! YARA scanning with yara-x: the shipped rules (`rules/yara/*.yar`, namespace `spamhattan`)
//! plus the operator's rule directories (one namespace per file stem), run on the raw message
//! and on every object; each match becomes a `ScanHit` in `report.scans`.
//!
//! Layout: `load.rs` finds and compiles the rule files, `scan.rs` runs them. Without the `yara`
//! cargo feature both are replaced by a stub that scans nothing and refuses operator rules
//! (silently ignoring rules an operator configured would hide a broken deployment).

#[cfg(feature = "yara")]
mod load;
#[cfg(feature = "yara")]
mod scan;

#[cfg(feature = "yara")]
pub(crate) use load::YaraRules;
#[cfg(feature = "yara")]
pub(crate) use scan::scan;

/// The shipped rules, embedded so that the binary is self-contained: (file name, source).
/// Every rule carries a tag that `rules/verdict.toml` scores through `yara-tag.<tag>`.
#[cfg(feature = "yara")]
pub(crate) const SHIPPED: &[(&str, &str)] = &[
    ("maldoc.yar", include_str!("../../rules/yara/maldoc.yar")),
    (
        "droppers.yar",
        include_str!("../../rules/yara/droppers.yar"),
    ),
    ("lnk.yar", include_str!("../../rules/yara/lnk.yar")),
    (
        "smuggling.yar",
        include_str!("../../rules/yara/smuggling.yar"),
    ),
    (
        "ransomware.yar",
        include_str!("../../rules/yara/ransomware.yar"),
    ),
    (
        "phishing.yar",
        include_str!("../../rules/yara/phishing.yar"),
    ),
    ("eicar.yar", include_str!("../../rules/yara/eicar.yar")),
];

/// Namespace of the shipped rules (operator rules use their file stem).
#[cfg(feature = "yara")]
pub(crate) const SHIPPED_NAMESPACE: &str = "spamhattan";

#[cfg(not(feature = "yara"))]
pub(crate) use stub::{YaraRules, scan};

#[cfg(not(feature = "yara"))]
mod stub {
    use crate::engine::EngineError;
    use crate::walk::Walk;
    use std::path::PathBuf;

    /// No rules: this build has no YARA engine.
    #[derive(Debug, Default)]
    pub(crate) struct YaraRules {}

    impl YaraRules {
        pub(crate) fn load(_builtin: bool, dirs: &[PathBuf]) -> Result<YaraRules, EngineError> {
            match dirs.first() {
                Some(dir) => Err(EngineError::Yara(format!(
                    "rule directory {} configured, but this build has no YARA support \
                     (cargo feature `yara`)",
                    dir.display()
                ))),
                None => Ok(YaraRules {}),
            }
        }

        pub(crate) fn fingerprint(&self) -> String {
            "disabled".to_string()
        }
    }

    /// Scans nothing: this build has no YARA engine.
    pub(crate) fn scan(_walk: &mut Walk<'_>, _data: &[u8], _at: &str) {}
}
