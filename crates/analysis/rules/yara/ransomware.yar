// Ransom notes and their wording in delivery mail: a ransomware marker turns "malware" into
// "ransomware-delivery" in the verdict.
//
// Why these combinations: "your files have been encrypted" (and its Dutch, German, French
// forms) says it outright. "decrypt" alone is common in security news, so it needs a Tor
// payment site, or the three parts of a demand together: recovering *your* files, a decryptor
// or key, a crypto payment (news speaks of "their files"). Sextortion mail (bitcoin, nothing
// encrypted) stays out.

rule spamhattan_ransom_note : ransomware
{
    meta:
        description = "Ransom note wording: files encrypted, decryptor offered for a crypto payment or a Tor site"
        author = "spamhattan"
        reference = "https://attack.mitre.org/techniques/T1486/"

    strings:
        $enc0 = /(your|all)( of)?( your)?( important| personal)? files (have been|had been|are|were|got) (encrypted|locked)/ nocase ascii wide
        $enc1 = /uw( belangrijke| persoonlijke)? (bestanden|documenten) (zijn|werden) (versleuteld|gecodeerd|vergrendeld)/ nocase ascii wide
        $enc2 = /ihre( wichtigen)? (dateien|daten) (wurden|sind) verschl(\xc3\xbc|ue|u)sselt/ nocase ascii
        $enc3 = /vos fichiers (ont (\xc3\xa9|e)t(\xc3\xa9|e)|sont) (chiffr|crypt)/ nocase ascii

        $decrypt = /decrypt(ion|or|er|ing)?\b/ nocase ascii wide
        $onion = /\b[a-z2-7]{56}\.onion\b/ nocase ascii wide
        $tool = /(decryptor|decrypter|decryption (tool|software|program|key))\b/ nocase ascii wide
        $pay0 = "bitcoin" nocase ascii wide
        $pay1 = "monero" nocase ascii wide
        $pay2 = /\bBTC\b/ ascii wide
        $recover = /(to|can|will) (decrypt|recover|restore|get back|unlock) (all )?your( \w+)? (files|data|documents)/ nocase ascii wide

    condition:
        filesize < 16MB and (
            any of ($enc*)
            or ($decrypt and $onion)
            or ($recover and $tool and any of ($pay*))
        )
}
