//! The bait pages: a staff directory, a contact page or a team page of the pretend
//! organisation, chosen from the request path, each showing four trap addresses in the forms
//! harvesters read and linking to more pages of the same kind.
//!
//! Everything on a page is derived from a hash of the path and from our own word lists: no
//! byte of the request is ever written back, so there is nothing to escape wrongly. The same
//! path always gives the same page (only the addresses differ per visit), so a crawler that
//! comes back sees a site that holds still.

use super::throttle::Issued;
use askama::Template;
use model::BaitForm;

/// Links to other bait pages on each page, besides the fixed navigation. Enough for a crawler
/// to keep going; few enough that one page view is cheap.
pub const MORE_LINKS: usize = 5;

/// The three kinds of page, by the first path segment they use.
const KINDS: [Kind; 3] = [Kind::Directory, Kind::Contact, Kind::Team];

/// Departments and offices a page is about.
const SECTIONS: &[&str] = &[
    "logistics",
    "sales",
    "customer-service",
    "finance",
    "human-resources",
    "procurement",
    "operations",
    "systems",
    "legal",
    "marketing",
    "warehousing",
    "freight",
    "rotterdam",
    "hamburg",
    "antwerp",
    "lyon",
    "milan",
    "gdansk",
    "leeds",
    "porto",
];

const SURNAMES: &[&str] = &[
    "Keller", "Jansen", "Moreau", "Novak", "Bianchi", "Fischer", "Visser", "Dubois", "Kowalski",
    "Costa", "Berg", "Laurent", "Schmidt", "Peeters", "Rossi", "Walsh", "Hoffmann", "Nilsson",
    "Ferreira", "Baker",
];

const ROLES: &[&str] = &[
    "Account manager",
    "Team lead",
    "Coordinator",
    "Senior analyst",
    "Office manager",
    "Dispatcher",
    "Sales representative",
    "Controller",
    "Customer advisor",
    "Planner",
    "Head of department",
    "Assistant",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    Contact,
    Team,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Kind::Directory => "directory",
            Kind::Contact => "contact",
            Kind::Team => "team",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Directory => "Staff directory",
            Kind::Contact => "Contact us",
            Kind::Team => "Meet the team",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Kind::Directory => {
                "Find the right person to talk to. Our staff are happy to help with \
                 quotes, bookings and questions about your shipments."
            }
            Kind::Contact => {
                "Questions about an order, an invoice or a delivery? Write to the \
                 colleague responsible below; we answer within one working day."
            }
            Kind::Team => {
                "The people behind our service: experienced, reachable and glad to \
                 hear from you."
            }
        }
    }
}

/// What one path shows, apart from the addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    kind: Kind,
    section: &'static str,
    hash: u64,
}

impl Plan {
    /// The page for `path` (the request target as received; any bytes).
    pub fn of(path: &str) -> Plan {
        let hash = fnv1a(path.as_bytes());
        // Our own links read `/kind/section`: such a page is what its link promised.
        let route = path.split('?').next().unwrap_or("");
        let mut segments = route.trim_start_matches('/').split('/');
        let (first, second) = (segments.next(), segments.next());
        let kind = KINDS
            .into_iter()
            .find(|k| Some(k.segment()) == first)
            .unwrap_or(KINDS[(hash % KINDS.len() as u64) as usize]);
        let section = SECTIONS
            .iter()
            .find(|s| Some(**s) == second)
            .copied()
            .unwrap_or(SECTIONS[((hash >> 8) % SECTIONS.len() as u64) as usize]);
        Plan {
            kind,
            section,
            hash,
        }
    }

    /// The page's name, stored as the label of the seeds it shows (`directory/logistics`).
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind.segment(), self.section)
    }

    fn pick<'a>(&self, list: &[&'a str], salt: u64) -> &'a str {
        let h = fnv1a(&(self.hash ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
        list[(h % list.len() as u64) as usize]
    }

    /// Paths of [`MORE_LINKS`] other bait pages.
    fn more(&self) -> Vec<Link> {
        (0..MORE_LINKS as u64)
            .map(|i| {
                let kind = KINDS[(fnv1a(&(self.hash ^ i).to_le_bytes()) % 3) as usize];
                let section = self.pick(SECTIONS, 100 + i);
                Link {
                    href: format!("/{}/{section}", kind.segment()),
                    text: format!("{} · {}", kind.title(), title_case(section)),
                }
            })
            .collect()
    }
}

/// What a page shows where the addresses go.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    Addresses(&'a Issued),
    /// Nothing to show (nothing issued yet, or no domain): people without addresses.
    Nobody,
    /// The store failed: a "temporarily unavailable" page.
    Unavailable,
}

/// How one address is written.
#[derive(Debug)]
enum Contact {
    Mailto(String),
    Text(String),
    Obfuscated(String),
    /// Already HTML: numeric character references of an address, nothing else.
    Entities(String),
    None,
}

#[derive(Debug)]
struct Entry {
    name: String,
    role: &'static str,
    phone: String,
    contact: Contact,
}

#[derive(Debug)]
struct Link {
    href: String,
    text: String,
}

#[derive(Template)]
#[template(path = "bait/page.html")]
struct PageHtml<'a> {
    site: &'a str,
    kind: &'static str,
    title: String,
    intro: &'static str,
    entries: Vec<Entry>,
    nav: Vec<Link>,
    more: Vec<Link>,
    unavailable: bool,
    year: i32,
}

