//! Finding and compiling the rule files: shipped sources plus the operator's directories.

use super::{SHIPPED, SHIPPED_NAMESPACE};
use crate::engine::EngineError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Rule files read from all operator directories together. Real rule collections (signature-
/// base, the Yara-Rules repository) hold a few thousand files; more than this is a mistaken
/// path such as `/`, which should fail loudly rather than walk a whole disk.
const MAX_RULE_FILES: usize = 10_000;

/// Directory nesting followed below an operator directory. Symbolic links are followed (rule
/// sets are often linked in), and this bound is what stops a link loop.
const MAX_DIR_DEPTH: usize = 16;

/// Size of one rule file. The largest public rule files are a few MiB; anything bigger is not
/// a rule file.
const MAX_RULE_FILE_BYTES: u64 = 32 << 20;

/// Compiled rules (shipped + operator directories), shared by every worker thread.
///
/// The compiled `Rules` are leaked (`&'static`) because a `yara_x::Scanner` borrows them and
/// each thread keeps one scanner alive between messages (creating a scanner per object costs
/// more than scanning a small one, see `scan.rs`). An engine is built once per process (or per
/// configuration reload), and the shipped-only set is compiled and leaked once per process, so
/// the leak is bounded by the number of distinct rule configurations loaded.
pub(crate) struct YaraRules {
    pub(super) rules: Option<&'static yara_x::Rules>,
    fingerprint: String,
    /// Number of rule files compiled (for `Debug`).
    files: usize,
}

impl std::fmt::Debug for YaraRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YaraRules")
            .field("files", &self.files)
            .field("rules", &self.rules.map(|r| r.iter().len()))
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// One rule source: where it came from (shown in errors), its namespace and its text.
struct Source {
    origin: String,
    namespace: String,
    text: Vec<u8>,
}

impl YaraRules {
    /// Compiles the shipped rules (unless `builtin` is false) and every `*.yar`/`*.yara` file
    /// under `dirs`. A rule that does not compile fails the whole load, naming file and line:
    /// an operator must learn at start-up, not from silently missing hits.
    pub(crate) fn load(builtin: bool, dirs: &[PathBuf]) -> Result<YaraRules, EngineError> {
        let mut sources = Vec::new();
        if builtin {
            sources.extend(SHIPPED.iter().map(|(name, text)| Source {
                origin: format!("rules/yara/{name}"),
                namespace: SHIPPED_NAMESPACE.to_string(),
                text: text.as_bytes().to_vec(),
            }));
        }
        let mut files = Vec::new();
        for dir in dirs {
            collect(dir, 0, &mut files)?;
        }
        files.sort();
        files.dedup();
        for path in &files {
            sources.push(read_source(path)?);
        }
        let fingerprint = fingerprint(&sources);
        let rules = if sources.is_empty() {
            None
        } else if files.is_empty() {
            Some(shipped_rules(&sources)?)
        } else {
            Some(&*Box::leak(Box::new(compile(&sources)?)))
        };
        Ok(YaraRules {
            rules,
            fingerprint,
            files: sources.len(),
        })
    }

    /// A short hash over the rule sources: the report's `engine` string changes with the rules.
    pub(crate) fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }
}

/// The shipped set alone, compiled once per process: every test and every engine without
/// operator rules shares it, so it is leaked only once.
fn shipped_rules(sources: &[Source]) -> Result<&'static yara_x::Rules, EngineError> {
    static SHIPPED_RULES: OnceLock<Result<&'static yara_x::Rules, String>> = OnceLock::new();
    SHIPPED_RULES
        .get_or_init(|| match compile(sources) {
            Ok(rules) => Ok(&*Box::leak(Box::new(rules))),
            Err(EngineError::Yara(msg)) => Err(msg),
            Err(other) => Err(other.to_string()),
        })
        .clone()
        .map_err(EngineError::Yara)
}

fn compile(sources: &[Source]) -> Result<yara_x::Rules, EngineError> {
    let mut compiler = yara_x::Compiler::new();
    compiler.colorize_errors(false);
    // `include` would let a rule file read any path; operator rules are whole files anyway.
    compiler.enable_includes(false);
    for source in sources {
        compiler.new_namespace(&source.namespace);
        let code = yara_x::SourceCode::from(source.text.as_slice()).with_origin(&source.origin);
        if let Err(err) = compiler.add_source(code) {
            return Err(EngineError::Yara(describe(&source.origin, &err)));
        }
    }
    Ok(compiler.build())
}

/// One line naming file, line and column, then the error title and its label, e.g.
/// `/etc/rules/x.yar:3:5: error[E001]: syntax error: expecting ...`.
fn describe(origin: &str, err: &yara_x::errors::CompileError) -> String {
    let report = err.to_string();
    let location = report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim)
        .unwrap_or(origin);
    let label = err
        .labels()
        .next()
        .map(|l| format!(": {}", l.text()))
        .unwrap_or_default();
    format!("{location}: error[{}]: {}{label}", err.code(), err.title())
}

/// Collects rule files under `path` (a file is taken as is, whatever its extension).
fn collect(path: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), EngineError> {
    let read_err = |source| EngineError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_file() {
        return push(path, out);
    }
    if depth > MAX_DIR_DEPTH {
        return Err(EngineError::Yara(format!(
            "{}: rule directories nested deeper than {MAX_DIR_DEPTH} levels (a link loop?)",
            path.display()
        )));
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_err)? {
        entries.push(entry.map_err(read_err)?.path());
    }
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&entry) else {
            continue; // a dangling link: nothing to read
        };
        if meta.is_dir() {
            collect(&entry, depth + 1, out)?;
        } else if is_rule_file(&entry) {
            push(&entry, out)?;
        }
    }
    Ok(())
}

fn push(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), EngineError> {
    if out.len() >= MAX_RULE_FILES {
        return Err(EngineError::Yara(format!(
            "more than {MAX_RULE_FILES} rule files under the configured directories (at {})",
            path.display()
        )));
    }
    out.push(path.to_path_buf());
    Ok(())
}

fn is_rule_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yar") || e.eq_ignore_ascii_case("yara"))
}

fn read_source(path: &Path) -> Result<Source, EngineError> {
    let read_err = |source| EngineError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_RULE_FILE_BYTES {
        return Err(EngineError::Yara(format!(
            "{}: {size} bytes, larger than {MAX_RULE_FILE_BYTES} for a rule file",
            path.display()
        )));
    }
    let text = std::fs::read(path).map_err(read_err)?;
    let namespace = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "operator".to_string());
    Ok(Source {
        origin: path.display().to_string(),
        namespace,
        text,
    })
}

/// First 12 hex digits of SHA-256 over every source's namespace and text (not its path: the
/// same rules moved elsewhere give the same results).
fn fingerprint(sources: &[Source]) -> String {
    if sources.is_empty() {
        return "none".to_string();
    }
    let mut hash = Sha256::new();
    for s in sources {
        for part in [s.namespace.as_bytes(), &s.text] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
    }
    let digest = hex::encode(hash.finalize());
    digest.get(..12).unwrap_or(&digest).to_string()
}
