//! Human time spans as scenario files and the CLI write them (`250ms`, `20s`, `2m`, `1h`,
//! `1m30s`), and back again for reports.

use std::time::Duration;

/// Reads a span such as `500ms`, `20s`, `2m`, `1m30s` or `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty time span; expected e.g. \"20s\", \"500ms\" or \"2m\"".into());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("\"{text}\" has a number without a unit (ms, s, m, h)"))?;
        if digits == 0 {
            return Err(format!(
                "\"{text}\" is not a time span; expected e.g. \"20s\", \"500ms\" or \"2m\""
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("\"{}\" in \"{text}\" is not a number", &rest[..digits]))?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = &after[..unit_len];
        let seconds_per_unit = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(format!(
                    "unknown unit \"{unit}\" in \"{text}\"; expected ms, s, m or h"
                ));
            }
        };
        total += Duration::from_secs_f64(number * seconds_per_unit);
        rest = &after[unit_len..];
    }
    Ok(total)
}

/// Writes a span the way [`parse_duration`] reads it, in the largest unit that is exact.
pub fn format_duration(span: Duration) -> String {
    let millis = span.as_millis();
    if millis == 0 {
        "0s".into()
    } else if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// A latency in microseconds as a person reads it: `850µs`, `12.3ms`, `2.10s`.
pub fn format_micros(micros: f64) -> String {
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1_000_000.0 {
        format!("{:.1}ms", micros / 1000.0)
    } else {
        format!("{:.2}s", micros / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_spans() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn refuses_nonsense_with_a_reason() {
        assert!(parse_duration("").is_err());
        assert!(
            parse_duration("abc")
                .unwrap_err()
                .contains("not a time span")
        );
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(20)), "20s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_micros(850.0), "850µs");
        assert_eq!(format_micros(12_345.0), "12.3ms");
    }
}
