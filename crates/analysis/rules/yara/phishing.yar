// Phishing kits: pages (attached HTML, or HTML bodies) that ask for a password and send it to
// a server of the sender's choosing.
//
// Why a brand word as well: a password field posting to an absolute URL is what a phishing
// page is, but saved login pages of any site look the same; kits imitate a short list of
// brands (mail and cloud logins, parcel services, banks), and a mailed login page naming one
// of them is the kit. The Telegram rule covers kits that post by script instead of a form.

rule spamhattan_phishing_credential_page : phishing
{
    meta:
        description = "HTML login form with a password field posting to an absolute URL, naming an imitated brand"
        author = "spamhattan"
        reference = "https://attack.mitre.org/techniques/T1566/001/"

    strings:
        $password = /<input[^>]{0,300}type\s*=\s*["']?password/ nocase
        $action = /<form[^>]{0,500}action\s*=\s*["']?https?:\/\// nocase

        $brand0 = "Microsoft" nocase
        $brand1 = "Office 365" nocase
        $brand2 = "Outlook" nocase
        $brand3 = "OneDrive" nocase
        $brand4 = "SharePoint" nocase
        $brand5 = "DocuSign" nocase
        $brand6 = "Adobe" nocase
        $brand7 = "PayPal" nocase
        $brand8 = "Apple ID" nocase
        $brand9 = "Netflix" nocase
        $brand10 = "WeTransfer" nocase
        $brand11 = "DHL" fullword
        $brand12 = "PostNL" nocase
        $brand13 = "DigiD" nocase
        $brand14 = "Rabobank" nocase
        $brand15 = "ABN AMRO" nocase
        $brand16 = "Webmail" nocase
        $brand17 = "Roundcube" nocase
        $brand18 = "Zimbra" nocase
        $brand19 = "cPanel" nocase
        $brand20 = "Dropbox" nocase

    condition:
        filesize < 8MB and $password and $action and any of ($brand*)
}

rule spamhattan_phishing_telegram_exfil : phishing
{
    meta:
        description = "Page that asks for a password and sends it to a Telegram bot"
        author = "spamhattan"
        reference = "https://core.telegram.org/bots/api#sendmessage"

    strings:
        $bot = /api\.telegram\.org\/bot[0-9]{6,12}:[A-Za-z0-9_-]{30,}/
        $password0 = /<input[^>]{0,300}type\s*=\s*["']?password/ nocase
        $password1 = /["'?&]?(password|passwd|pass|pwd)["']?\s*[:=+]/ nocase

    condition:
        filesize < 8MB and $bot and any of ($password*)
}
