//! Response documents shared by several endpoints (OGC API Common shapes).

use serde::Serialize;

/// An OGC API link.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templated: Option<bool>,
}

impl Link {
    pub fn new(href: impl Into<String>, rel: &str, media_type: &str, title: &str) -> Link {
        Link {
            href: href.into(),
            rel: rel.to_string(),
            media_type: Some(media_type.to_string()),
            title: Some(title.to_string()),
            templated: None,
        }
    }
}

/// `GET /`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Landing {
    pub title: String,
    pub description: String,
    pub links: Vec<Link>,
}

/// `GET /conformance`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Conformance {
    #[serde(rename = "conformsTo")]
    pub conforms_to: Vec<String>,
}

/// One entry of `GET /tileMatrixSets`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TileMatrixSetRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub links: Vec<Link>,
}

/// `GET /tileMatrixSets`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TileMatrixSetList {
    pub tile_matrix_sets: Vec<TileMatrixSetRef>,
}
