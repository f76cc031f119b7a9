//! `imbrex info FILE_OR_URL`: a raster described for people, or as JSON for programs.

use std::fmt::Write;

use anyhow::Context;
use imbrex_raster::source::{AccessPolicy, SourceFactory};
use imbrex_raster::{OpenOptions, Reader};
use imbrex_tms::TileMatrixSets;

use crate::cli::InfoArgs;

pub async fn run(args: InfoArgs) -> anyhow::Result<()> {
    let tms = TileMatrixSets::default().get(&args.tms)?;
    // The user names the file on their own machine: no access policy applies.
    let factory = SourceFactory::new(AccessPolicy::allow_all());
    let source = factory.open(&args.input)?;
    let opts = OpenOptions { remote_sidecars: args.remote_sidecars, ..Default::default() };
    let reader = Reader::open(source, &opts).await.with_context(|| format!("cannot read {}", args.input))?;
    let (minzoom, maxzoom) = reader.zoom_range(&tms);
    let geo = reader.geographic_bounds();
    if args.json {
        let mut v = serde_json::to_value(reader.info())?;
        v["minzoom"] = minzoom.into();
        v["maxzoom"] = maxzoom.into();
        v["geographic_bounds"] = serde_json::to_value(geo.to_array())?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", describe(&reader, tms.id(), minzoom, maxzoom));
    Ok(())
}

fn describe(reader: &Reader, tms: &str, minzoom: i32, maxzoom: i32) -> String {
    let info = reader.info();
    let ds = reader.dataset();
    let mut s = String::new();
    let _ = writeln!(s, "{}", reader.input());
    let _ = writeln!(s, "  driver      {}", info.driver);
    let _ =
        writeln!(s, "  size        {} x {} pixels, {} band(s) of {}", info.width, info.height, info.count, info.dtype);
    match reader.crs() {
        Some(crs) => {
            match crs.epsg() {
                Some(code) => {
                    let _ = writeln!(s, "  crs         EPSG:{code} ({})", crs.name());
                }
                None => {
                    let _ = writeln!(s, "  crs         {} ({})", crs.name(), crs.proj_string());
                }
            }
            let b = info.bounds;
            let _ = writeln!(s, "  bounds      {:.6}, {:.6}, {:.6}, {:.6}", b[0], b[1], b[2], b[3]);
            let g = reader.geographic_bounds();
            let _ = writeln!(s, "  lon/lat     {:.6}, {:.6}, {:.6}, {:.6}", g.left, g.bottom, g.right, g.top);
            let t = reader.transform().0;
            let _ = writeln!(s, "  pixel size  {} x {}", t[1], -t[5]);
        }
        None => {
            let _ = writeln!(s, "  crs         none (served in pixel space)");
        }
    }
    let _ = writeln!(s, "  zoom        {minzoom}-{maxzoom} ({tms})");
    let overviews: Vec<String> = info.overviews.iter().map(|o| o.to_string()).collect();
    let _ = writeln!(s, "  overviews   {}", if overviews.is_empty() { "none".into() } else { overviews.join(", ") });
    let nodata = match info.nodata_value {
        Some(v) => format!("{:?} ({v})", info.nodata_type),
        None => format!("{:?}", info.nodata_type),
    };
    let _ = writeln!(s, "  validity    {nodata}");
    if let Some(t) = ds.tiff() {
        let main = t.main();
        let layout = if main.tiled {
            format!("tiles {}x{}", main.block_width, main.block_height)
        } else {
            format!("strips of {} rows", main.block_height)
        };
        let _ = writeln!(
            s,
            "  layout      {layout}, {}{}{}",
            main.compression_name().unwrap_or("uncompressed"),
            if t.bigtiff { ", BigTIFF" } else { "" },
            if main.planar { ", band-separate" } else { "" }
        );
    }
    let _ = writeln!(s, "  bands");
    for (i, (d, ci)) in info.band_descriptions.iter().zip(&info.colorinterp).enumerate() {
        let scale = if info.scales[i] != 1.0 || info.offsets[i] != 0.0 {
            format!("  scale {} offset {}", info.scales[i], info.offsets[i])
        } else {
            String::new()
        };
        let _ = writeln!(s, "    {:<4} {:<10} {}{scale}", d.0, ci, if d.1 != d.0 { d.1.as_str() } else { "" });
    }
    if info.colormap.is_some() {
        let _ = writeln!(s, "  palette     yes");
    }
    s
}
