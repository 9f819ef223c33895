// Windows shortcuts that start an interpreter: the loader step of the ISO/ZIP+LNK chains
// (Qakbot, IcedID, Emotet 2022+, Bumblebee). A shortcut sent by mail has no other use.
//
// Why the lnk module rather than strings: the target is split over the LinkInfo (local path),
// the StringData (relative path, arguments, UTF-16) and the shell item list; the module parses
// all three and hides the encoding.

import "lnk"

rule spamhattan_lnk_runs_interpreter : dropper
{
    meta:
        description = "Shortcut whose target or arguments start a command interpreter or script host"
        author = "spamhattan"
        reference = "https://attack.mitre.org/techniques/T1204/002/"

    condition:
        lnk.is_lnk and (
            lnk.local_base_path matches /(^|\\)(powershell|pwsh|mshta|cmd|wscript|cscript|rundll32|regsvr32|certutil|bitsadmin|conhost|forfiles|msiexec|curl)(\.exe)?$/i
            or lnk.relative_path matches /(^|\\)(powershell|pwsh|mshta|cmd|wscript|cscript|rundll32|regsvr32|certutil|bitsadmin|conhost|forfiles|msiexec|curl)(\.exe)?$/i
            or lnk.cmd_line_args matches /(powershell|pwsh|mshta|cmd(\.exe)?\s+\/[ck]|wscript|cscript|rundll32|regsvr32|certutil|bitsadmin|curl(\.exe)?\s)/i
            or for any item in lnk.target_id_list : (
                item.file_entry_name matches /^(powershell|pwsh|mshta|cmd|wscript|cscript|rundll32|regsvr32|certutil|bitsadmin|conhost|forfiles|msiexec|curl)\.exe$/i
            )
        )
}
