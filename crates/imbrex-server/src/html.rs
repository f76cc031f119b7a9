//! Small self-contained HTML pages (no external assets, so they work offline).

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as a JavaScript literal inside a `<script>` block: JSON with every `<` escaped
/// (`\u003c`, the same character to JavaScript), so no text in it can close the block or
/// open another.
pub fn script_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c")
}

/// A page with imbrex's minimal style around `body` (already-escaped HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
code, pre {{ background: #f4f4f4; padding: .1rem .3rem; border-radius: 3px; }}
pre {{ padding: .6rem; overflow-x: auto; }}
table {{ border-collapse: collapse; }} td, th {{ text-align: left; padding: .2rem .8rem .2rem 0; }}
a {{ color: #0b5cad; }}
</style>
</head>
<body>
{body}
</body>
</html>
"#,
        title = escape(title)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_values_cannot_close_the_block() {
        let js = super::script_json(&"</script><script>alert(1)</script>");
        assert!(!js.contains('<'));
        assert_eq!(js, r#""\u003c/script>\u003cscript>alert(1)\u003c/script>""#);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
