//! olevba's keyword tables and mraptor's three regexes, reimplemented over VBA source.
//!
//! The keyword lists are the vocabulary of oletools 0.60.2 (`olevba.py` `AUTOEXEC_KEYWORDS*`,
//! `SUSPICIOUS_KEYWORDS*`, `RE_PATTERNS`; `mraptor.py` `re_autoexec`, `re_write`,
//! `re_execute`) so that reports read like olevba's and the oracle comparison is meaningful.

use model::report::MacroKeyword;
use regex::{Regex, RegexSet};
use std::sync::LazyLock;

/// Rows kept in the keyword table: a real macro yields a few dozen; obfuscated ones can
/// produce thousands of hex strings, which tell nothing more after the first ones.
const MAX_ROWS: usize = 200;

type Table = &'static [(&'static str, &'static [&'static str])];

/// Plain keywords (escaped, matched between word boundaries, case-insensitively).
const AUTOEXEC: Table = &[
    (
        "Runs when the Word document is opened",
        &["AutoExec", "AutoOpen", "DocumentOpen"],
    ),
    (
        "Runs when the Word document is closed",
        &[
            "AutoExit",
            "AutoClose",
            "Document_Close",
            "DocumentBeforeClose",
        ],
    ),
    (
        "Runs when the Word document is modified",
        &["DocumentChange"],
    ),
    (
        "Runs when a new Word document is created",
        &["AutoNew", "Document_New", "NewDocument"],
    ),
    (
        "Runs when the Word or Publisher document is opened",
        &["Document_Open"],
    ),
    (
        "Runs when the Publisher document is closed",
        &["Document_BeforeClose"],
    ),
    (
        "Runs when the Excel Workbook is opened",
        &[
            "Auto_Open",
            "Workbook_Open",
            "Workbook_Activate",
            "Auto_Ope",
        ],
    ),
    (
        "Runs when the Excel Workbook is closed",
        &["Auto_Close", "Workbook_Close", "Workbook_BeforeClose"],
    ),
    (
        "May run when an Excel WorkSheet is opened",
        &["Worksheet_Calculate"],
    ),
];

/// Regex keywords (unescaped).
const AUTOEXEC_REGEX: Table = &[
    (
        "Runs when the file is opened (using InkPicture ActiveX object)",
        &[r"\w+_Painted", r"\w+_Painting"],
    ),
    (
        "Runs when the file is opened and ActiveX objects trigger events",
        &[
            r"\w+_GotFocus",
            r"\w+_LostFocus",
            r"\w+_MouseHover",
            r"\w+_Click",
            r"\w+_Change",
            r"\w+_Resize",
            r"\w+_BeforeNavigate2",
            r"\w+_BeforeScriptExecute",
            r"\w+_DocumentComplete",
            r"\w+_DownloadBegin",
            r"\w+_DownloadComplete",
            r"\w+_FileDownload",
            r"\w+_NavigateComplete2",
            r"\w+_NavigateError",
            r"\w+_ProgressChange",
            r"\w+_PropertyChange",
            r"\w+_SetSecureLockIcon",
            r"\w+_StatusTextChange",
            r"\w+_TitleChange",
            r"\w+_MouseMove",
            r"\w+_MouseEnter",
            r"\w+_MouseLeave",
            r"\w+_Layout",
            r"\w+_OnConnecting",
            r"\w+_FollowHyperlink",
            r"\w+_ContentControlOnEnter",
        ],
    ),
];

