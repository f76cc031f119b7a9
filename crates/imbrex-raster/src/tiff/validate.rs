//! Is a GeoTIFF a Cloud Optimized GeoTIFF? rio-cogeo's `cog_validate` rules and messages.

use super::GeoTiff;

/// What `cog_validate` finds: errors make a file not a COG; warnings do too when strict.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CogValidation {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl CogValidation {
    /// rio-cogeo's verdict (`strict`: warnings count as errors).
    pub fn is_cog(&self, strict: bool) -> bool {
        self.errors.is_empty() && (!strict || self.warnings.is_empty())
    }
}

impl GeoTiff {
    /// The file's layout against rio-cogeo's rules: tiled when larger than 512 px, internal
    /// overviews, the IFDs first and the overviews' data before the full resolution's.
    pub fn validate_cog(&self) -> CogValidation {
        let main = self.main();
        let mut v = CogValidation::default();
        if !main.tiled && (main.width > 512 || main.height > 512) {
            v.errors.push("The file is greater than 512xH or 512xW, but is not tiled".into());
        }
        if self.levels.len() == 1 && (main.width > 512 || main.height > 512) {
            v.warnings.push(
                "The file is greater than 512xH or 512xW, it is recommended to include internal overviews".into(),
            );
        }
        if self.external_overviews {
            v.errors.push("Overviews found in external .ovr file. They should be internal".into());
        }
        // A COG stores the IFDs first and the overview data before the full-resolution data.
        let first_block = |l: usize| self.levels[l].image.offsets.iter().copied().filter(|&o| o > 0).min().unwrap_or(0);
        for l in 1..self.levels.len() {
            if !self.external_overviews && first_block(l) > first_block(l - 1) && first_block(l - 1) > 0 {
                let previous = if l == 1 {
                    "the full resolution image".to_string()
                } else {
                    format!("overview of index {}", l - 2)
                };
                v.errors.push(format!(
                    "The offset of the first block of overview of index {} should be smaller than the offset of the first block of {previous}",
                    l - 1
                ));
                break;
            }
        }
        if self.levels.iter().any(|l| l.image.ifd_offset > first_block(0)) && first_block(0) > 0 {
            v.errors.push("The offset of the main IFD should be < the offset of the first block".into());
        }
        v
    }
}
