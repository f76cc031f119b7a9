//! GDAL's private TIFF tags: `GDAL_METADATA` (XML items) and `GDAL_NODATA` (text).

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Metadata of one band.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BandMetadata {
    /// Items of the default domain, in file order (e.g. `STATISTICS_MINIMUM`).
    pub items: Vec<(String, String)>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
    pub description: Option<String>,
    pub colorinterp: Option<String>,
    pub unit: Option<String>,
}

impl BandMetadata {
    /// The value of a default-domain item.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.items.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Everything in a `GDAL_METADATA` tag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GdalMetadata {
    /// Dataset items: `(domain, name, value)`.
    pub dataset: Vec<(String, String, String)>,
    /// Band items, keyed by 0-based band index.
    pub bands: BTreeMap<usize, BandMetadata>,
}

impl GdalMetadata {
    /// Parse the XML; malformed XML yields what was read before the error (GDAL is as lenient).
    pub fn parse(xml: &str) -> GdalMetadata {
        let mut out = GdalMetadata::default();
        let mut reader = Reader::from_str(xml);
        let mut current: Option<(String, Option<usize>, Option<String>, String)> = None;
        let mut text = String::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.name().as_ref() == b"Item" => {
                    let mut name = String::new();
                    let mut sample = None;
                    let mut role = None;
                    let mut domain = String::new();
                    for a in e.attributes().flatten() {
                        let value = a.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
                        match a.key.as_ref() {
                            b"name" => name = value,
                            b"sample" => sample = value.parse().ok(),
                            b"role" => role = Some(value),
                            b"domain" => domain = value,
                            _ => {}
                        }
                    }
                    current = Some((name, sample, role, domain));
                    text.clear();
                }
                Ok(Event::Text(t)) if current.is_some() => {
                    text.push_str(&t.decode().map(|s| s.into_owned()).unwrap_or_default());
                }
                Ok(Event::GeneralRef(r)) if current.is_some() => {
                    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                    text.push_str(match name.as_str() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
                Ok(Event::End(e)) if e.name().as_ref() == b"Item" => {
                    if let Some((name, sample, role, domain)) = current.take() {
                        out.add(name, sample, role, domain, std::mem::take(&mut text));
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
        out
    }

    fn add(&mut self, name: String, sample: Option<usize>, role: Option<String>, domain: String, value: String) {
        let Some(band) = sample else {
            self.dataset.push((domain, name, value));
            return;
        };
        let b = self.bands.entry(band).or_default();
        match role.as_deref() {
            Some("scale") => b.scale = value.trim().parse().ok(),
            Some("offset") => b.offset = value.trim().parse().ok(),
            Some("description") => b.description = Some(value),
            Some("colorinterp") => b.colorinterp = Some(value.to_ascii_lowercase()),
            Some("unittype") => b.unit = Some(value),
            _ if domain.is_empty() => b.items.push((name, value)),
            _ => {}
        }
    }

    /// A dataset item of the default domain.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.dataset.iter().find(|(d, k, _)| d.is_empty() && k == name).map(|(_, _, v)| v.as_str())
    }
}

/// `GDAL_NODATA` text to a value, as GDAL's `CPLAtofM` reads it (`nan`, `inf` included;
/// an empty tag means no nodata).
pub fn parse_nodata(text: &str, float32: bool) -> Option<f64> {
    let t = text.trim().trim_end_matches('\0');
    if t.is_empty() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let v = match lower.as_str() {
        "nan" | "-nan" => f64::NAN,
        "inf" | "+inf" | "infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => leading_float(t),
    };
    // GDAL snaps values within rounding of FLT_MAX and stores float32 nodata as float32.
    if float32 {
        let max = f32::MAX as f64;
        let v = if v.is_finite() && (v.abs() - max).abs() < max * 1e-6 { v.signum() * max } else { v };
        return Some(v as f32 as f64);
    }
    Some(v)
}

/// The longest numeric prefix of `s` (strtod's behaviour), 0 when there is none.
fn leading_float(s: &str) -> f64 {
    let mut end = 0;
    for i in (1..=s.len()).rev() {
        if s.is_char_boundary(i) && s[..i].parse::<f64>().is_ok() {
            end = i;
            break;
        }
    }
    s[..end].parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bands_roles_and_domains() {
        let xml = r#"<GDALMetadata>
  <Item name="OVR_RESAMPLING_ALG">NEAREST</Item>
  <Item name="OFFSET" sample="0" role="offset">1000</Item>
  <Item name="SCALE" sample="0" role="scale">0.000100000000000000005</Item>
  <Item name="STATISTICS_MAXIMUM" sample="1">255</Item>
  <Item name="DESCRIPTION" sample="1" role="description">Near &amp; far</Item>
  <Item name="compress" domain="rio_creation_kwds">packbits</Item>
</GDALMetadata>"#;
        let m = GdalMetadata::parse(xml);
        assert_eq!(m.get("OVR_RESAMPLING_ALG"), Some("NEAREST"));
        assert_eq!(m.bands[&0].scale, Some(0.0001));
        assert_eq!(m.bands[&0].offset, Some(1000.0));
        assert_eq!(m.bands[&1].get("STATISTICS_MAXIMUM"), Some("255"));
        assert_eq!(m.bands[&1].description.as_deref(), Some("Near & far"));
        assert_eq!(m.get("compress"), None, "other domains stay out of the default one");
        assert_eq!(GdalMetadata::parse("<not xml").bands.len(), 0);
    }

    #[test]
    fn nodata_text() {
        assert_eq!(parse_nodata("0.0", false), Some(0.0));
        assert_eq!(parse_nodata("-9999", true), Some(-9999.0));
        assert!(parse_nodata("nan", true).unwrap().is_nan());
        assert_eq!(parse_nodata("", false), None);
        assert_eq!(parse_nodata("-1.2676506e+30", true), Some(-1.2676506e30f32 as f64));
        assert_eq!(parse_nodata("12abc", false), Some(12.0));
    }
}
