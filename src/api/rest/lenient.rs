//! Deserializers as lenient as the old clients were: numbers may come as strings
//! ("720"), and empty strings or null mean "not given".

use serde::{Deserialize, Deserializer, de::Error as _};

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Number(serde_json::Number),
    Text(String),
    Null(()),
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Raw::deserialize(d)
        .map_err(|_| D::Error::custom("must be a number (or a string holding one)"))?
    {
        Raw::Number(n) => Ok(n.as_f64()),
        Raw::Null(()) => Ok(None),
        Raw::Text(t) if t.trim().is_empty() => Ok(None),
        Raw::Text(t) => t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("'{t}' is not a number"))),
    }
}

/// A whole number in `0..=max`, from a number or a numeric string.
fn whole<'de, D: Deserializer<'de>>(d: D, max: f64) -> Result<Option<u64>, D::Error> {
    match number(d)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (0.0..=max).contains(&v) => Ok(Some(v as u64)),
        Some(v) => Err(D::Error::custom(format!(
            "must be a whole number from 0 to {max}, got {v}"
        ))),
    }
}

pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    number(d)
}

pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(whole(d, u32::MAX as f64)?.map(|v| v as u32))
}

pub fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match number(d)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (i32::MIN as f64..=i32::MAX as f64).contains(&v) => {
            Ok(Some(v as i32))
        }
        Some(v) => Err(D::Error::custom(format!("must be a whole number, got {v}"))),
    }
}

/// A string; empty, blank or null is None. Numbers are taken as their text.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Raw::deserialize(d).map_err(|_| D::Error::custom("must be a string"))? {
        Raw::Text(t) if t.trim().is_empty() => Ok(None),
        Raw::Text(t) => Ok(Some(t)),
        Raw::Number(n) => Ok(Some(n.to_string())),
        Raw::Null(()) => Ok(None),
    }
}

/// A list; null is empty.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(default, deserialize_with = "opt_u32")]
        n: Option<u32>,
        #[serde(default, deserialize_with = "opt_string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "opt_f64")]
        f: Option<f64>,
    }

    fn parse(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_may_be_strings_and_empty_means_absent() {
        let t = parse(r#"{"n": "720", "s": "", "f": "0.3"}"#).unwrap();
        assert_eq!((t.n, t.s, t.f), (Some(720), None, Some(0.3)));
        let t = parse(r#"{"n": 480, "s": "x", "f": 2}"#).unwrap();
        assert_eq!(
            (t.n, t.s.as_deref(), t.f),
            (Some(480), Some("x"), Some(2.0))
        );
        let t = parse(r#"{"n": "", "s": null}"#).unwrap();
        assert_eq!((t.n, t.s), (None, None));
        assert!(parse(r#"{"n": "wide"}"#).is_err());
        assert!(parse(r#"{"n": -1}"#).is_err());
        assert!(parse(r#"{"n": 1.5}"#).is_err());
        assert!(parse(r#"{"n": [1]}"#).is_err());
    }
}
