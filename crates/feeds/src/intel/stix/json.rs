//! Writing STIX objects as JSON text directly: an export writes millions of objects, and
//! building a `serde_json::Value` tree for each (a map, a `String` per key) cost more than
//! everything else in the export together (allocation was 40% of a profile). The output is
//! byte-for-byte what serde_json writes for the same properties in the same order: strings are
//! escaped by serde_json itself whenever they hold anything that needs escaping.

use serde_json::Value;

/// A JSON object's properties, in order, written as text. The buffer starts with the `{`,
/// so [`Props::object`] only closes it.
#[derive(Debug, Clone)]
pub struct Props {
    buf: String,
}

impl Default for Props {
    fn default() -> Self {
        Props::new()
    }
}

impl Props {
    pub fn new() -> Props {
        Props::with_capacity(768)
    }

    /// With room for `n` bytes of text (a whole STIX object is 300 to 1,000).
    pub fn with_capacity(n: usize) -> Props {
        let mut buf = String::with_capacity(n);
        buf.push('{');
        Props { buf }
    }

    /// Keys are our own constants (STIX property names): written as they are, after a
    /// debug check that they need no escaping.
    fn key(&mut self, k: &str) {
        debug_assert!(plain(k), "key {k:?} needs escaping");
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        self.buf.push('"');
        self.buf.push_str(k);
        self.buf.push_str("\":");
    }

    /// A value we made that cannot need escaping (an id, a timestamp, a vocabulary term):
    /// written without looking at it. A debug check guards the promise.
    pub fn plain(mut self, k: &str, v: &str) -> Props {
        debug_assert!(plain(v), "value {v:?} needs escaping");
        self.key(k);
        self.buf.push('"');
        self.buf.push_str(v);
        self.buf.push('"');
        self
    }

    pub fn str(mut self, k: &str, v: &str) -> Props {
        self.key(k);
        escape_into(&mut self.buf, v);
        self
    }

    pub fn num(mut self, k: &str, v: u64) -> Props {
        self.key(k);
        self.buf.push_str(itoa(v).as_str());
        self
    }

    pub fn bool(mut self, k: &str, v: bool) -> Props {
        self.key(k);
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    pub fn strs(mut self, k: &str, vs: &[&str]) -> Props {
        self.key(k);
        self.buf.push('[');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            escape_into(&mut self.buf, v);
        }
        self.buf.push(']');
        self
    }

    /// A property whose value is JSON text already (a nested object).
    pub fn raw(mut self, k: &str, json: &str) -> Props {
        self.key(k);
        self.buf.push_str(json);
        self
    }

    /// Every property of a JSON object value, in its order (cold paths keep `json!`).
    pub fn value(mut self, v: &Value) -> Props {
        if let Value::Object(m) = v {
            for (k, v) in m {
                self.key(k);
                self.buf.push_str(&v.to_string());
            }
        }
        self
    }

    /// Appends `other`'s properties after these.
    pub fn extend(mut self, other: Props) -> Props {
        let rest = &other.buf[1..];
        if !rest.is_empty() {
            if self.buf.len() > 1 {
                self.buf.push(',');
            }
            self.buf.push_str(rest);
        }
        self
    }

    /// The object: `{...}`.
    pub fn object(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

fn itoa(v: u64) -> String {
    v.to_string()
}

/// Appends `s` as a JSON string. The plain case (no quote, backslash or control character)
/// is copied; anything else goes through serde_json, so the escaping is serde_json's. (Keys
/// are written in the order given, as serde_json's `preserve_order` would.)
pub fn escape_into(buf: &mut String, s: &str) {
    if plain(s) {
        buf.push('"');
        buf.push_str(s);
        buf.push('"');
    } else {
        match serde_json::to_string(s) {
            Ok(q) => buf.push_str(&q),
            // Serialising a str cannot fail; an empty string keeps the JSON valid regardless.
            Err(_) => buf.push_str("\"\""),
        }
    }
}

/// No quote, backslash or control character: the JSON string is the text in quotes.
fn plain(s: &str) -> bool {
    // No early exit: a branch-free fold over the bytes vectorises.
    !s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_is_what_serde_json_writes() {
        let hostile = "a\"b\\c\nd\u{1}é\u{202e}";
        let ours = Props::new()
            .str("type", "url")
            .str("value", hostile)
            .num("n", 42)
            .bool("f", true)
            .strs("refs", &["x", hostile])
            .raw("o", "{\"k\":1}")
            .object();
        let theirs = json!({
            "type": "url", "value": hostile, "n": 42, "f": true,
            "refs": ["x", hostile], "o": {"k": 1},
        })
        .to_string();
        // Key order of `theirs` depends on serde_json's `preserve_order` feature in the
        // build; compare the values, and our order separately.
        let v: Value = serde_json::from_str(&ours).expect("valid JSON");
        assert_eq!(v, serde_json::from_str::<Value>(&theirs).expect("JSON"));
        assert_eq!(v["value"], hostile);
        assert!(
            ours.starts_with(r#"{"type":"url","value":"a\"b\\c\nd\u0001"#),
            "{ours}"
        );
    }

    #[test]
    fn values_and_extensions_keep_their_order() {
        let a = Props::new().str("a", "1");
        let b = Props::new().value(&json!({"b": 2, "c": [3]}));
        assert_eq!(a.extend(b).object(), r#"{"a":"1","b":2,"c":[3]}"#);
        assert_eq!(Props::new().extend(Props::new()).object(), "{}");
    }
}
