//! Brands phishing impersonates, with the domain stems that really belong to them. A display
//! name naming a brand from a domain outside its stems is the most common impersonation.
//!
//! A stem is the registered domain without its public suffix (`paypal` for `paypal.co.uk`), so
//! a brand's country domains need no list. The list favours what reaches Dutch and European
//! traps: banks, parcel services, government, telecoms, and the global tech brands.

/// `(words of the brand as written in display names, lower case; stems of its own domains)`.
pub(crate) const BRANDS: &[(&str, &[&str])] = &[
    ("postnl", &["postnl"]),
    ("dhl", &["dhl"]),
    ("ing", &["ing", "mijn-ing", "ing-bank"]),
    ("rabobank", &["rabobank"]),
    ("abn amro", &["abnamro"]),
    ("abnamro", &["abnamro"]),
    (
        "belastingdienst",
        &["belastingdienst", "rijksoverheid", "overheid"],
    ),
    ("digid", &["digid", "logius", "overheid"]),
    ("mijnoverheid", &["mijnoverheid", "overheid"]),
    ("cjib", &["cjib"]),
    ("uwv", &["uwv"]),
    ("duo", &["duo"]),
    ("kpn", &["kpn", "kpnmail"]),
    ("ziggo", &["ziggo", "vodafoneziggo"]),
    ("odido", &["odido"]),
    ("sns bank", &["snsbank", "sns"]),
    ("asn bank", &["asnbank"]),
    ("bunq", &["bunq"]),
    ("knab", &["knab"]),
    ("triodos", &["triodos"]),
    ("bol.com", &["bol"]),
    ("marktplaats", &["marktplaats"]),
    ("thuisbezorgd", &["thuisbezorgd"]),
    ("anwb", &["anwb"]),
    ("essent", &["essent"]),
    ("eneco", &["eneco"]),
    ("vattenfall", &["vattenfall"]),
    ("bpost", &["bpost"]),
    ("belfius", &["belfius"]),
    ("kbc", &["kbc"]),
    ("itsme", &["itsme", "itsme-id"]),
    (
        "microsoft",
        &[
            "microsoft",
            "office",
            "office365",
            "outlook",
            "live",
            "microsoftonline",
            "sharepoint",
            "hotmail",
            "onedrive",
        ],
    ),
    (
        "office 365",
        &["microsoft", "office", "office365", "microsoftonline"],
    ),
    (
        "microsoft 365",
        &["microsoft", "office", "office365", "microsoftonline"],
    ),
    (
        "outlook",
        &["microsoft", "outlook", "office", "live", "hotmail"],
    ),
    ("onedrive", &["microsoft", "onedrive", "live", "sharepoint"]),
    ("sharepoint", &["microsoft", "sharepoint"]),
    ("apple", &["apple", "icloud", "me"]),
    ("icloud", &["apple", "icloud"]),
    ("paypal", &["paypal"]),
    ("amazon", &["amazon"]),
    ("netflix", &["netflix"]),
    ("docusign", &["docusign"]),
    ("adobe", &["adobe"]),
    ("wetransfer", &["wetransfer"]),
    ("dropbox", &["dropbox", "dropboxmail"]),
    ("facebook", &["facebook", "facebookmail", "meta", "fb"]),
    ("instagram", &["instagram", "facebookmail"]),
    ("whatsapp", &["whatsapp"]),
    ("linkedin", &["linkedin"]),
    ("google", &["google", "youtube"]),
    ("gmail", &["google"]),
    ("coinbase", &["coinbase"]),
    ("binance", &["binance"]),
    ("kraken", &["kraken"]),
    ("metamask", &["metamask"]),
    ("ledger", &["ledger"]),
    ("ups", &["ups"]),
    ("fedex", &["fedex"]),
    ("usps", &["usps"]),
    ("dpd", &["dpd"]),
    ("gls", &["gls-group", "gls-info", "gls"]),
    ("royal mail", &["royalmail"]),
    ("chase", &["chase", "jpmorgan", "jpmorganchase"]),
    ("wells fargo", &["wellsfargo"]),
    ("bank of america", &["bankofamerica", "bofa"]),
    ("american express", &["americanexpress", "aexp", "amex"]),
    ("hsbc", &["hsbc"]),
    ("barclays", &["barclays"]),
    ("santander", &["santander"]),
    ("visa", &["visa"]),
    ("mastercard", &["mastercard"]),
    ("booking.com", &["booking"]),
    ("airbnb", &["airbnb"]),
    ("ebay", &["ebay"]),
    ("norton", &["norton", "nortonlifelock", "gen"]),
    ("mcafee", &["mcafee"]),
    ("zoom", &["zoom"]),
    ("spotify", &["spotify"]),
];

/// The brand a display name names, by whole words (`ING` yes, `Billing` no).
pub(crate) fn named_in(display: &str) -> Option<(&'static str, &'static [&'static str])> {
    let words: Vec<String> = display
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|w| w.trim_matches('.').to_string())
        .filter(|w| !w.is_empty())
        .take(32)
        .collect();
    BRANDS.iter().copied().find(|(brand, _)| {
        let parts: Vec<&str> = brand.split(' ').collect();
        words.windows(parts.len()).any(|w| {
            w.iter()
                .zip(&parts)
                .all(|(a, b)| a == b || a.strip_prefix(b).is_some_and(|rest| rest.starts_with('.')))
        })
    })
}