const SUSPICIOUS: Table = &[
    (
        "May read system environment variables",
        &[
            "Environ",
            "Win32_Environment",
            "Environment",
            "ExpandEnvironmentStrings",
            r"HKCU\Environment",
            r"HKEY_CURRENT_USER\Environment",
        ],
    ),
    ("May open a file", &["Open"]),
    (
        "May write to a file (if combined with Open)",
        &["Write", "Put", "Output", "Print #"],
    ),
    (
        "May read or write a binary file (if combined with Open)",
        &["Binary"],
    ),
    (
        "May copy a file",
        &["FileCopy", "CopyFile", "CopyHere", "CopyFolder"],
    ),
    ("May move a file", &["MoveHere", "MoveFile", "MoveFolder"]),
    ("May delete a file", &["Kill"]),
    (
        "May create a text file",
        &["CreateTextFile", "ADODB.Stream", "WriteText", "SaveToFile"],
    ),
    (
        "May run an executable file or a system command",
        &[
            "Shell",
            "vbNormal",
            "vbNormalFocus",
            "vbHide",
            "vbMinimizedFocus",
            "vbMaximizedFocus",
            "vbNormalNoFocus",
            "vbMinimizedNoFocus",
            "WScript.Shell",
            "Run",
            "ShellExecute",
            "ShellExecuteA",
            "shell32",
            "InvokeVerb",
            "InvokeVerbEx",
            "DoIt",
        ],
    ),
    ("May run a dll", &["ControlPanelItem"]),
    (
        "May execute file or a system command through WMI",
        &["Create"],
    ),
    (
        "May run an executable file or a system command on a Mac",
        &["MacScript", "AppleScript"],
    ),
    (
        "May run PowerShell commands",
        &[
            "PowerShell",
            "noexit",
            "ExecutionPolicy",
            "noprofile",
            "command",
            "EncodedCommand",
            "invoke-command",
            "scriptblock",
            "Invoke-Expression",
            "AuthorizationManager",
        ],
    ),
    (
        "May run an executable file or a system command using PowerShell",
        &["Start-Process"],
    ),
    ("May call a DLL using Excel 4 Macros (XLM/XLF)", &["CALL"]),
    (
        "May hide the application",
        &["Application.Visible", "ShowWindow", "SW_HIDE"],
    ),
    ("May create a directory", &["MkDir"]),
    ("May save the current workbook", &["ActiveWorkbook.SaveAs"]),
    (
        "May change which directory contains files to open at startup",
        &["Application.AltStartupPath"],
    ),
    ("May create an OLE object", &["CreateObject"]),
    (
        "May get an OLE object with a running instance",
        &["GetObject"],
    ),
    ("May create an OLE object using PowerShell", &["New-Object"]),
    (
        "May run an application (if combined with CreateObject)",
        &["Shell.Application"],
    ),
    (
        "May run an Excel 4 Macro (aka XLM/XLF) from VBA",
        &["ExecuteExcel4Macro"],
    ),
    (
        "May enumerate application windows (if combined with Shell.Application object)",
        &["Windows", "FindWindow"],
    ),
    ("May run code from a DLL", &["Lib"]),
    (
        "May run code from a library on a Mac",
        &["libc.dylib", "dylib"],
    ),
    (
        "May inject code into another process",
        &[
            "CreateThread",
            "CreateUserThread",
            "VirtualAlloc",
            "VirtualAllocEx",
            "RtlMoveMemory",
            "WriteProcessMemory",
            "SetContextThread",
            "QueueApcThread",
            "WriteVirtualMemory",
            "VirtualProtect",
        ],
    ),
    ("May run a shellcode in memory", &["SetTimer"]),
    (
        "May download files from the Internet",
        &[
            "URLDownloadToFileA",
            "Msxml2.XMLHTTP",
            "Microsoft.XMLHTTP",
            "MSXML2.ServerXMLHTTP",
            "User-Agent",
        ],
    ),
    (
        "May download files from the Internet using PowerShell",
        &["Net.WebClient", "DownloadFile", "DownloadString"],
    ),
    (
        "May control another application by simulating user keystrokes",
        &["SendKeys", "AppActivate"],
    ),
    (
        "May attempt to obfuscate malicious function calls",
        &["CallByName"],
    ),
    (
        "May attempt to obfuscate specific strings (use option --deobf to deobfuscate)",
        &["Chr", "ChrB", "ChrW", "StrReverse", "Xor"],
    ),
    (
        "May read or write registry keys",
        &["RegOpenKeyExA", "RegOpenKeyEx", "RegCloseKey"],
    ),
    (
        "May read registry keys",
        &["RegQueryValueExA", "RegQueryValueEx", "RegRead"],
    ),
    (
        "May detect virtualization",
        &[
            r"SYSTEM\ControlSet001\Services\Disk\Enum",
            "VIRTUAL",
            "VMWARE",
            "VBOX",
        ],
    ),
    (
        "May detect Anubis Sandbox",
        &[
            "GetVolumeInformationA",
            "GetVolumeInformation",
            "1824245000",
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProductId",
            "76487-337-8429955-22614",
            "andy",
            r"C:\exec\exec.exe",
            "popupkiller",
        ],
    ),
    (
        "May detect Sandboxie",
        &["SbieDll.dll", "SandboxieControlWndClass"],
    ),
    ("May detect Sunbelt Sandbox", &[r"C:\file.exe"]),
    ("May detect Norman Sandbox", &["currentuser"]),
    ("May detect CW Sandbox", &["Schmidti"]),
    ("May detect WinJail Sandbox", &["Afx:400000:0"]),
    (
        "May attempt to disable VBA macro security and Protected View",
        &[
            "AccessVBOM",
            "VBAWarnings",
            "ProtectedView",
            "DisableAttachementsInPV",
            "DisableInternetFilesInPV",
            "DisableUnsafeLocationsInPV",
            "blockcontentexecutionfrominternet",
        ],
    ),
    (
        "May attempt to modify the VBA code (self-modification)",
        &["VBProject", "VBComponents", "CodeModule", "AddFromString"],
    ),
    (
        "May modify Excel 4 Macro formulas at runtime (XLM/XLF)",
        &["FORMULA.FILL"],
    ),
];

