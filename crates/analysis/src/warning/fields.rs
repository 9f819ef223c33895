//! A strict reader for one `[[rule]]` table: typed fields, defaults, and errors that name the
//! rule id and the field. Any key left unread at the end is refused (deny-unknown-fields), so
//! a typo such as `min_mesages` is an error instead of a silently ignored threshold.

use super::rules::RulesError;
use model::VerdictClass;
use toml::Value;

/// Reads the fields of one rule table, removing each one as it is read.
#[derive(Debug)]
pub struct Fields {
    id: String,
    table: toml::Table,
}

impl Fields {
    pub fn new(id: &str, table: toml::Table) -> Fields {
        Fields {
            id: id.to_string(),
            table,
        }
    }

    /// An error about `field` of this rule.
    pub fn error(&self, field: &str, message: impl Into<String>) -> RulesError {
        RulesError::Field {
            id: self.id.clone(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn wrong_type(&self, field: &str, expected: &str, got: &Value) -> RulesError {
        self.error(
            field,
            format!("expected {expected}, found {}", got.type_str()),
        )
    }

    pub fn string(&mut self, field: &str) -> Result<Option<String>, RulesError> {
        match self.table.remove(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(field, "a string", &other)),
        }
    }

    pub fn required_string(&mut self, field: &str) -> Result<String, RulesError> {
        self.string(field)?
            .ok_or_else(|| self.error(field, "missing (required)"))
    }

    pub fn bool(&mut self, field: &str, default: bool) -> Result<bool, RulesError> {
        match self.table.remove(field) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(b),
            Some(other) => Err(self.wrong_type(field, "true or false", &other)),
        }
    }

    pub fn count(&mut self, field: &str, default: u64) -> Result<u64, RulesError> {
        match self.table.remove(field) {
            None => Ok(default),
            Some(Value::Integer(n)) => {
                u64::try_from(n).map_err(|_| self.error(field, format!("{n} is negative")))
            }
            Some(other) => Err(self.wrong_type(field, "a whole number", &other)),
        }
    }

    /// A number; integers are accepted too (`factor = 5`).
    pub fn number(&mut self, field: &str) -> Result<Option<f64>, RulesError> {
        match self.table.remove(field) {
            None => Ok(None),
            Some(Value::Float(f)) => Ok(Some(f)),
            #[allow(clippy::cast_precision_loss)] // rule-file numbers are small
            Some(Value::Integer(n)) => Ok(Some(n as f64)),
            Some(other) => Err(self.wrong_type(field, "a number", &other)),
        }
    }

    pub fn strings(&mut self, field: &str) -> Result<Vec<String>, RulesError> {
        match self.table.remove(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(self.wrong_type(field, "a list of strings", &other)),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(field, "a list of strings", &other)),
        }
    }

    pub fn classes(&mut self, field: &str) -> Result<Vec<VerdictClass>, RulesError> {
        let names = self.strings(field)?;
        names
            .iter()
            .map(|name| {
                VerdictClass::ALL
                    .into_iter()
                    .find(|c| c.as_str() == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            VerdictClass::ALL.iter().map(|c| c.as_str()).collect();
                        self.error(
                            field,
                            format!("unknown class `{name}` (known: {})", known.join(", ")),
                        )
                    })
            })
            .collect()
    }

    pub fn duration(&mut self, field: &str) -> Result<time::Duration, RulesError> {
        let text = self.required_string(field)?;
        super::duration::parse_duration(&text).map_err(|e| self.error(field, e))
    }

    /// Refuses whatever was not read: `allowed` is listed in the message.
    pub fn finish(self, allowed: &[&str]) -> Result<(), RulesError> {
        match self.table.keys().next() {
            None => Ok(()),
            Some(key) => Err(self.error(
                key,
                format!("unknown field (allowed: {})", allowed.join(", ")),
            )),
        }
    }
}
