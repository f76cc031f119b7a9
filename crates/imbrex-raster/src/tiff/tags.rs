//! TIFF, GeoTIFF and GDAL tag numbers, and the codes their values use.

pub const NEW_SUBFILE_TYPE: u16 = 254;
pub const IMAGE_WIDTH: u16 = 256;
pub const IMAGE_LENGTH: u16 = 257;
pub const BITS_PER_SAMPLE: u16 = 258;
pub const COMPRESSION: u16 = 259;
pub const PHOTOMETRIC: u16 = 262;
pub const FILL_ORDER: u16 = 266;
pub const IMAGE_DESCRIPTION: u16 = 270;
pub const STRIP_OFFSETS: u16 = 273;
pub const SAMPLES_PER_PIXEL: u16 = 277;
pub const ROWS_PER_STRIP: u16 = 278;
pub const STRIP_BYTE_COUNTS: u16 = 279;
pub const PLANAR_CONFIG: u16 = 284;
pub const PREDICTOR: u16 = 317;
pub const COLOR_MAP: u16 = 320;
pub const TILE_WIDTH: u16 = 322;
pub const TILE_LENGTH: u16 = 323;
pub const TILE_OFFSETS: u16 = 324;
pub const TILE_BYTE_COUNTS: u16 = 325;
pub const EXTRA_SAMPLES: u16 = 338;
pub const SAMPLE_FORMAT: u16 = 339;
pub const JPEG_TABLES: u16 = 347;
pub const YCBCR_SUBSAMPLING: u16 = 530;
pub const MODEL_PIXEL_SCALE: u16 = 33550;
pub const MODEL_TIEPOINT: u16 = 33922;
pub const MODEL_TRANSFORMATION: u16 = 34264;
pub const GEO_KEY_DIRECTORY: u16 = 34735;
pub const GEO_DOUBLE_PARAMS: u16 = 34736;
pub const GEO_ASCII_PARAMS: u16 = 34737;
pub const GDAL_METADATA: u16 = 42112;
pub const GDAL_NODATA: u16 = 42113;
pub const LERC_PARAMETERS: u16 = 50674;

/// Compression codes.
pub mod compression {
    pub const NONE: u16 = 1;
    pub const LZW: u16 = 5;
    pub const OLD_JPEG: u16 = 6;
    pub const JPEG: u16 = 7;
    pub const ADOBE_DEFLATE: u16 = 8;
    pub const PACKBITS: u16 = 32773;
    pub const DEFLATE: u16 = 32946;
    pub const LERC: u16 = 34887;
    pub const LZMA: u16 = 34925;
    pub const ZSTD: u16 = 50000;
    pub const WEBP: u16 = 50001;
    pub const JXL: u16 = 50002;
    pub const JPEG2000: u16 = 34712;

    /// GDAL's name for a compression code (as rasterio's `compression` reports it).
    pub fn name(code: u16) -> Option<&'static str> {
        Some(match code {
            NONE => return None,
            LZW => "lzw",
            JPEG | OLD_JPEG => "jpeg",
            ADOBE_DEFLATE | DEFLATE => "deflate",
            PACKBITS => "packbits",
            LERC => "lerc",
            LZMA => "lzma",
            ZSTD => "zstd",
            WEBP => "webp",
            JXL => "jxl",
            JPEG2000 => "jpeg2000",
            _ => "unknown",
        })
    }
}

/// Photometric interpretation codes.
pub mod photometric {
    pub const MIN_IS_WHITE: u16 = 0;
    pub const MIN_IS_BLACK: u16 = 1;
    pub const RGB: u16 = 2;
    pub const PALETTE: u16 = 3;
    pub const MASK: u16 = 4;
    pub const SEPARATED: u16 = 5;
    pub const YCBCR: u16 = 6;
}

/// GeoKey identifiers (GeoTIFF 1.1).
pub mod geokey {
    pub const GT_MODEL_TYPE: u16 = 1024;
    pub const GT_RASTER_TYPE: u16 = 1025;
    pub const GT_CITATION: u16 = 1026;
    pub const GEOGRAPHIC_TYPE: u16 = 2048;
    pub const GEOG_CITATION: u16 = 2049;
    pub const GEOG_GEODETIC_DATUM: u16 = 2050;
    pub const GEOG_PRIME_MERIDIAN: u16 = 2051;
    pub const GEOG_ANGULAR_UNITS: u16 = 2054;
    pub const GEOG_ELLIPSOID: u16 = 2056;
    pub const GEOG_SEMI_MAJOR_AXIS: u16 = 2057;
    pub const GEOG_SEMI_MINOR_AXIS: u16 = 2058;
    pub const GEOG_INV_FLATTENING: u16 = 2059;
    pub const GEOG_PRIME_MERIDIAN_LONG: u16 = 2061;
    pub const PROJECTED_CS_TYPE: u16 = 3072;
    pub const PCS_CITATION: u16 = 3073;
    pub const PROJECTION: u16 = 3074;
    pub const PROJ_COORD_TRANS: u16 = 3075;
    pub const PROJ_LINEAR_UNITS: u16 = 3076;
    pub const PROJ_LINEAR_UNIT_SIZE: u16 = 3077;
    pub const PROJ_STD_PARALLEL1: u16 = 3078;
    pub const PROJ_STD_PARALLEL2: u16 = 3079;
    pub const PROJ_NAT_ORIGIN_LONG: u16 = 3080;
    pub const PROJ_NAT_ORIGIN_LAT: u16 = 3081;
    pub const PROJ_FALSE_EASTING: u16 = 3082;
    pub const PROJ_FALSE_NORTHING: u16 = 3083;
    pub const PROJ_FALSE_ORIGIN_LONG: u16 = 3084;
    pub const PROJ_FALSE_ORIGIN_LAT: u16 = 3085;
    pub const PROJ_FALSE_ORIGIN_EASTING: u16 = 3086;
    pub const PROJ_FALSE_ORIGIN_NORTHING: u16 = 3087;
    pub const PROJ_CENTER_LONG: u16 = 3088;
    pub const PROJ_CENTER_LAT: u16 = 3089;
    pub const PROJ_CENTER_EASTING: u16 = 3090;
    pub const PROJ_CENTER_NORTHING: u16 = 3091;
    pub const PROJ_SCALE_AT_NAT_ORIGIN: u16 = 3092;
    pub const PROJ_SCALE_AT_CENTER: u16 = 3093;
    pub const PROJ_AZIMUTH_ANGLE: u16 = 3094;
    pub const PROJ_STRAIGHT_VERT_POLE_LONG: u16 = 3095;
    pub const VERTICAL_CS_TYPE: u16 = 4096;

    /// The "user-defined" marker value.
    pub const USER_DEFINED: u16 = 32767;
    /// `GTRasterTypeGeoKey` value for PixelIsPoint.
    pub const RASTER_PIXEL_IS_POINT: u16 = 2;
}
