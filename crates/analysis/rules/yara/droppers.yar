// Script droppers: Windows Script Host files and PowerShell one-liners that fetch a payload.
//
// Why two groups of strings: creating a COM object is what every WSH script does, fetching
// and saving bytes is what an installer or a dropper does; a dropper needs both. Requiring one
// of each keeps the rule off web pages and newsletters that mention one term in passing.

rule spamhattan_script_dropper_wsh : dropper
{
    meta:
        description = "JScript/VBScript that creates a shell or ActiveX object and downloads or writes a file"
        author = "spamhattan"
        reference = "https://attack.mitre.org/techniques/T1059/005/"

    strings:
        // Getting a handle on the system.
        $obj0 = "WScript.Shell" nocase ascii wide
        $obj1 = "ActiveXObject" nocase ascii wide
        $obj2 = "Shell.Application" nocase ascii wide
        $obj3 = /CreateObject\s*\(\s*["']/ nocase

        // Fetching or writing the payload.
        $get0 = "XMLHTTP" nocase ascii wide
        $get1 = "WinHttp.WinHttpRequest" nocase ascii wide
        $get2 = "ADODB.Stream" nocase ascii wide
        $get3 = "SaveToFile" nocase ascii wide
        $get4 = "Scripting.FileSystemObject" nocase ascii wide

    condition:
        filesize < 8MB and any of ($obj*) and any of ($get*)
}

rule spamhattan_powershell_cradle : dropper
{
    meta:
        description = "PowerShell download cradle or encoded command"
        author = "spamhattan"
        reference = "https://attack.mitre.org/techniques/T1059/001/"

    strings:
        // IEX (New-Object Net.WebClient).DownloadString('http://...') and its variants.
        $cradle0 = /(IEX|Invoke-Expression)\s*\(?\s*\(?\s*New-Object\s+(System\.)?Net\.WebClient\s*\)?\s*\.\s*Download(String|File|Data)/ nocase
        $cradle1 = /(IEX|Invoke-Expression)\s*\(?\s*(\(\s*)?(Invoke-WebRequest|iwr|Invoke-RestMethod|irm)\s+/ nocase
        $cradle2 = /(Invoke-WebRequest|iwr|Invoke-RestMethod|irm)\s+[^|\r\n]{1,300}\|\s*(IEX|Invoke-Expression)\b/ nocase
        $cradle3 = /Net\.WebClient\s*\)?\s*\.\s*Download(String|File|Data)\s*\(\s*['"]https?:\/\// nocase
        $cradle4 = /Start-BitsTransfer\s+[^\r\n]{0,100}-Source\s+['"]?https?:\/\// nocase

        // powershell -EncodedCommand <base64>, including the abbreviations PowerShell accepts.
        $enc = /powershell(\.exe)?[^\r\n]{0,100}\s-(e|ec|enc|enco|encod|encode|encoded|encodedc|encodedco|encodedcom|encodedcomm|encodedcomma|encodedcomman|encodedcommand)\s+[A-Za-z0-9+\/]{40,}/ nocase

    condition:
        filesize < 8MB and any of them
}
