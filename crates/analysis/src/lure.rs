//! Lure wording: the phrases that make a message phishing, fraud or extortion rather than
//! advertising, in English, Dutch, German, French and Spanish (and some Portuguese, frequent in
//! public phishing corpora). `lure.prize` (surveys, sweepstakes) has no verdict rule yet. Each phrase belongs to a family
//! and weighs 1 (common in honest mail too: "invoice", "parcel") or 2 (rarely honest: "your
//! files have been encrypted"); a family fires when its distinct phrases reach its threshold.
//!
//! Matching is one Aho-Corasick pass (leftmost-longest, so "openstaande factuur" counts once,
//! not also as "factuur") over the lower-cased text, at word boundaries.

use crate::walk::Walk;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::LazyLock;

/// Phrases named in one finding's detail.
const MAX_DETAIL_PHRASES: usize = 8;

/// `(signal, threshold)`. Credential and ransom wording is specific enough for one strong
/// phrase; the others need two distinct phrases (a strong and a weak one, or three weak).
const FAMILIES: &[(&str, u32)] = &[
    ("lure.credentials", 2),
    ("lure.invoice", 3),
    ("lure.payment", 3),
    ("lure.delivery", 3),
    ("lure.advance-fee", 3),
    ("lure.extortion", 3),
    ("lure.crypto", 3),
    ("lure.ransom", 2),
    ("lure.prize", 3),
];

const CREDENTIALS: usize = 0;
const INVOICE: usize = 1;
const PAYMENT: usize = 2;
const DELIVERY: usize = 3;
const ADVANCE_FEE: usize = 4;
const EXTORTION: usize = 5;
const CRYPTO: usize = 6;
const RANSOM: usize = 7;
const PRIZE: usize = 8;

