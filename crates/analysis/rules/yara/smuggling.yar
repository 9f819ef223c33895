// HTML smuggling: the page carries the payload encoded in a script and builds the download in
// the browser, so the gateway never sees a file (Qakbot, IcedID, NOBELIUM's EnvyScout).
//
// Why all three: decoding (atob), building a blob and handing it out as a download are each
// common alone in web apps; together in one mailed file they are the smuggling recipe.

rule spamhattan_html_smuggling : smuggling
{
    meta:
        description = "HTML/JS that decodes base64, builds a Blob and offers it as a download"
        author = "spamhattan"
        reference = "https://attack.mitre.org/techniques/T1027/006/"

    strings:
        $decode = "atob(" ascii wide
        $blob = /new\s+Blob\s*\(/ ascii wide
        $save0 = "createObjectURL" ascii wide
        $save1 = "msSaveOrOpenBlob" ascii wide
        $save2 = "msSaveBlob" ascii wide

    condition:
        filesize < 32MB and $decode and $blob and any of ($save*)
}
