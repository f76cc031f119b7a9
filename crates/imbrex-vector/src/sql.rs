//! Building SQL safely: identifiers are always quoted, values always bound as parameters.

use tokio_postgres::types::ToSql;

/// A quoted identifier: `"name"`, with embedded quotes doubled. Names come from the
/// catalog, never from the request, but quoting keeps mixed case and odd names working.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Parameters of a statement being built; `push` returns the placeholder (`$3`).
#[derive(Default)]
pub struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    pub fn push(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        assert_eq!(ident("MixPoints"), "\"MixPoints\"");
        assert_eq!(ident("a\"; DROP TABLE x; --"), "\"a\"\"; DROP TABLE x; --\"");
    }

    #[test]
    fn placeholders_count_up() {
        let mut p = Params::default();
        assert_eq!(p.push(1i32), "$1");
        assert_eq!(p.push("x".to_string()), "$2");
        assert_eq!(p.refs().len(), 2);
    }
}
