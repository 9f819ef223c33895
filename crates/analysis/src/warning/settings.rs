//! Reading each rule kind's own settings, with defaults and the checks that refuse rules
//! that could never fire or would fire on everything.

use super::fields::Fields;
use super::rules::{
    Brand, MAX_BASELINE_HOURS, MAX_BRAND_CHARS, MAX_SPIKE_FACTOR, NewCampaign, Novel, RulesError,
    Scope, Spike, Watch, YaraMatch,
};

pub(super) fn new_campaign(f: &mut Fields) -> Result<NewCampaign, RulesError> {
    let classes = f.classes("classes")?;
    if classes.is_empty() {
        return Err(f.error("classes", "missing or empty (name the verdicts to watch)"));
    }
    let min_messages = f.count("min_messages", 3)?;
    let min_sources = f.count("min_sources", 0)?;
    if min_messages == 0 && min_sources == 0 {
        return Err(f.error(
            "min_messages",
            "min_messages and min_sources are both 0: the rule could never be reached",
        ));
    }
    let within = f.duration("within")?;
    Ok(NewCampaign {
        classes,
        min_messages,
        min_sources,
        within,
    })
}

pub(super) fn novel(f: &mut Fields) -> Result<Novel, RulesError> {
    let facets = f.strings("facets")?;
    if facets.is_empty() {
        return Err(f.error("facets", "missing or empty"));
    }
    if let Some(bad) = facets
        .iter()
        .find(|x| x.is_empty() || !x.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        return Err(f.error(
            "facets",
            format!("`{bad}` is not a facet name (e.g. attachment_kind, lure)"),
        ));
    }
    Ok(Novel {
        facets,
        classes: f.classes("classes")?,
    })
}

pub(super) fn yara(f: &mut Fields) -> Result<YaraMatch, RulesError> {
    if !f.strings("tags")?.is_empty() {
        // Accepting it would be a rule that silently never fires.
        return Err(f.error(
            "tags",
            "YARA tags are not carried in the campaign features yet; match rule names with \
             `rules` or use `families = true`",
        ));
    }
    let rules = f.strings("rules")?;
    let families = f.bool("families", false)?;
    if rules.is_empty() && !families {
        return Err(f.error(
            "rules",
            "give rule globs in `rules` or set `families = true`",
        ));
    }
    Ok(YaraMatch {
        rules,
        families,
        classes: f.classes("classes")?,
    })
}

pub(super) fn spike(f: &mut Fields) -> Result<Spike, RulesError> {
    let scope = match f.required_string("scope")?.as_str() {
        "campaign" => Scope::Campaign,
        "trap" => Scope::Trap,
        other => {
            return Err(f.error(
                "scope",
                format!("unknown `{other}` (use \"campaign\" or \"trap\")"),
            ));
        }
    };
    let factor = f
        .number("factor")?
        .ok_or_else(|| f.error("factor", "missing (required)"))?;
    if !(1.0..=MAX_SPIKE_FACTOR).contains(&factor) {
        return Err(f.error(
            "factor",
            format!("{factor} is outside 1..={MAX_SPIKE_FACTOR} (below 1, steady traffic fires)"),
        ));
    }
    let min_messages = f.count("min_messages", 1)?;
    if min_messages == 0 {
        return Err(f.error("min_messages", "must be at least 1"));
    }
    let baseline_hours = f.count("baseline_hours", 24)?;
    if !(1..=MAX_BASELINE_HOURS).contains(&baseline_hours) {
        return Err(f.error(
            "baseline_hours",
            format!("{baseline_hours} is outside 1..={MAX_BASELINE_HOURS}"),
        ));
    }
    Ok(Spike {
        scope,
        factor,
        min_messages,
        baseline_hours,
    })
}

pub(super) fn watch(f: &mut Fields) -> Result<Watch, RulesError> {
    let mut brands = Vec::new();
    for name in f.strings("brands")? {
        let lower = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if lower.is_empty() || lower.chars().count() > MAX_BRAND_CHARS {
            return Err(f.error(
                "brands",
                format!("`{name}` must be 1-{MAX_BRAND_CHARS} characters"),
            ));
        }
        let mut spellings = vec![lower.clone()];
        if lower.contains(' ') {
            spellings.push(lower.replace(' ', ""));
            spellings.push(lower.replace(' ', "-"));
        }
        brands.push(Brand { name, spellings });
    }
    let mut domains = Vec::new();
    for d in f.strings("domains")? {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        let ok = !d.is_empty()
            && d.contains('.')
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(f.error(
                "domains",
                format!("`{d}` is not a domain name (ASCII, punycode for IDNs, e.g. ing.nl)"),
            ));
        }
        domains.push(d);
    }
    if brands.is_empty() && domains.is_empty() {
        return Err(f.error("brands", "give `brands` and/or `domains`"));
    }
    Ok(Watch {
        brands,
        domains,
        classes: f.classes("classes")?,
    })
}
