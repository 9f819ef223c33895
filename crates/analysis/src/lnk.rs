//! Windows shortcuts (MS-SHLLINK): what the shortcut runs, with which arguments, from where,
//! and on which machine it was made. The loader chains of 2022–2024 (ISO/ZIP + LNK) hide a
//! PowerShell or mshta command line here.

use crate::walk::Walk;
use model::AnomalyKind;
use model::report::LnkInfo;

const HEADER_SIZE: usize = 0x4C;
const LINK_CLSID: [u8; 16] = [
    0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
];
const HAS_ID_LIST: u32 = 0x1;
const HAS_LINK_INFO: u32 = 0x2;
const HAS_NAME: u32 = 0x4;
const HAS_RELATIVE_PATH: u32 = 0x8;
const HAS_WORKING_DIR: u32 = 0x10;
const HAS_ARGUMENTS: u32 = 0x20;
const HAS_ICON_LOCATION: u32 = 0x40;
const IS_UNICODE: u32 = 0x80;
const TRACKER_BLOCK: u32 = 0xA000_0003;
const ENVIRONMENT_BLOCK: u32 = 0xA000_0001;
/// Extra data blocks read: Windows writes fewer than ten.
const MAX_EXTRA_BLOCKS: usize = 64;
/// Shell items read from the ID list: a path has one per folder level.
const MAX_ID_ITEMS: usize = 64;
/// The properties dialog shows 260 characters of arguments: anything past that is hidden from
/// a user who looks, which is why droppers pad the command line with spaces.
const VISIBLE_ARGUMENT_CHARS: usize = 260;
/// Programs that run commands, scripts or downloads for a shortcut (LOLBins).
const INTERPRETERS: &[&str] = &[
    "cmd",
    "powershell",
    "pwsh",
    "mshta",
    "wscript",
    "cscript",
    "rundll32",
    "regsvr32",
    "msiexec",
    "certutil",
    "bitsadmin",
    "curl",
    "conhost",
    "forfiles",
    "explorer",
    "hh",
    "wmic",
    "schtasks",
    "msbuild",
    "installutil",
    "regasm",
    "regsvcs",
    "odbcconf",
    "pcalua",
    "scriptrunner",
    "bash",
];

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    let Some(info) = parse(data) else {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            &at,
            "lnk: not a shell link header",
        );
        return;
    };
    let target = info.target.clone().unwrap_or_default();
    let args = info.arguments.clone().unwrap_or_default();
    let mut found: Vec<&str> = Vec::new();
    for word in words(&target).chain(words(&args)) {
        if let Some(name) = INTERPRETERS.iter().find(|i| **i == word)
            && !found.contains(name)
        {
            found.push(name);
        }
    }
    if !found.is_empty() {
        walk.finding(
            "lnk.command",
            &at,
            format!("{} ({target} {args})", found.join(", ")),
        );
    }
    let chars = args.chars().count();
    if chars > VISIBLE_ARGUMENT_CHARS {
        walk.finding(
            "lnk.long-arguments",
            &at,
            format!("{chars} characters of arguments"),
        );
    }
    let source = format!("{at}.lnk");
    for url in crate::script::urls_in(&args) {
        walk.url(url, &source);
    }
    walk.artifact(index).lnk = Some(info);
}

/// Lower-cased program-like words of a path or command line, `.exe` dropped.
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| c.is_whitespace() || "\\/\"',;&|()=".contains(c))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_ascii_lowercase();
            w.strip_suffix(".exe").map(str::to_string).unwrap_or(w)
        })
}

fn parse(data: &[u8]) -> Option<LnkInfo> {
    if u32_at(data, 0)? as usize != HEADER_SIZE || data.get(4..20)? != LINK_CLSID {
        return None;
    }
    let flags = u32_at(data, 20)?;
    let unicode = flags & IS_UNICODE != 0;
    let mut info = LnkInfo::default();
    let mut pos = HEADER_SIZE;
    let mut id_path = None;
    if flags & HAS_ID_LIST != 0 {
        let size = usize::from(u16_at(data, pos)?);
        id_path = id_list_path(data.get(pos + 2..pos + 2 + size).unwrap_or_default());
        pos += 2 + size;
    }
    if flags & HAS_LINK_INFO != 0 {
        let size = u32_at(data, pos)? as usize;
        info.target = link_info_path(data.get(pos..pos.checked_add(size)?).unwrap_or_default());
        pos = pos.checked_add(size)?;
    }
    let mut strings = [None, None, None, None, None];
    let wanted = [
        HAS_NAME,
        HAS_RELATIVE_PATH,
        HAS_WORKING_DIR,
        HAS_ARGUMENTS,
        HAS_ICON_LOCATION,
    ];
    for (slot, flag) in strings.iter_mut().zip(wanted) {
        if flags & flag != 0 {
            let Some((s, next)) = string_data(data, pos, unicode) else {
                break;
            };
            *slot = Some(s);
            pos = next;
        }
    }
    let [_name, relative, working_dir, arguments, icon] = strings;
    info.arguments = arguments;
    info.working_dir = working_dir;
    info.icon_location = icon;
    let (machine, env_target) = extra_data(data, pos);
    info.machine_id = machine;
    info.target = info.target.or(env_target).or(id_path).or(relative);
    Some(info)
}

