//! Just enough JSON to write the benchmark's results: values built in code, printed with
//! indentation so that a diff of two runs is readable. (The workshop has no serde; this is
//! forty lines.)

use std::fmt::Write;

pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Json>),
    /// Keys in the order given, so the file reads in the same order as the table.
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn object(pairs: Vec<(&str, Json)>) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn text(value: impl Into<String>) -> Json {
        Json::Text(value.into())
    }

    /// A number rounded to `decimals`; `None` (a ratio to nothing) becomes null.
    pub fn rounded(value: Option<f64>, decimals: i32) -> Json {
        match value {
            Some(v) if v.is_finite() => {
                let factor = 10f64.powi(decimals);
                Json::Number((v * factor).round() / factor)
            }
            _ => Json::Null,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Text(s) => quote(out, s),
            Json::List(items) if items.is_empty() => out.push_str("[]"),
            Json::List(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Object(pairs) if pairs.is_empty() => out.push_str("{}"),
            Json::Object(pairs) => {
                out.push_str("{\n");
                for (i, (key, value)) in pairs.iter().enumerate() {
                    indent(out, depth + 1);
                    quote(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < pairs.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn quote(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_json() {
        let value = Json::object(vec![
            ("name", Json::text("ch05 \"bridge\"\n")),
            ("median_ms", Json::rounded(Some(2.34567), 3)),
            ("ratio", Json::rounded(None, 2)),
            ("ok", Json::Bool(true)),
            (
                "runs",
                Json::List(vec![Json::Number(1.0), Json::Number(2.5)]),
            ),
            ("empty", Json::List(vec![])),
        ]);
        let text = value.render();
        assert!(text.contains(r#""name": "ch05 \"bridge\"\n""#), "{text}");
        assert!(text.contains(r#""median_ms": 2.346"#), "{text}");
        assert!(text.contains(r#""ratio": null"#), "{text}");
        assert!(text.contains(r#""ok": true"#), "{text}");
        assert!(text.contains("\"runs\": [\n    1,\n    2.5\n  ]"), "{text}");
        assert!(text.contains(r#""empty": []"#), "{text}");
    }
}