/// olevba's regex keywords; its look-behinds (which only tell XLM plugin text apart) are
/// dropped because the `regex` crate has none and this code never sees that plugin's text.
const SUSPICIOUS_REGEX: Table = &[
    (
        "May use Word Document Variables to store and hide data",
        &[r"\.\s*Variables"],
    ),
    (
        "May run a shellcode in memory",
        &[
            r"EnumSystemLanguageGroupsW?",
            r"EnumDateFormats(?:W|(?:Ex){1,2})?",
        ],
    ),
    (
        "May run an executable file or a system command on a Mac (if combined with libc.dylib)",
        &["system", "popen", r"exec[lv][ep]?"],
    ),
    (
        "May run an executable file or a system command using Excel 4 Macros (XLM/XLF)",
        &["EXEC"],
    ),
    (
        "May call a DLL using Excel 4 Macros (XLM/XLF)",
        &["REGISTER"],
    ),
];

/// One compiled keyword: the regex and where it came from.
struct Keyword {
    kind: &'static str,
    description: &'static str,
    re: Regex,
}

struct Compiled {
    set: RegexSet,
    keywords: Vec<Keyword>,
}

static KEYWORDS: LazyLock<Option<Compiled>> = LazyLock::new(|| {
    let mut keywords = Vec::new();
    let mut add = |kind: &'static str, table: Table, escape: bool| {
        for (description, words) in table {
            for word in *words {
                let body = if escape {
                    regex::escape(word)
                } else {
                    word.to_string()
                };
                if let Ok(re) = Regex::new(&format!(r"(?i)\b{body}\b")) {
                    keywords.push(Keyword {
                        kind,
                        description,
                        re,
                    });
                }
            }
        }
    };
    add("AutoExec", AUTOEXEC, true);
    add("AutoExec", AUTOEXEC_REGEX, false);
    add("Suspicious", SUSPICIOUS, true);
    add("Suspicious", SUSPICIOUS_REGEX, false);
    let set = RegexSet::new(keywords.iter().map(|k| k.re.as_str())).ok()?;
    Some(Compiled { set, keywords })
});

