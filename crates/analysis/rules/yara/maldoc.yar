// Macro documents (maldocs), as far as YARA can see them in the raw bytes.
//
// Why this shape: the VBA source of a module is stored MS-OVBA-compressed, so a plain string
// such as "Document_Open" rarely survives intact. In a run of literals the compressor writes a
// flag byte before every eighth token, so a word is cut by one byte at a position that depends
// on where it falls in its group of eight. Each `$auto*`/`$exec*` pattern below lists the word
// at all eight phases (`??` = the flag byte; 0x00 when the group is all literals, anything
// otherwise). Words that the compressor replaced by a back-reference stay invisible: the VBA
// parser (`office.macro.*` findings) covers the decompressed source, this rule is the
// independent second opinion. Office-saved files also keep the identifiers uncompressed in the
// `_VBA_PROJECT` p-code cache, where the contiguous variant matches. OOXML (`.docm`, `.xlsm`)
// deflates `vbaProject.bin`, so the rule fires on the extracted `vbaProject.bin` object or on a
// package that stores it uncompressed.
//
// The patterns were generated: for a word of n letters and each phase p in 0..8, insert `??`
// before letter i (0 < i < n) when (p + i) % 8 == 0.

rule spamhattan_maldoc_vba_autoexec_exec : maldoc
{
    meta:
        description = "Office document whose VBA project runs on open and can run or download something"
        author = "spamhattan"
        reference = "https://learn.microsoft.com/en-us/openspecs/office_file_formats/ms-ovba/"

    strings:
        // A VBA project: its stream names (UTF-16 in the OLE directory), the first line of every
        // module after compression ("Attribute VB_Name" with the flag byte of the second group),
        // and the OOXML part name.
        $vba0 = "_VBA_PROJECT" wide
        $vba1 = "Attribut\x00e VB_Nam"
        $vba2 = "vbaProject.bin"

        // Entry points Office runs without a click.
        $auto0 = { ( 41 75 74 6F 4F 70 65 6E | 41 75 74 6F 4F 70 65 ?? 6E | 41 75 74 6F 4F 70 ?? 65 6E | 41 75 74 6F 4F ?? 70 65 6E | 41 75 74 6F ?? 4F 70 65 6E | 41 75 74 ?? 6F 4F 70 65 6E | 41 75 ?? 74 6F 4F 70 65 6E | 41 ?? 75 74 6F 4F 70 65 6E ) }  // AutoOpen
        $auto1 = { ( 41 75 74 6F 5F 4F 70 65 ?? 6E | 41 75 74 6F 5F 4F 70 ?? 65 6E | 41 75 74 6F 5F 4F ?? 70 65 6E | 41 75 74 6F 5F ?? 4F 70 65 6E | 41 75 74 6F ?? 5F 4F 70 65 6E | 41 75 74 ?? 6F 5F 4F 70 65 6E | 41 75 ?? 74 6F 5F 4F 70 65 6E | 41 ?? 75 74 6F 5F 4F 70 65 6E ) }  // Auto_Open
        $auto2 = { ( 41 75 74 6F 43 6C 6F 73 ?? 65 | 41 75 74 6F 43 6C 6F ?? 73 65 | 41 75 74 6F 43 6C ?? 6F 73 65 | 41 75 74 6F 43 ?? 6C 6F 73 65 | 41 75 74 6F ?? 43 6C 6F 73 65 | 41 75 74 ?? 6F 43 6C 6F 73 65 | 41 75 ?? 74 6F 43 6C 6F 73 65 | 41 ?? 75 74 6F 43 6C 6F 73 65 ) }  // AutoClose
        $auto3 = { ( 44 6F 63 75 6D 65 6E 74 ?? 5F 4F 70 65 6E | 44 6F 63 75 6D 65 6E ?? 74 5F 4F 70 65 6E | 44 6F 63 75 6D 65 ?? 6E 74 5F 4F 70 65 6E | 44 6F 63 75 6D ?? 65 6E 74 5F 4F 70 65 6E | 44 6F 63 75 ?? 6D 65 6E 74 5F 4F 70 65 ?? 6E | 44 6F 63 ?? 75 6D 65 6E 74 5F 4F 70 ?? 65 6E | 44 6F ?? 63 75 6D 65 6E 74 5F 4F ?? 70 65 6E | 44 ?? 6F 63 75 6D 65 6E 74 5F ?? 4F 70 65 6E ) }  // Document_Open
        $auto4 = { ( 44 6F 63 75 6D 65 6E 74 ?? 5F 43 6C 6F 73 65 | 44 6F 63 75 6D 65 6E ?? 74 5F 43 6C 6F 73 65 | 44 6F 63 75 6D 65 ?? 6E 74 5F 43 6C 6F 73 65 | 44 6F 63 75 6D ?? 65 6E 74 5F 43 6C 6F 73 ?? 65 | 44 6F 63 75 ?? 6D 65 6E 74 5F 43 6C 6F ?? 73 65 | 44 6F 63 ?? 75 6D 65 6E 74 5F 43 6C ?? 6F 73 65 | 44 6F ?? 63 75 6D 65 6E 74 5F 43 ?? 6C 6F 73 65 | 44 ?? 6F 63 75 6D 65 6E 74 5F ?? 43 6C 6F 73 65 ) }  // Document_Close
        $auto5 = { ( 57 6F 72 6B 62 6F 6F 6B ?? 5F 4F 70 65 6E | 57 6F 72 6B 62 6F 6F ?? 6B 5F 4F 70 65 6E | 57 6F 72 6B 62 6F ?? 6F 6B 5F 4F 70 65 6E | 57 6F 72 6B 62 ?? 6F 6F 6B 5F 4F 70 65 6E | 57 6F 72 6B ?? 62 6F 6F 6B 5F 4F 70 65 ?? 6E | 57 6F 72 ?? 6B 62 6F 6F 6B 5F 4F 70 ?? 65 6E | 57 6F ?? 72 6B 62 6F 6F 6B 5F 4F ?? 70 65 6E | 57 ?? 6F 72 6B 62 6F 6F 6B 5F ?? 4F 70 65 6E ) }  // Workbook_Open

        // Ways to run a program or fetch a payload.
        $exec0 = { ( 53 68 65 6C 6C | 53 68 65 6C ?? 6C | 53 68 65 ?? 6C 6C | 53 68 ?? 65 6C 6C | 53 ?? 68 65 6C 6C ) }  // Shell
        $exec1 = { ( 55 52 4C 44 6F 77 6E 6C ?? 6F 61 64 54 6F 46 69 6C ?? 65 | 55 52 4C 44 6F 77 6E ?? 6C 6F 61 64 54 6F 46 69 ?? 6C 65 | 55 52 4C 44 6F 77 ?? 6E 6C 6F 61 64 54 6F 46 ?? 69 6C 65 | 55 52 4C 44 6F ?? 77 6E 6C 6F 61 64 54 6F ?? 46 69 6C 65 | 55 52 4C 44 ?? 6F 77 6E 6C 6F 61 64 54 ?? 6F 46 69 6C 65 | 55 52 4C ?? 44 6F 77 6E 6C 6F 61 64 ?? 54 6F 46 69 6C 65 | 55 52 ?? 4C 44 6F 77 6E 6C 6F 61 ?? 64 54 6F 46 69 6C 65 | 55 ?? 52 4C 44 6F 77 6E 6C 6F ?? 61 64 54 6F 46 69 6C 65 ) }  // URLDownloadToFile
        $exec2 = { ( 6F 77 65 72 73 68 65 6C ?? 6C | 6F 77 65 72 73 68 65 ?? 6C 6C | 6F 77 65 72 73 68 ?? 65 6C 6C | 6F 77 65 72 73 ?? 68 65 6C 6C | 6F 77 65 72 ?? 73 68 65 6C 6C | 6F 77 65 ?? 72 73 68 65 6C 6C | 6F 77 ?? 65 72 73 68 65 6C 6C | 6F ?? 77 65 72 73 68 65 6C 6C ) }  // owershell
        $exec3 = { ( 6F 77 65 72 53 68 65 6C ?? 6C | 6F 77 65 72 53 68 65 ?? 6C 6C | 6F 77 65 72 53 68 ?? 65 6C 6C | 6F 77 65 72 53 ?? 68 65 6C 6C | 6F 77 65 72 ?? 53 68 65 6C 6C | 6F 77 65 ?? 72 53 68 65 6C 6C | 6F 77 ?? 65 72 53 68 65 6C 6C | 6F ?? 77 65 72 53 68 65 6C 6C ) }  // owerShell
        $exec4 = { ( 58 4D 4C 48 54 54 50 | 58 4D 4C 48 54 54 ?? 50 | 58 4D 4C 48 54 ?? 54 50 | 58 4D 4C 48 ?? 54 54 50 | 58 4D 4C ?? 48 54 54 50 | 58 4D ?? 4C 48 54 54 50 | 58 ?? 4D 4C 48 54 54 50 ) }  // XMLHTTP
        $exec5 = { ( 41 44 4F 44 42 2E 53 74 ?? 72 65 61 6D | 41 44 4F 44 42 2E 53 ?? 74 72 65 61 6D | 41 44 4F 44 42 2E ?? 53 74 72 65 61 6D | 41 44 4F 44 42 ?? 2E 53 74 72 65 61 6D | 41 44 4F 44 ?? 42 2E 53 74 72 65 61 6D | 41 44 4F ?? 44 42 2E 53 74 72 65 61 ?? 6D | 41 44 ?? 4F 44 42 2E 53 74 72 65 ?? 61 6D | 41 ?? 44 4F 44 42 2E 53 74 72 ?? 65 61 6D ) }  // ADODB.Stream
        $exec6 = { ( 57 69 6E 33 32 5F 50 72 ?? 6F 63 65 73 73 | 57 69 6E 33 32 5F 50 ?? 72 6F 63 65 73 73 | 57 69 6E 33 32 5F ?? 50 72 6F 63 65 73 73 | 57 69 6E 33 32 ?? 5F 50 72 6F 63 65 73 73 | 57 69 6E 33 ?? 32 5F 50 72 6F 63 65 73 ?? 73 | 57 69 6E ?? 33 32 5F 50 72 6F 63 65 ?? 73 73 | 57 69 ?? 6E 33 32 5F 50 72 6F 63 ?? 65 73 73 | 57 ?? 69 6E 33 32 5F 50 72 6F ?? 63 65 73 73 ) }  // Win32_Process
        $exec7 = { ( 6D 73 68 74 61 | 6D 73 68 74 ?? 61 | 6D 73 68 ?? 74 61 | 6D 73 ?? 68 74 61 | 6D ?? 73 68 74 61 ) }  // mshta
        $exec_ci0 = "wscript.shell" nocase
        $exec_ci1 = "powershell" nocase
        $exec_ci2 = "urldownloadtofile" nocase

    condition:
        // OLE2 compound file (.doc, .xls, vbaProject.bin) or ZIP (OOXML package).
        (uint32be(0) == 0xD0CF11E0 or uint32be(0) == 0x504B0304)
        and any of ($vba*) and any of ($auto*) and any of ($exec*)
}
