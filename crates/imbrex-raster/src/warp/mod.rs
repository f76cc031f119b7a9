//! Reprojection and resampling, as GDAL's warper does them (see `docs/warping.md`).

pub mod approx;
mod footprint;
mod interpolate;
pub mod kernel;
pub mod weights;
pub mod window;

pub use approx::{ApproxTransformer, DEFAULT_MAX_ERROR};
pub use kernel::{KernelOutput, KernelSource, warp};
pub use window::{SourceWindow, compute_source_window};

use crate::error::Error;

/// Resampling methods, named as rasterio/TiTiler name them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resampling {
    #[default]
    Nearest,
    Bilinear,
    Cubic,
    CubicSpline,
    Lanczos,
    Average,
    Mode,
    Gauss,
    Rms,
    Min,
    Max,
    Med,
    Q1,
    Q3,
    Sum,
}

impl Resampling {
    /// Kernel radius in source pixels (GDAL's `GWKGetFilterRadius`).
    pub fn radius(self) -> usize {
        match self {
            Resampling::Nearest => 0,
            Resampling::Bilinear => 1,
            Resampling::Cubic | Resampling::CubicSpline => 2,
            Resampling::Lanczos => 3,
            Resampling::Gauss => 1,
            _ => 0,
        }
    }

    /// Methods that aggregate every source pixel under the destination footprint.
    pub fn is_footprint(self) -> bool {
        matches!(
            self,
            Resampling::Average
                | Resampling::Mode
                | Resampling::Rms
                | Resampling::Min
                | Resampling::Max
                | Resampling::Med
                | Resampling::Q1
                | Resampling::Q3
                | Resampling::Sum
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Resampling::Nearest => "nearest",
            Resampling::Bilinear => "bilinear",
            Resampling::Cubic => "cubic",
            Resampling::CubicSpline => "cubic_spline",
            Resampling::Lanczos => "lanczos",
            Resampling::Average => "average",
            Resampling::Mode => "mode",
            Resampling::Gauss => "gauss",
            Resampling::Rms => "rms",
            Resampling::Min => "min",
            Resampling::Max => "max",
            Resampling::Med => "med",
            Resampling::Q1 => "q1",
            Resampling::Q3 => "q3",
            Resampling::Sum => "sum",
        }
    }
}

impl std::str::FromStr for Resampling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "nearest" => Resampling::Nearest,
            "bilinear" => Resampling::Bilinear,
            "cubic" => Resampling::Cubic,
            "cubic_spline" => Resampling::CubicSpline,
            "lanczos" => Resampling::Lanczos,
            "average" => Resampling::Average,
            "mode" => Resampling::Mode,
            "gauss" => Resampling::Gauss,
            "rms" => Resampling::Rms,
            "min" => Resampling::Min,
            "max" => Resampling::Max,
            "med" => Resampling::Med,
            "q1" => Resampling::Q1,
            "q3" => Resampling::Q3,
            "sum" => Resampling::Sum,
            other => {
                return Err(Error::InvalidParameter {
                    name: "resampling",
                    reason: format!("'{other}' is not a resampling method"),
                });
            }
        })
    }
}
