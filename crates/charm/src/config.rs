//! Charm configuration (`config-get --format=json --all`) with typed getters.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A config option with a value of the wrong type, or missing where required.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config option {key:?} should be {expected}, got {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error("config option {0:?} is not set")]
    Missing(String),
}

/// The charm's config values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config(Map<String, Value>);

impl Config {
    pub fn new(values: Map<String, Value>) -> Self {
        Self(values)
    }

    /// The raw value (`None` when the option is unset or has no default).
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn values(&self) -> &Map<String, Value> {
        &self.0
    }

    fn wrong(key: &str, expected: &'static str, v: &Value) -> ConfigError {
        ConfigError::WrongType {
            key: key.to_string(),
            expected,
            found: v.to_string(),
        }
    }

    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            // Values set through some clients arrive as strings.
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(v) => Err(Self::wrong(key, "a boolean", v)),
        }
    }

    pub fn get_int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| Self::wrong(key, "an integer", &Value::Number(n.clone()))),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| Self::wrong(key, "an integer", &Value::String(s.clone()))),
            Some(v) => Err(Self::wrong(key, "an integer", v)),
        }
    }

    pub fn get_float(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(v) => Err(Self::wrong(key, "a number", v)),
        }
    }

    pub fn get_string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Self::wrong(key, "a string", v)),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        Ok(self.get_bool(key)?.unwrap_or(default))
    }

    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, ConfigError> {
        Ok(self.get_int(key)?.unwrap_or(default))
    }

    pub fn string_or(&self, key: &str, default: &str) -> Result<String, ConfigError> {
        Ok(self.get_string(key)?.unwrap_or_else(|| default.to_string()))
    }

    /// Any deserialisable value; `Missing` when unset.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        let v = self
            .raw(key)
            .ok_or_else(|| ConfigError::Missing(key.to_string()))?;
        serde_json::from_value(v.clone())
            .map_err(|_| Self::wrong(key, std::any::type_name::<T>(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters() {
        let c = Config::new(
            serde_json::json!({"b": true, "i": 100, "s": "x", "f": 1.5, "n": null, "bs": "false"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(c.get_bool("b"), Ok(Some(true)));
        assert_eq!(c.get_bool("bs"), Ok(Some(false)));
        assert_eq!(c.get_int("i"), Ok(Some(100)));
        assert_eq!(c.get_string("s"), Ok(Some("x".into())));
        assert_eq!(c.get_float("f"), Ok(Some(1.5)));
        assert_eq!(c.get_string("n"), Ok(None));
        assert_eq!(c.bool_or("missing", true), Ok(true));
        assert_eq!(c.int_or("n", 7), Ok(7));
        let err = c.get_bool("s").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config option \"s\" should be a boolean, got \"x\""
        );
        assert!(c.get_int("f").is_err());
        assert_eq!(c.get::<u16>("i"), Ok(100));
        assert_eq!(c.get::<u16>("zz"), Err(ConfigError::Missing("zz".into())));
    }
}
