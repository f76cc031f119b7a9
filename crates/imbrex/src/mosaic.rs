//! `imbrex mosaic create` and `imbrex mosaic info`: MosaicJSON documents as cogeo-mosaic
//! writes them (`MosaicJSON.from_urls`), from files' headers read concurrently.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use futures::stream::{self, StreamExt};
use imbrex_raster::mosaic::{MosaicJson, TileRange, quadkey};
use imbrex_raster::source::{AccessPolicy, SourceFactory};
use imbrex_raster::{OpenOptions, Reader};
use imbrex_tms::{Bounds, TileMatrixSets};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::{MosaicCreateArgs, MosaicInfoArgs};

/// What a mosaic needs of one file.
struct Footprint {
    url: String,
    bounds: Bounds,
    minzoom: i32,
    maxzoom: i32,
}

pub async fn create(args: MosaicCreateArgs) -> anyhow::Result<()> {
    let mut urls = args.files.clone();
    if let Some(list) = &args.from {
        let text = std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
        urls.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    anyhow::ensure!(!urls.is_empty(), "no files: name them, or list them in a file with --from");
    let tms = TileMatrixSets::default().get("WebMercatorQuad")?;
    // The user names files on their own machine: no access policy applies.
    let factory = Arc::new(SourceFactory::new(AccessPolicy::allow_all()));
    let opts = OpenOptions::default();
    let bar = ProgressBar::new(urls.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} headers read, {eta} left {msg}")?);
    let mut footprints: Vec<(usize, Footprint)> = stream::iter(urls.iter().enumerate())
        .map(|(i, url)| {
            let (factory, opts, tms, bar) = (factory.clone(), opts.clone(), tms.clone(), bar.clone());
            async move {
                let source = factory.open(url)?;
                let reader = Reader::open(source, &opts).await.with_context(|| format!("cannot read {url}"))?;
                let (minzoom, maxzoom) = reader.zoom_range(&tms);
                bar.inc(1);
                Ok::<_, anyhow::Error>((
                    i,
                    Footprint { url: url.clone(), bounds: reader.geographic_bounds(), minzoom, maxzoom },
                ))
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();
    // The files' order is the mosaic's order (`first` takes the earliest).
    footprints.sort_by_key(|(i, _)| *i);
    let footprints: Vec<Footprint> = footprints.into_iter().map(|(_, f)| f).collect();
    let doc = build(&footprints, args.minzoom, args.maxzoom, args.quadkey_zoom)?;
    let text = serde_json::to_string(&doc)?;
    let max = imbrex_raster::stac::MAX_DOCUMENT;
    anyhow::ensure!(
        text.len() as u64 <= max,
        "the mosaic would be {} bytes, above the {max} imbrex serves: choose a lower --quadkey-zoom",
        text.len()
    );
    std::fs::write(&args.output, &text).with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "{}: {} files in {} quadkeys of zoom {} (zooms {}-{})",
        args.output.display(),
        footprints.len(),
        doc.tiles.len(),
        doc.quadkey_zoom(),
        doc.minzoom,
        doc.maxzoom
    );
    Ok(())
}

/// cogeo-mosaic's rules: zooms default to the highest of the files' own, quadkeys at the
/// min zoom, each file listed under every quadkey its bounds reach, in the files' order.
fn build(
    files: &[Footprint],
    minzoom: Option<u8>,
    maxzoom: Option<u8>,
    quadkey_zoom: Option<u8>,
) -> anyhow::Result<MosaicJson> {
    let zoom = |z: i32| u8::try_from(z.clamp(0, 30)).unwrap_or(0);
    let minzoom = minzoom.unwrap_or_else(|| zoom(files.iter().map(|f| f.minzoom).max().unwrap_or(0)));
    let maxzoom = maxzoom.unwrap_or_else(|| zoom(files.iter().map(|f| f.maxzoom).max().unwrap_or(0)));
    anyhow::ensure!(minzoom <= maxzoom, "minzoom {minzoom} is above maxzoom {maxzoom}");
    let qz = quadkey_zoom.unwrap_or(minzoom);
    anyhow::ensure!(qz <= 24, "quadkey zoom {qz}: at most 24");
    let mut tiles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut union: Option<Bounds> = None;
    for f in files {
        let b = f.bounds;
        let range = TileRange::covering(b, qz);
        anyhow::ensure!(
            range.len() <= 1 << 20,
            "{} covers {} quadkeys at zoom {qz}: choose a lower --quadkey-zoom",
            f.url,
            range.len()
        );
        for (x, y) in range.tiles() {
            tiles.entry(quadkey(x, y, qz)).or_default().push(f.url.clone());
        }
        union = Some(match union {
            None => b,
            Some(u) => Bounds::new(u.left.min(b.left), u.bottom.min(b.bottom), u.right.max(b.right), u.top.max(b.top)),
        });
    }
    let u = union.unwrap_or(Bounds::new(-180.0, -90.0, 180.0, 90.0));
    let doc = json!({
        "mosaicjson": "0.0.3",
        "version": "1.0.0",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "quadkey_zoom": qz,
        "bounds": u.to_array(),
        "center": [(u.left + u.right) / 2.0, (u.bottom + u.top) / 2.0, minzoom],
        "tiles": tiles,
    });
    Ok(serde_json::from_value(doc)?)
}

pub async fn info(args: MosaicInfoArgs) -> anyhow::Result<()> {
    let factory = SourceFactory::new(AccessPolicy::allow_all());
    let source = factory.open(&args.input)?;
    let max = imbrex_raster::stac::MAX_DOCUMENT;
    let fetched = source.fetch(0..max + 1).await?;
    anyhow::ensure!(
        fetched.bytes.len() as u64 <= max,
        "{} is larger than {max} bytes, the most imbrex reads",
        args.input
    );
    let doc = MosaicJson::parse(source.id(), &fetched.bytes)?;
    let mut assets: Vec<&String> = doc.tiles.values().flatten().collect();
    assets.sort();
    assets.dedup();
    if args.json {
        let v = json!({
            "name": doc.name, "mosaicjson": doc.mosaicjson, "version": doc.version,
            "bounds": doc.bounds, "center": doc.center,
            "minzoom": doc.minzoom, "maxzoom": doc.maxzoom, "quadkey_zoom": doc.quadkey_zoom(),
            "quadkeys": doc.tiles.len(), "assets": assets.len(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let b = doc.bounds;
    println!("{}", args.input);
    println!("  MosaicJSON  {}{}", doc.mosaicjson, doc.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default());
    println!("  zoom        {}-{}, quadkeys at {}", doc.minzoom, doc.maxzoom, doc.quadkey_zoom());
    println!("  lon/lat     {:.6}, {:.6}, {:.6}, {:.6}", b[0], b[1], b[2], b[3]);
    println!("  quadkeys    {}", doc.tiles.len());
    println!("  assets      {}", assets.len());
    let most = doc.tiles.values().map(Vec::len).max().unwrap_or(0);
    println!("  per tile    at most {most} asset(s)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_under_every_quadkey_they_reach_in_order() {
        let f = |url: &str, b: Bounds| Footprint { url: url.into(), bounds: b, minzoom: 1, maxzoom: 3 };
        let files =
            [f("a.tif", Bounds::new(-170.0, 10.0, -100.0, 60.0)), f("b.tif", Bounds::new(-120.0, 10.0, -10.0, 60.0))];
        let doc = build(&files, None, None, Some(1)).unwrap();
        assert_eq!((doc.minzoom, doc.maxzoom, doc.quadkey_zoom()), (1, 3, 1));
        assert_eq!(doc.tiles.len(), 1, "both are in the north-west quarter");
        assert_eq!(doc.tiles["0"], ["a.tif", "b.tif"]);
        let doc = build(&files, None, None, Some(2)).unwrap();
        assert_eq!(doc.tiles.len(), 2);
        assert_eq!(doc.tiles["02"], ["a.tif", "b.tif"]);
        assert_eq!(doc.tiles["03"], ["b.tif"]);
        assert!(build(&files, Some(4), Some(3), None).is_err());
    }
}
