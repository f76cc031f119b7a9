//! Just enough WKT (1 and 2) reading to find what proj4wkt does not tell us:
//! the top-level authority code, the CRS name and the first axis direction.

/// The keyword of a WKT node ("PROJCS", "GEOGCRS", ...), or `None` when `s` does not look like WKT.
pub(crate) fn keyword(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let end = s.find(['[', '('])?;
    let kw = s[..end].trim();
    (!kw.is_empty() && kw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(kw)
}

/// A parsed WKT node: keyword plus raw arguments (strings unquoted, children parsed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    Number(String),
    Node(Node),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub keyword: String,
    pub args: Vec<Value>,
}

impl Node {
    pub fn child(&self, keyword: &str) -> Option<&Node> {
        self.args.iter().find_map(|v| match v {
            Value::Node(n) if n.keyword.eq_ignore_ascii_case(keyword) => Some(n),
            _ => None,
        })
    }

    pub fn text(&self, index: usize) -> Option<&str> {
        match self.args.get(index)? {
            Value::Text(s) | Value::Number(s) => Some(s),
            Value::Node(n) => Some(&n.keyword),
        }
    }

    /// The first node named `keyword` below this one, depth first.
    pub fn descendant(&self, keyword: &str) -> Option<&Node> {
        self.args.iter().find_map(|v| match v {
            Value::Node(n) if n.keyword.eq_ignore_ascii_case(keyword) => Some(n),
            Value::Node(n) => n.descendant(keyword),
            _ => None,
        })
    }

    /// The EPSG code of this node itself (`AUTHORITY["EPSG","4326"]` or `ID["EPSG",4326]`).
    pub fn epsg(&self) -> Option<u32> {
        let auth = self.child("AUTHORITY").or_else(|| self.child("ID"))?;
        if !auth.text(0)?.eq_ignore_ascii_case("EPSG") {
            return None;
        }
        auth.text(1)?.trim().parse().ok()
    }

    /// The direction of the first AXIS of this node (e.g. "NORTH", "east").
    pub fn first_axis_direction(&self) -> Option<String> {
        // WKT2 puts axes under CS siblings at the same level; WKT1 directly under the node.
        let axis = self.child("AXIS")?;
        axis.text(1).map(|s| s.to_ascii_uppercase())
    }
}

/// Parse a WKT string into a tree. Bounded: refuses absurd nesting or length.
pub(crate) fn parse(s: &str) -> Option<Node> {
    const MAX_LEN: usize = 64 * 1024;
    if s.len() > MAX_LEN {
        return None;
    }
    let mut p = Parser { s: s.as_bytes(), i: 0, depth: 0 };
    let node = p.node()?;
    p.skip_ws();
    (p.i == p.s.len()).then_some(node)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn node(&mut self) -> Option<Node> {
        self.depth += 1;
        if self.depth > 32 {
            return None;
        }
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        let keyword = std::str::from_utf8(&self.s[start..self.i]).ok()?.to_string();
        if keyword.is_empty() {
            return None;
        }
        self.skip_ws();
        let close = match self.s.get(self.i)? {
            b'[' => b']',
            b'(' => b')',
            _ => return None,
        };
        self.i += 1;
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    let mut text = Vec::new();
                    loop {
                        let c = *self.s.get(self.i)?;
                        self.i += 1;
                        if c == b'"' {
                            // WKT escapes a quote by doubling it.
                            if self.s.get(self.i) == Some(&b'"') {
                                text.push(b'"');
                                self.i += 1;
                                continue;
                            }
                            break;
                        }
                        text.push(c);
                    }
                    args.push(Value::Text(String::from_utf8(text).ok()?));
                }
                c if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_digit() => {
                    let start = self.i;
                    while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b']' | b')') {
                        self.i += 1;
                    }
                    let num = std::str::from_utf8(&self.s[start..self.i]).ok()?.trim();
                    args.push(Value::Number(num.to_string()));
                }
                c if c.is_ascii_alphabetic() => {
                    // Either a child node or a bare enum word (e.g. NORTH, ellipsoidal).
                    let save = self.i;
                    while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
                        self.i += 1;
                    }
                    let word_end = self.i;
                    self.skip_ws();
                    if matches!(self.s.get(self.i), Some(b'[') | Some(b'(')) {
                        self.i = save;
                        args.push(Value::Node(self.node()?));
                    } else {
                        let word = std::str::from_utf8(&self.s[save..word_end]).ok()?;
                        args.push(Value::Text(word.to_string()));
                    }
                }
                _ => return None,
            }
            self.skip_ws();
            match *self.s.get(self.i)? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(Node { keyword, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wkt1_authority_and_axis() {
        let wkt = r#"PROJCS["NZGD2000 / New Zealand Transverse Mercator 2000",GEOGCS["NZGD2000",AUTHORITY["EPSG","4167"]],PROJECTION["Transverse_Mercator"],AXIS["Northing",NORTH],AXIS["Easting",EAST],AUTHORITY["EPSG","2193"]]"#;
        let node = parse(wkt).unwrap();
        assert_eq!(node.keyword, "PROJCS");
        assert_eq!(node.text(0), Some("NZGD2000 / New Zealand Transverse Mercator 2000"));
        assert_eq!(node.epsg(), Some(2193));
        assert_eq!(node.child("GEOGCS").unwrap().epsg(), Some(4167));
        assert_eq!(node.first_axis_direction().as_deref(), Some("NORTH"));
    }

    #[test]
    fn parses_wkt2_id() {
        let wkt = r#"GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],CS[ellipsoidal,2],AXIS["latitude",north],AXIS["longitude",east],ID["EPSG",4326]]"#;
        let node = parse(wkt).unwrap();
        assert_eq!(node.epsg(), Some(4326));
        assert_eq!(node.first_axis_direction().as_deref(), Some("NORTH"));
    }

    #[test]
    fn rejects_garbage_and_deep_nesting() {
        assert!(parse("PROJCS[").is_none());
        assert!(parse("not wkt").is_none());
        let deep = "A[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).is_none());
        assert_eq!(keyword("PROJCS[\"x\"]"), Some("PROJCS"));
        assert_eq!(keyword("+proj=longlat"), None);
    }
}