static IOC: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    let ip = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])";
    let dns = r"(?:[a-zA-Z0-9\-\.]+\.(?:xn--[a-zA-Z0-9]{4,20}|[a-zA-Z]{2,20}))";
    let url = format!(
        r"\b(?:http|ftp)s?://(?:{ip}|{dns})(?::[0-9]{{1,5}})?(?:/[a-zA-Z0-9\-\._\?\,'/\\\+&%\$#\=~]*)?"
    );
    let exe = r"(?i)\b\w+\.(EXE|PIF|GADGET|MSI|MSP|MSC|VBS|VBE|VB|JSE|JS|WSF|WSC|WSH|WS|BAT|CMD|DLL|SCR|HTA|CPL|CLASS|JAR|PS1XML|PS1|PS2XML|PS2|PSC1|PSC2|SCF|LNK|INF|REG)\b";
    [
        ("URL", url.as_str()),
        ("IPv4 address", ip),
        ("Executable file name", exe),
    ]
    .into_iter()
    .filter_map(|(kind, re)| Regex::new(re).ok().map(|re| (kind, re)))
    .collect()
});

static HEX: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?:[0-9A-Fa-f]{2}){4,}").ok());
static BASE64: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#""(?:[A-Za-z0-9+/]{4}){1,}(?:[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?""#)
        .ok()
});

/// Common words matching the base64 pattern that olevba ignores.
const BASE64_WHITELIST: &[&str] = &[
    "thisdocument",
    "thisworkbook",
    "test",
    "temp",
    "http",
    "open",
    "exit",
    "kernel32",
    "virtualalloc",
    "createthread",
];

/// Joins VBA continuation lines (` _` at a line end), as olevba and mraptor do first.
pub(crate) fn collapse_long_lines(code: &str) -> String {
    code.replace(" _\r\n", " ")
        .replace(" _\r", " ")
        .replace(" _\n", " ")
}

/// The olevba-style keyword table of `code` (already collapsed).
pub(crate) fn table(code: &str) -> Vec<MacroKeyword> {
    let mut rows: Vec<MacroKeyword> = Vec::new();
    let mut push = |kind: &str, keyword: &str, description: &str| {
        if rows.len() < MAX_ROWS && !rows.iter().any(|r| r.kind == kind && r.keyword == keyword) {
            rows.push(MacroKeyword {
                kind: kind.to_string(),
                keyword: crate::walk::bounded(keyword.to_string(), 200),
                description: crate::walk::bounded(description.to_string(), 300),
            });
        }
    };
    if let Some(compiled) = KEYWORDS.as_ref() {
        for i in compiled.set.matches(code).iter() {
            let Some(k) = compiled.keywords.get(i) else {
                continue;
            };
            if let Some(m) = k.re.find(code) {
                push(k.kind, m.as_str(), k.description);
            }
        }
    }
    if code.contains('\u{8}') {
        let d = "May use special characters such as backspace to obfuscate code when printed on the console";
        push("Suspicious", "\u{8}", d);
    }
    for (kind, re) in IOC.iter() {
        for m in re.find_iter(code).take(MAX_ROWS) {
            let v = m.as_str();
            if !v.starts_with("http://schemas.openxmlformats.org/")
                && !v.starts_with("http://schemas.microsoft.com/")
            {
                push("IOC", v, kind);
            }
        }
    }
    if let Some(re) = HEX.as_ref() {
        for m in re.find_iter(code).take(MAX_ROWS) {
            let decoded = hex::decode(m.as_str()).unwrap_or_default();
            push("Hex String", m.as_str(), &String::from_utf8_lossy(&decoded));
        }
    }
    if let Some(re) = BASE64.as_ref() {
        for m in re.find_iter(code).take(MAX_ROWS) {
            let v = m.as_str().trim_matches('"');
            let not_hex = v.chars().any(|c| !c.is_ascii_hexdigit());
            if not_hex && !BASE64_WHITELIST.contains(&v.to_ascii_lowercase().as_str()) {
                use base64::Engine as _;
                if let Ok(d) = base64::engine::general_purpose::STANDARD.decode(v) {
                    push("Base64 String", v, &String::from_utf8_lossy(&d));
                }
            }
        }
    }
    rows
}