/// The page's HTML.
pub fn render(site: &str, plan: &Plan, shown: Shown<'_>, year: i32) -> askama::Result<String> {
    let entries = match shown {
        Shown::Addresses(issued) => entries(plan, Some(issued)),
        Shown::Nobody => entries(plan, None),
        Shown::Unavailable => Vec::new(),
    };
    let nav = KINDS
        .iter()
        .map(|k| Link {
            href: format!("/{}", k.segment()),
            text: k.title().to_string(),
        })
        .collect();
    PageHtml {
        site,
        kind: plan.kind.segment(),
        title: format!("{} · {}", plan.kind.title(), title_case(plan.section)),
        intro: plan.kind.intro(),
        entries,
        nav,
        more: plan.more(),
        unavailable: matches!(shown, Shown::Unavailable),
        year,
    }
    .render()
}

/// One person per form; the first name is the one in the address, so the address looks like
/// theirs. The forms' order turns with the path.
fn entries(plan: &Plan, issued: Option<&Issued>) -> Vec<Entry> {
    let n = BaitForm::ALL.len();
    (0..n)
        .map(|i| {
            let slot = (i + (plan.hash % n as u64) as usize) % n;
            let form = BaitForm::ALL[slot];
            let address = issued.map(|a| a[slot].as_str());
            let first = address
                .and_then(|a| a.split(['.', '@']).next())
                .map(title_case)
                .unwrap_or_else(|| {
                    title_case(plan.pick(&["anna", "mark", "ines", "tim"], i as u64))
                });
            Entry {
                name: format!("{first} {}", plan.pick(SURNAMES, 10 + i as u64)),
                role: plan.pick(ROLES, 20 + i as u64),
                phone: format!(
                    "+44 113 496 0{:03}",
                    fnv1a(&(plan.hash ^ (30 + i as u64)).to_le_bytes()) % 1000
                ),
                contact: address.map_or(Contact::None, |a| contact(form, a)),
            }
        })
        .collect()
}

fn contact(form: BaitForm, address: &str) -> Contact {
    match form {
        BaitForm::Mailto => Contact::Mailto(address.to_string()),
        BaitForm::Text => Contact::Text(address.to_string()),
        BaitForm::Obfuscated => Contact::Obfuscated(obfuscate(address)),
        BaitForm::Entities => Contact::Entities(entities(address)),
    }
}

/// `anna [dot] k3x9q2m7wd1a [at] trap [dot] example`.
pub fn obfuscate(address: &str) -> String {
    address.replace('@', " [at] ").replace('.', " [dot] ")
}

/// Every character as a decimal character reference: `&#97;&#110;…`.
pub fn entities(address: &str) -> String {
    address
        .chars()
        .map(|c| format!("&#{};", c as u32))
        .collect()
}

/// `customer-service` → `Customer service`.
fn title_case(slug: &str) -> String {
    let words = slug.replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// FNV-1a: stable across builds and platforms (std's hasher is not promised to be), so a path
/// keeps its page across restarts and upgrades.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn issued() -> Issued {
        Arc::new(BaitForm::ALL.map(|f| format!("anna.{}00000000@trap.example", &f.as_str()[..4])))
    }

    #[test]
    fn a_path_always_gives_the_same_page() {
        for path in ["/", "/team/x", "/../../etc/passwd", "/%00", "/?q=<script>"] {
            assert_eq!(Plan::of(path), Plan::of(path));
            let a = render("Acme", &Plan::of(path), Shown::Nobody, 2026).expect("render");
            let b = render("Acme", &Plan::of(path), Shown::Nobody, 2026).expect("render");
            assert_eq!(a, b);
            assert!(!a.contains("script>"), "{a}");
        }
        assert_eq!(Plan::of("/contact/anything").kind, Kind::Contact);
        assert_eq!(Plan::of("/team/sales?x=1").label(), "team/sales");
        assert_eq!(Plan::of("/team").label().split('/').next(), Some("team"));
    }

    #[test]
    fn every_form_is_written_its_own_way() {
        let issued = issued();
        let html = render(
            "Acme",
            &Plan::of("/directory"),
            Shown::Addresses(&issued),
            2026,
        )
        .expect("render");
        assert!(html.contains("href=\"mailto:anna.mail00000000@trap.example\""));
        assert!(html.contains(">anna.text00000000@trap.example<"));
        assert!(html.contains("anna [dot] obfu00000000 [at] trap [dot] example"));
        assert!(html.contains(&entities("anna.enti00000000@trap.example")));
        assert!(html.contains("<meta name=\"robots\" content=\"noindex,nofollow\">"));
        // The navigation and the links to more pages (the brand link has a class first).
        assert_eq!(
            html.matches("<a href=\"/").count(),
            KINDS.len() + MORE_LINKS
        );
    }

    #[test]
    fn the_site_name_is_escaped() {
        let html =
            render("<b>Acme & Co</b>", &Plan::of("/"), Shown::Unavailable, 2026).expect("render");
        assert!(
            html.contains("&#60;b&#62;Acme &#38; Co&#60;/b&#62;") || html.contains("&lt;b&gt;")
        );
        assert!(!html.contains("<b>Acme"));
    }

    #[test]
    fn the_unavailable_page_shows_nobody() {
        let html = render("Acme", &Plan::of("/team"), Shown::Unavailable, 2026).expect("render");
        assert!(html.contains("temporarily unavailable"));
        assert!(!html.contains('@') && !html.contains("[at]") && !html.contains("&#64;"));
        assert!(!html.contains("class=\"card\""));
    }
}