/// One StringData entry: a u16 character count, then the characters.
fn string_data(data: &[u8], pos: usize, unicode: bool) -> Option<(String, usize)> {
    let count = usize::from(u16_at(data, pos)?);
    let len = if unicode { count * 2 } else { count };
    let start = pos + 2;
    // A cut string is kept as far as it goes: the arguments are the evidence.
    let bytes = data.get(start..(start + len).min(data.len()))?;
    Some((text(bytes, unicode), start + len))
}

fn text(bytes: &[u8], unicode: bool) -> String {
    if unicode {
        encoding_rs::UTF_16LE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()
    } else {
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()
    }
}

/// LinkInfo: the local base path (Unicode when given) plus the common path suffix.
fn link_info_path(li: &[u8]) -> Option<String> {
    let header_size = u32_at(li, 4)? as usize;
    let flags = u32_at(li, 8)?;
    if flags & 1 == 0 {
        return None;
    }
    let base_unicode = (header_size >= 0x24)
        .then(|| u32_at(li, 0x1C))
        .flatten()
        .filter(|&o| o != 0)
        .map(|o| utf16z(li, o as usize));
    let base = base_unicode.or_else(|| Some(ansiz(li, u32_at(li, 0x10)? as usize)))?;
    let suffix = u32_at(li, 0x18)
        .map(|o| ansiz(li, o as usize))
        .unwrap_or_default();
    let path = format!("{base}{suffix}");
    (!path.is_empty()).then_some(path)
}

/// Extra data: the tracker block's machine id and the environment block's target.
fn extra_data(data: &[u8], mut pos: usize) -> (Option<String>, Option<String>) {
    let (mut machine, mut env) = (None, None);
    for _ in 0..MAX_EXTRA_BLOCKS {
        let Some(size) = u32_at(data, pos).map(|s| s as usize) else {
            break;
        };
        if size < 8 {
            break;
        }
        match u32_at(data, pos + 4) {
            Some(TRACKER_BLOCK) => {
                let id = ansiz(data.get(pos + 16..pos + 32).unwrap_or_default(), 0);
                machine = (!id.is_empty()).then_some(id);
            }
            Some(ENVIRONMENT_BLOCK) => {
                let uni = utf16z(data.get(pos + 268..pos + 788).unwrap_or_default(), 0);
                let t = if uni.is_empty() {
                    ansiz(data.get(pos + 8..pos + 268).unwrap_or_default(), 0)
                } else {
                    uni
                };
                env = (!t.is_empty()).then_some(t);
            }
            _ => {}
        }
        let Some(next) = pos.checked_add(size) else {
            break;
        };
        pos = next;
    }
    (machine, env)
}

/// A path rebuilt from the shell items of the ID list: volume items (`C:\`) and file-entry
/// items (their short name). Shortcuts made by droppers often carry their target only here.
fn id_list_path(list: &[u8]) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut pos = 0;
    for _ in 0..MAX_ID_ITEMS {
        let size = usize::from(u16_at(list, pos)?);
        if size < 3 {
            break;
        }
        let item = list.get(pos..pos + size).unwrap_or_default();
        match item.get(2).map(|t| t & 0x70) {
            Some(0x20) => parts.push(ansiz(item, 3).trim_end_matches('\\').to_string()),
            Some(0x30) => parts.push(ansiz(item, 14)),
            _ => {}
        }
        pos += size;
    }
    parts.retain(|p| !p.is_empty());
    (!parts.is_empty()).then(|| parts.join("\\"))
}

fn ansiz(data: &[u8], at: usize) -> String {
    let bytes = data.get(at..).unwrap_or_default();
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len()).min(1024);
    text(bytes.get(..end).unwrap_or_default(), false)
}

fn utf16z(data: &[u8], at: usize) -> String {
    let bytes = data.get(at..).unwrap_or_default();
    let mut end = 0;
    while end + 1 < bytes.len() && end < 2048 && (bytes[end] != 0 || bytes[end + 1] != 0) {
        end += 2;
    }
    text(bytes.get(..end).unwrap_or_default(), true)
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