/// `(family, weight, phrases separated by '|')`, lower case.
const PHRASES: &[(usize, u32, &str)] = &[
    (
        CREDENTIALS,
        2,
        "verify your account|verify your identity|confirm your account|confirm your identity|your password expires|your password will expire|password will expire|password has expired|mailbox is full|mailbox is almost full|unusual sign-in|unusual sign in|unusual login|account will be suspended|account has been suspended|account will be closed|account has been locked|account is locked|reactivate your account|unlock your account|keep your current password|keep the same password|validate your account|re-validate|click here to verify|update your payment information|your account will be deactivated|messages on hold|pending messages|password is expiring|detected something unusual|unusual sign-in activity|avoid suspension|prevent suspension|restricted your account|temporarily restricted|unlock your wallet|verify your wallet|validate your wallet|storage limit|storage is full|acesso suspeito|verifique sua conta|confirme seus dados|atualize seus dados|sua conta será bloqueada|speicherlimit erreicht|speicher ist voll",
    ),
    (
        CREDENTIALS,
        2,
        "uw account wordt geblokkeerd|je account wordt geblokkeerd|bevestig uw gegevens|bevestig je gegevens|wachtwoord verloopt|verifieer uw account|verifieer je account|verifieer uw identiteit|uw mailbox is vol|mailbox is vol|ongebruikelijke aanmelding|account is geblokkeerd|uw rekening wordt geblokkeerd|controleer uw gegevens|uw account is opgeschort|bevestig uw identiteit|uw pas wordt geblokkeerd|ihr konto wird gesperrt|konto wurde gesperrt|bestätigen sie ihre daten|bestätigen sie ihr konto|passwort läuft ab|verifizieren sie ihr konto|ungewöhnliche anmeldung|postfach ist voll|votre compte sera suspendu|vérifiez votre compte|confirmez vos informations|votre mot de passe expire|connexion inhabituelle|boîte aux lettres est pleine|verifique su cuenta|su cuenta será suspendida|confirme sus datos|su contraseña caduca|inicio de sesión inusual",
    ),
    (
        CREDENTIALS,
        1,
        "has expired|will be signed out|recent sign-in|sign-in details|unusual activity|something unusual|mail policy|email account|não reconheço|sua conta|log in to|login to|sign in to|suspicious activity|security alert|restore access|update your account|inloggen|log in op|verdachte activiteit|gegevens bijwerken|melden sie sich an|compte bloqué|cuenta bloqueada",
    ),
    (
        INVOICE,
        2,
        "overdue invoice|payment overdue|outstanding invoice|unpaid invoice|attached invoice|payment reminder|remittance advice|proforma invoice|statement of account|openstaande factuur|betalingsherinnering|aanmaning|laatste aanmaning|incassobureau|openstaand bedrag|achterstallige betaling|bijgevoegde factuur|deurwaarder|offene rechnung|zahlungserinnerung|mahnung|letzte mahnung|facture impayée|rappel de paiement|factura pendiente|recordatorio de pago",
    ),
    (
        INVOICE,
        1,
        "fatura|boleto|invoice|final notice|purchase order|past due|amount due|factuur|herinnering|uw factuur|betaalverzoek|vervaldatum|rechnung|fällige zahlung|facture|relance|factura",
    ),
    (
        PAYMENT,
        2,
        "urgent wire transfer|change of bank details|new bank details|updated bank details|itunes cards|google play cards|urgent payment|process a payment|dringend overmaken|nieuwe bankgegevens|gewijzigde bankgegevens|rekeningnummer is gewijzigd|spoedbetaling|dringende überweisung|neue bankverbindung|virement urgent|nouvelles coordonnées bancaires|changement de rib|transferencia urgente|nuevos datos bancarios",
    ),
    (
        PAYMENT,
        1,
        "wire transfer|banking details|iban|swift code|gift card|gift cards|are you available|overmaken|cadeaukaarten|ben je beschikbaar|bent u beschikbaar|überweisung|geschenkkarten|virement|transferencia bancaria",
    ),
    (
        DELIVERY,
        2,
        "customs fee|delivery failed|failed delivery|unable to deliver|redelivery|delivery attempt|schedule your delivery|pending delivery|bezorgpoging|kon niet worden bezorgd|douanekosten|nieuwe bezorgdatum|zollgebühr|zustellversuch|frais de douane|tentative de livraison|gastos de aduana",
    ),
    (
        DELIVERY,
        1,
        "parcel|package|delivery|shipment|tracking number|customs duty|shipping fee|could not be delivered|pakket|pakketje|bezorging|zending|niet bezorgd|invoerrechten|verzendkosten|track & trace|bezorgkosten|paket|zustellung|sendung|colis|livraison|paquete|envío|entrega",
    ),
    (
        ADVANCE_FEE,
        2,
        "next of kin|donation for you|diplomatic agent|donate the sum|fund release|release of your fund|atm visa card|your compensation|payment file|contact my secretary|lottery winner|winning notification|atm card|consignment box|deceased client|compensation fund|unclaimed funds|transfer of the sum|dormant account|my late husband|u heeft gewonnen|gewinnbenachrichtigung|reliable partner|allocated funds|business proposal|fund transfer|god bless|your late relative",
    ),
    (
        ADVANCE_FEE,
        1,
        "partnership|donation|donate|diplomatic|the sum of|cancer|legacy|widow|trustworthy|ambassador|united nations|compensation|inheritance|beneficiary|million dollars|million usd|lottery|you have won|diplomat|late client|barrister|kindly|foreign partner|humanitarian|erfenis|begunstigde|loterij|miljoen dollar|miljoen euro|erbschaft|lotterie|millionen dollar|héritage|bénéficiaire|loterie|millions de dollars|herencia|beneficiario|lotería|millones de dólares",
    ),
    (
        EXTORTION,
        2,
        "i hacked your|hacked your device|recorded you|pay in bitcoin|adult website|adult websites|send to all your contacts|i know your password|masturbating|compromising video|ik heb je apparaat gehackt|betaal in bitcoin|volwassen websites|erwachsenen-websites|j'ai piraté|sites pour adultes|he hackeado|sitios para adultos",
    ),
    (
        EXTORTION,
        1,
        "i have access to your|recorded a video|webcam|bitcoin wallet|btc wallet|48 hours|within 48 hours|porn|your contacts|trojan|remote access|spyware|gehackt|binnen 48 uur|je contacten|al je contacten|video opgenomen|in bitcoin|innerhalb von 48 stunden|en bitcoin|48 heures|48 horas",
    ),
    (
        CRYPTO,
        2,
        "investment returns|guaranteed returns|crypto profit|claim your airdrop|seed phrase|recovery phrase|connect your wallet|daily profit|gegarandeerd rendement|garantierte rendite|rendement garanti|rentabilidad garantizada",
    ),
    (
        CRYPTO,
        1,
        "airdrop|allocation program|ripple|xrp|wallet|trading platform|bitcoin|ethereum|usdt|passive income|double your|crypto|withdraw your funds|rendement|beleggen|investering|krypto|investissement|inversión",
    ),
    (
        RANSOM,
        2,
        "your files have been encrypted|files are encrypted|files have been encrypted|decryption key|decryptor|restore your files|.onion|uw bestanden zijn versleuteld|je bestanden zijn versleuteld|bestanden zijn versleuteld|losgeld|ihre dateien wurden verschlüsselt|dateien wurden verschlüsselt|lösegeld|vos fichiers ont été chiffrés|rançon|sus archivos han sido cifrados",
    ),
    (
        PRIZE,
        2,
        "you have been selected|claim your prize|claim your reward|you have won a|u bent geselecteerd|vous avez été sélectionné|ha sido seleccionado|sie wurden ausgewählt|chance einen",
    ),
    (
        PRIZE,
        1,
        "congratulations|reward|survey|free gift|winner|prize|gefeliciteerd|enquête|beloning|herzlichen glückwunsch|gutschein|verlosung|umfrage|gewinnspiel|gewinn|kostenlos|félicitations|cadeau|sondage|felicidades|premio|encuesta|parabéns|prêmio|pesquisa",
    ),
    (
        RANSOM,
        1,
        "decrypt|ransom|tor browser|recover your files|ontsleutelen|entschlüsseln|déchiffrer|rescate|descifrar",
    ),
];