/// mraptor's verdict over all modules' code (already collapsed).
pub(crate) struct Raptor {
    pub autoexec: bool,
    pub write: bool,
    pub execute: bool,
}

static RAPTOR: LazyLock<Option<[Regex; 3]>> = LazyLock::new(|| {
    let autoexec = concat!(
        r"(?i)\b(?:Auto(?:Exec|_?Open|_?Close|Exit|New)",
        r"|Document(?:_?Open|_Close|_?BeforeClose|Change|_New)",
        r"|NewDocument|Workbook(?:_Open|_Activate|_Close|_BeforeClose)",
        r"|\w+_(?:Painted|Painting|GotFocus|LostFocus|MouseHover",
        r"|Layout|Click|Change|Resize|BeforeNavigate2|BeforeScriptExecute",
        r"|DocumentComplete|DownloadBegin|DownloadComplete|FileDownload",
        r"|NavigateComplete2|NavigateError|ProgressChange|PropertyChange",
        r"|SetSecureLockIcon|StatusTextChange|TitleChange|MouseMove",
        r"|MouseEnter|MouseLeave|OnConnecting))|Auto_Ope\b"
    );
    let write = concat!(
        r"(?i)\b(?:FileCopy|CopyFile|Kill|CreateTextFile|",
        r"VirtualAlloc|RtlMoveMemory|URLDownloadToFileA?|AltStartupPath|WriteProcessMemory|",
        r"ADODB\.Stream|WriteText|SaveToFile|SaveAs|SaveAsRTF|FileSaveAs|MkDir|RmDir|SaveSetting|SetAttr)\b|",
        r"(?:\bOpen\b[^\n]+\b(?:Write|Append|Binary|Output|Random)\b)"
    );
    let execute = concat!(
        r"(?i)\b(?:Shell|CreateObject|GetObject|SendKeys|RUN|CALL|",
        r"MacScript|FollowHyperlink|CreateThread|ShellExecuteA?|ExecuteExcel4Macro|EXEC|REGISTER|SetTimer)\b|",
        r"(?:\bDeclare\b[^\n]+\bLib\b)"
    );
    Some([
        Regex::new(autoexec).ok()?,
        Regex::new(write).ok()?,
        Regex::new(execute).ok()?,
    ])
});

impl Raptor {
    pub(crate) fn scan(code: &str) -> Raptor {
        let hit = |i: usize| RAPTOR.as_ref().is_some_and(|r| r[i].is_match(code));
        Raptor {
            autoexec: hit(0),
            write: hit(1),
            execute: hit(2),
        }
    }

    /// mraptor's own flag string: `A`, `W`, `X` or `-` in that order (e.g. `A-X`).
    pub(crate) fn flags(&self) -> String {
        [(self.autoexec, 'A'), (self.write, 'W'), (self.execute, 'X')]
            .iter()
            .map(|&(on, c)| if on { c } else { '-' })
            .collect()
    }

    /// mraptor's `SUSPICIOUS`: runs on its own and writes or executes.
    pub(crate) fn suspicious(&self) -> bool {
        self.autoexec && (self.write || self.execute)
    }
}

/// URLs in the code, with olevba's URL pattern (schemes http, https, ftp, ftps).
pub(crate) fn urls(code: &str) -> Vec<&str> {
    IOC.iter()
        .filter(|(kind, _)| *kind == "URL")
        .flat_map(|(_, re)| re.find_iter(code).map(|m| m.as_str()))
        .collect()
}
