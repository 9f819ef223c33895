//! What document-level analysis found inside Office files, PDFs, shortcuts and HTML files.

use serde::{Deserialize, Serialize};

/// Office (OLE/CFB, OOXML, RTF) findings, in oletools' vocabulary where it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeInfo {
    /// VBA modules with their decompressed source (each bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vba: Vec<VbaModule>,
    /// olevba-style keyword table: `AutoExec`, `Suspicious`, `IOC`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<MacroKeyword>,
    /// mraptor flags: A (auto-exec), W (write), X (execute).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mraptor: String,
    /// mraptor's conclusion: `suspicious` when A and (W or X), else `macro-ok`/`no-macro`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mraptor_result: String,
    /// Excel 4 (XLM) macro sheets found.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub xlm_macros: bool,
    /// DDE / DDEAUTO field instructions, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dde: Vec<String>,
    /// External relationship targets (remote templates, OLE links, frames).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_targets: Vec<String>,
    /// Embedded OLE objects (class name or file name), extracted as child artefacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embedded_objects: Vec<String>,
    /// Encrypted document (MS-OFFCRYPTO `EncryptionInfo`, RC4 `FilePass`...).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// One VBA module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VbaModule {
    pub name: String,
    /// Stream path inside the container (`VBA/ThisDocument`).
    pub stream: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// One row of the olevba-style keyword table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacroKeyword {
    /// `AutoExec`, `Suspicious`, `IOC`, `Hex String`, `Base64 String`, `Dridex String`, `VBA string`.
    pub kind: String,
    pub keyword: String,
    pub description: String,
}

/// PDF findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdfInfo {
    /// JavaScript snippets (bounded), from `/JS` entries and JavaScript name trees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub javascript: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_action: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub additional_actions: bool,
    /// `/Launch` targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launch: Vec<String>,
    /// `/URI` action targets (also listed in the report's URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    /// Embedded file names (extracted as child artefacts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embedded_files: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub xfa: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// The object parser failed and only the byte-level scan ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub malformed: bool,
}

/// Windows shortcut (MS-SHLLINK) findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LnkInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
}

/// HTML attachment findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtmlInfo {
    /// Smuggling techniques seen: `atob`, `blob`, `msSaveOrOpenBlob`, `data-uri-large`,
    /// `download-attribute`, `createObjectURL`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smuggling: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<HtmlForm>,
    /// `<script>` elements.
    pub scripts: u32,
    /// Refresh or script redirects to another page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<String>,
}

/// A form in an HTML attachment or body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtmlForm {
    pub action: String,
    pub method: String,
    /// Has a password input: a credential form.
    pub password_field: bool,
}
