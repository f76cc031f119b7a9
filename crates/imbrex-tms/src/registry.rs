//! The registry of TileMatrixSets: the 13 OGC/morecantile defaults plus custom ones.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::tms::TileMatrixSet;

/// The default sets, as morecantile 7.1 ships them (OGC TMS 2.0 examples, GDAL's NZ grids).
const DEFAULTS: &[(&str, &str)] = &[
    ("CDB1GlobalGrid", include_str!("../data/tms/CDB1GlobalGrid.json")),
    ("CanadianNAD83_LCC", include_str!("../data/tms/CanadianNAD83_LCC.json")),
    ("EuropeanETRS89_LAEAQuad", include_str!("../data/tms/EuropeanETRS89_LAEAQuad.json")),
    ("GNOSISGlobalGrid", include_str!("../data/tms/GNOSISGlobalGrid.json")),
    ("LINZAntarticaMapTilegrid", include_str!("../data/tms/LINZAntarticaMapTilegrid.json")),
    ("NZTM2000Quad", include_str!("../data/tms/NZTM2000Quad.json")),
    ("UPSAntarcticWGS84Quad", include_str!("../data/tms/UPSAntarcticWGS84Quad.json")),
    ("UPSArcticWGS84Quad", include_str!("../data/tms/UPSArcticWGS84Quad.json")),
    ("UTM31WGS84Quad", include_str!("../data/tms/UTM31WGS84Quad.json")),
    ("WGS1984Quad", include_str!("../data/tms/WGS1984Quad.json")),
    ("WebMercatorQuad", include_str!("../data/tms/WebMercatorQuad.json")),
    ("WorldCRS84Quad", include_str!("../data/tms/WorldCRS84Quad.json")),
    ("WorldMercatorWGS84Quad", include_str!("../data/tms/WorldMercatorWGS84Quad.json")),
];

/// A set of named TileMatrixSets: `get`, `list`, `register`.
///
/// Cloning is cheap; sets are shared behind `Arc`.
#[derive(Clone, Debug)]
pub struct TileMatrixSets {
    sets: BTreeMap<String, Arc<TileMatrixSet>>,
}

impl Default for TileMatrixSets {
    /// The 13 default sets (parsed once per process).
    fn default() -> Self {
        static DEFAULT: OnceLock<TileMatrixSets> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let sets = DEFAULTS
                    .iter()
                    .map(|(id, json)| {
                        let tms = TileMatrixSet::from_json(json)
                            .unwrap_or_else(|e| panic!("built-in TileMatrixSet {id} is invalid: {e}"));
                        (id.to_string(), Arc::new(tms))
                    })
                    .collect();
                TileMatrixSets { sets }
            })
            .clone()
    }
}

impl TileMatrixSets {
    /// An empty registry.
    pub fn empty() -> TileMatrixSets {
        TileMatrixSets { sets: BTreeMap::new() }
    }

    /// The set registered under `id`.
    pub fn get(&self, id: &str) -> Result<Arc<TileMatrixSet>> {
        self.sets.get(id).cloned().ok_or_else(|| Error::NotFound { id: id.to_string() })
    }

    /// Identifiers, sorted.
    pub fn list(&self) -> impl Iterator<Item = &str> {
        self.sets.keys().map(String::as_str)
    }

    /// The sets, sorted by identifier.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TileMatrixSet>> {
        self.sets.values()
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Add a set. Replacing an existing identifier needs `overwrite`.
    pub fn register(&mut self, tms: TileMatrixSet, overwrite: bool) -> Result<()> {
        let id = tms.id().to_string();
        if id.is_empty() {
            return Err(Error::InvalidTileMatrixSet { reason: "a registered TileMatrixSet needs an id".into() });
        }
        if !overwrite && self.sets.contains_key(&id) {
            return Err(Error::InvalidTileMatrixSet {
                reason: format!("a TileMatrixSet named '{id}' is already registered"),
            });
        }
        self.sets.insert(id, Arc::new(tms));
        Ok(())
    }

    /// Load a set from an OGC TMS v2 JSON file and register it.
    pub fn register_file(&mut self, path: &Path) -> Result<String> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidTileMatrixSet { reason: format!("{}: {e}", path.display()) })?;
        let tms = TileMatrixSet::from_json(&json)
            .map_err(|e| Error::InvalidTileMatrixSet { reason: format!("{}: {e}", path.display()) })?;
        let id = tms.id().to_string();
        self.register(tms, false)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_defaults() {
        let r = TileMatrixSets::default();
        assert_eq!(r.len(), 13);
        assert!(r.get("WebMercatorQuad").is_ok());
        assert!(matches!(r.get("nope"), Err(Error::NotFound { .. })));
    }

    #[test]
    fn register_refuses_duplicates() {
        let mut r = TileMatrixSets::default();
        let tms = (*r.get("WebMercatorQuad").unwrap()).clone();
        assert!(r.register(tms.clone(), false).is_err());
        assert!(r.register(tms, true).is_ok());
    }
}
