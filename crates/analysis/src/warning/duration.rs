//! Durations in rule files, written like `"90s"`, `"15m"`, `"1h"`, `"2d"`.

/// The longest window a rule may name. A year is far beyond any early-warning use; the bound
/// keeps the arithmetic far away from overflow.
pub const MAX_DURATION: time::Duration = time::Duration::days(366);

/// Parses `<digits><unit>` with unit `s`, `m`, `h` or `d`; zero and anything above
/// [`MAX_DURATION`] are refused (a zero window would make a rule never fire, silently).
pub fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit (use s, m, h or d, e.g. \"15m\")"))?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number (e.g. \"15m\")"))?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use s, m, h or d)"
            ));
        }
    };
    let d = n
        .checked_mul(seconds_per_unit)
        .map(time::Duration::seconds)
        .filter(|d| *d <= MAX_DURATION)
        .ok_or_else(|| format!("`{text}` is longer than the maximum of 366d"))?;
    if d.is_zero() {
        return Err(format!("`{text}` is zero"));
    }
    Ok(d)
}

/// Human form of an elapsed time for titles: `40 s`, `4 min`, `3 h`, `2 d`.
pub fn human(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    if s < 60 {
        format!("{s} s")
    } else if s < 2 * 3_600 {
        format!("{} min", s / 60)
    } else if s < 2 * 86_400 {
        format!("{} h", s / 3_600)
    } else {
        format!("{} d", s / 86_400)
    }
}