struct Matcher {
    ac: AhoCorasick,
    /// Per pattern: (family, weight, phrase).
    meta: Vec<(usize, u32, &'static str)>,
}

static MATCHER: LazyLock<Option<Matcher>> = LazyLock::new(|| {
    let meta: Vec<(usize, u32, &'static str)> = PHRASES
        .iter()
        .flat_map(|&(family, weight, phrases)| phrases.split('|').map(move |p| (family, weight, p)))
        .collect();
    // A DFA, not the default NFA for this many phrases: it searches every body's text (the
    // NFA took about 46 instructions per byte, following failure links), and its tables are
    // built once per process.
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::DFA))
        .build(meta.iter().map(|(_, _, p)| p))
        .ok()?;
    Some(Matcher { ac, meta })
});

/// Scans `text` (visible text, already bounded) and records a `lure.<family>` finding at `at`
/// for each family whose distinct phrases reach its threshold.
pub(crate) fn scan(walk: &mut Walk<'_>, text: &str, at: &str) {
    let Some(m) = MATCHER.as_ref() else {
        return;
    };
    let lower = text.to_lowercase();
    let mut seen = vec![false; m.meta.len()];
    let mut hits: Vec<Vec<&'static str>> = vec![Vec::new(); FAMILIES.len()];
    let mut scores = [0u32; FAMILIES.len()];
    for hit in m.ac.find_iter(&lower) {
        let id = hit.pattern().as_usize();
        let Some(&(family, weight, phrase)) = m.meta.get(id) else {
            continue;
        };
        if seen.get(id).copied().unwrap_or(true)
            || !at_word_boundary(&lower, hit.start(), hit.end(), phrase)
        {
            continue;
        }
        if let Some(s) = seen.get_mut(id) {
            *s = true;
        }
        if let (Some(score), Some(list)) = (scores.get_mut(family), hits.get_mut(family)) {
            *score += weight;
            list.push(phrase);
        }
    }
    for (i, &(signal, threshold)) in FAMILIES.iter().enumerate() {
        let (Some(&score), Some(list)) = (scores.get(i), hits.get(i)) else {
            continue;
        };
        if score >= threshold {
            let detail: Vec<&str> = list.iter().copied().take(MAX_DETAIL_PHRASES).collect();
            walk.finding(signal, at, detail.join(", "));
        }
    }
}

/// The match is a whole phrase: no letter or digit glued on either side (`iban` in
/// `caribbean` is not IBAN). A phrase starting or ending with punctuation (`.onion`) needs no
/// boundary on that side.
fn at_word_boundary(text: &str, start: usize, end: usize, phrase: &str) -> bool {
    let word = |c: char| c.is_alphanumeric();
    let before_ok = !phrase.starts_with(word)
        || text
            .get(..start)
            .and_then(|s| s.chars().next_back())
            .is_none_or(|c| !word(c));
    let after_ok = !phrase.ends_with(word)
        || text
            .get(end..)
            .and_then(|s| s.chars().next())
            .is_none_or(|c| !word(c));
    before_ok && after_ok
}
