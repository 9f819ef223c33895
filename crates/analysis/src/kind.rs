//! Object kinds by content: the vocabulary `sniff` answers in and `object` dispatches on.

/// What an object is, judged by its bytes (and, for text formats with no magic, its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Zip,
    SevenZip,
    Rar,
    Gzip,
    Bzip2,
    Xz,
    Tar,
    Iso,
    Img,
    Cab,
    /// OLE/CFB container not identified further.
    Ole,
    OleDoc,
    OleXls,
    OlePpt,
    Msi,
    OoxmlWord,
    OoxmlExcel,
    OoxmlPpt,
    Rtf,
    Pdf,
    Lnk,
    Html,
    Svg,
    OneNote,
    Pe,
    Elf,
    MachO,
    Js,
    Jse,
    Vbs,
    Vbe,
    Wsf,
    Hta,
    Ps1,
    Bat,
    Cmd,
    /// `message/rfc822`: a mail inside the mail.
    Eml,
    Image,
    Text,
    Unknown,
}

impl Kind {
    /// The id written into reports (`Artifact::kind`) and matched by rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::SevenZip => "7z",
            Kind::Rar => "rar",
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Tar => "tar",
            Kind::Iso => "iso",
            Kind::Img => "img",
            Kind::Cab => "cab",
            Kind::Ole => "ole",
            Kind::OleDoc => "ole-doc",
            Kind::OleXls => "ole-xls",
            Kind::OlePpt => "ole-ppt",
            Kind::Msi => "msi",
            Kind::OoxmlWord => "ooxml-word",
            Kind::OoxmlExcel => "ooxml-excel",
            Kind::OoxmlPpt => "ooxml-ppt",
            Kind::Rtf => "rtf",
            Kind::Pdf => "pdf",
            Kind::Lnk => "lnk",
            Kind::Html => "html",
            Kind::Svg => "svg",
            Kind::OneNote => "onenote",
            Kind::Pe => "pe",
            Kind::Elf => "elf",
            Kind::MachO => "macho",
            Kind::Js => "script-js",
            Kind::Jse => "script-jse",
            Kind::Vbs => "script-vbs",
            Kind::Vbe => "script-vbe",
            Kind::Wsf => "script-wsf",
            Kind::Hta => "script-hta",
            Kind::Ps1 => "script-ps1",
            Kind::Bat => "script-bat",
            Kind::Cmd => "script-cmd",
            Kind::Eml => "eml",
            Kind::Image => "image",
            Kind::Text => "text",
            Kind::Unknown => "unknown",
        }
    }

    /// Containers whose entries become child objects.
    pub fn is_archive(self) -> bool {
        matches!(
            self,
            Kind::Zip
                | Kind::SevenZip
                | Kind::Rar
                | Kind::Gzip
                | Kind::Bzip2
                | Kind::Xz
                | Kind::Tar
                | Kind::Iso
                | Kind::Img
                | Kind::Cab
        )
    }

    /// Office documents (OLE or OOXML or RTF).
    pub fn is_office(self) -> bool {
        matches!(
            self,
            Kind::Ole
                | Kind::OleDoc
                | Kind::OleXls
                | Kind::OlePpt
                | Kind::Msi
                | Kind::OoxmlWord
                | Kind::OoxmlExcel
                | Kind::OoxmlPpt
                | Kind::Rtf
        )
    }

    /// Windows script hosts and shells: text that runs when double-clicked.
    pub fn is_script(self) -> bool {
        matches!(
            self,
            Kind::Js
                | Kind::Jse
                | Kind::Vbs
                | Kind::Vbe
                | Kind::Wsf
                | Kind::Hta
                | Kind::Ps1
                | Kind::Bat
                | Kind::Cmd
        )
    }

    /// Native executables and installers.
    pub fn is_executable(self) -> bool {
        matches!(self, Kind::Pe | Kind::Elf | Kind::MachO | Kind::Msi)
    }
}
