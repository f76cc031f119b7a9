//! Optional JWT authentication, for PostgreSQL row-level security (the PostgREST pattern).
//!
//! With a secret (HS256) or a JWKS file configured, a request's `Authorization: Bearer
//! <token>` is verified; its role claim becomes the PostgreSQL role of every query the
//! request makes (`SET LOCAL ROLE`, in a read-only transaction), and its claims
//! `request.jwt.claims`, so policies decide which rows each user sees in tiles and items.
//! A request without a token runs as `anonymous_role` (or the server's own role), or is
//! refused when a token is `required`. Vector tiles are cached per role; answers to
//! requests with a token are `Cache-Control: private`.
//!
//! Admin routes keep their own token (`admin_token`) and are not looked at here, nor are
//! `/healthz` and `/metrics`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use imbrex_vector::Identity;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// How tokens are checked (`[auth]`; off unless `jwt_secret` or `jwt_jwks` is set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Shared secret of HS256 tokens.
    pub jwt_secret: Option<String>,
    /// A JSON Web Key Set file: tokens signed by one of its public keys (RS*, PS*, ES*,
    /// EdDSA), chosen by the token's `kid`.
    pub jwt_jwks: Option<PathBuf>,
    /// The claim that names the PostgreSQL role.
    pub role_claim: String,
    /// The role of requests without a token, or with a token naming none (unset: the
    /// server's own role).
    pub anonymous_role: Option<String>,
    /// Refuse requests without a token (401).
    pub required: bool,
    /// The `aud` tokens must carry, when set.
    pub audience: Option<String>,
    /// The `iss` tokens must carry, when set.
    pub issuer: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            jwt_jwks: None,
            role_claim: "role".into(),
            anonymous_role: None,
            required: false,
            audience: None,
            issuer: None,
        }
    }
}

/// Verifies tokens.
pub struct Auth {
    /// Keys by `kid` (`None`: the key of tokens without one, the secret).
    keys: Vec<(Option<String>, DecodingKey, Vec<Algorithm>)>,
    config: AuthConfig,
}

/// Routes tokens are not asked of: the admin routes have their own (the admin token), and
/// health checks and metrics scrapers carry none.
const OWN_AUTH: [&str; 4] = ["/refresh", "/cache/purge", "/healthz", "/metrics"];

impl Auth {
    /// The verifier a configuration asks for, if any.
    pub fn new(config: &AuthConfig) -> Result<Option<Auth>, String> {
        let mut keys = Vec::new();
        if let Some(secret) = &config.jwt_secret {
            if secret.len() < 32 {
                return Err("auth.jwt_secret must be at least 32 characters (HS256)".into());
            }
            let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|e| format!("auth.jwt_secret: {e}"))?;
            keys.push((None, key, vec![Algorithm::HS256]));
        }
        if let Some(path) = &config.jwt_jwks {
            let text = std::fs::read_to_string(path).map_err(|e| format!("auth.jwt_jwks {}: {e}", path.display()))?;
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_str(&text).map_err(|e| format!("auth.jwt_jwks {}: {e}", path.display()))?;
            for jwk in &set.keys {
                let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("auth.jwt_jwks {}: {e}", path.display()))?;
                // Asymmetric algorithms only: a public key must never verify an HMAC.
                let algorithms = vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                    Algorithm::ES256,
                    Algorithm::ES384,
                    Algorithm::EdDSA,
                ];
                keys.push((jwk.common.key_id.clone(), key, algorithms));
            }
        }
        Ok((!keys.is_empty()).then(|| Auth { keys, config: config.clone() }))
    }

    /// Who a request is: the verified token's role and claims, the anonymous role, or
    /// nobody in particular (the server's role).
    pub fn identify(&self, headers: &HeaderMap) -> ApiResult<Option<Identity>> {
        let anonymous = || self.config.anonymous_role.clone().map(|role| Identity { role, claims: "{}".into() });
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            if self.config.required {
                return Err(ApiError::Unauthorized("a token is required: Authorization: Bearer <JWT>".into()));
            }
            return Ok(anonymous());
        };
        let token = value
            .to_str()
            .ok()
            // The scheme is case-insensitive (RFC 9110 11.1).
            .and_then(|v| v.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).map(|_| &v[7..]))
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be 'Bearer <JWT>'".into()))?;
        let claims = self.verify(token.trim())?;
        match claims.get(&self.config.role_claim) {
            Some(serde_json::Value::String(role)) if !role.is_empty() => {
                Ok(Some(Identity { role: role.clone(), claims: claims.to_string() }))
            }
            None => Ok(anonymous().map(|a| Identity { claims: claims.to_string(), ..a })),
            Some(_) => Err(ApiError::Unauthorized(format!(
                "the token's '{}' claim is not a role name",
                self.config.role_claim
            ))),
        }
    }

    /// The claims of a token signed by one of the keys, or why not.
    fn verify(&self, token: &str) -> ApiResult<serde_json::Value> {
        let bad = |why: String| ApiError::Unauthorized(format!("invalid token: {why}"));
        let head = jsonwebtoken::decode_header(token).map_err(|e| bad(e.to_string()))?;
        // The keys that may have signed it: of its algorithm, with its `kid` (first) or
        // without one; each is tried until one verifies it.
        let mut candidates: Vec<_> = self
            .keys
            .iter()
            .filter(|(kid, _, algs)| algs.contains(&head.alg) && (kid.is_none() || *kid == head.kid))
            .collect();
        candidates.sort_by_key(|(kid, _, _)| kid.is_none());
        if candidates.is_empty() {
            return Err(bad(format!("no key for algorithm {:?} and kid {:?}", head.alg, head.kid)));
        }
        let mut validation = Validation::new(head.alg);
        validation.algorithms = vec![head.alg];
        // `exp` and `nbf` are checked when present (PostgREST does not require them).
        validation.required_spec_claims.clear();
        validation.validate_nbf = true;
        match &self.config.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.config.issuer {
            validation.set_issuer(&[iss]);
        }
        let mut last = None;
        for (_, key, _) in candidates {
            match jsonwebtoken::decode::<serde_json::Value>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = Some(e),
            }
        }
        Err(bad(last.map(|e| e.to_string()).unwrap_or_default()))
    }
}

/// The middleware: the request's identity into its extensions (for the tile cache's key and
/// the handlers' queries), 401 for a bad or missing-but-required token.
pub async fn layer(State(auth): State<Option<Arc<Auth>>>, mut req: Request, next: Next) -> Response {
    let Some(auth) = auth else { return next.run(req).await };
    if OWN_AUTH.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    // Only PostgreSQL-backed answers depend on who asks.
    let database = req.uri().path().starts_with("/collections");
    let personal = req.headers().contains_key(header::AUTHORIZATION);
    match auth.identify(req.headers()) {
        Ok(Some(identity)) => {
            req.extensions_mut().insert(identity);
        }
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    let mut res = next.run(req).await;
    if database {
        // What one user sees is not another's: no shared cache may keep a token's answer,
        // nor give the anonymous answer to a token.
        if personal {
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        }
        res.headers_mut().append(header::VARY, HeaderValue::from_static("Authorization"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(secret: &str, kid: Option<&str>) -> String {
        let mut head = jsonwebtoken::Header::new(Algorithm::HS256);
        head.kid = kid.map(str::to_string);
        let claims = serde_json::json!({"role": "reader", "sub": "u1"});
        jsonwebtoken::encode(&head, &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap())
            .unwrap()
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn every_key_that_may_have_signed_a_token_is_tried() {
        let (a, b) = ("a".repeat(32), "b".repeat(32));
        let key = |s: &str| DecodingKey::from_secret(s.as_bytes()).unwrap();
        let auth = Auth {
            keys: vec![
                (None, key(&a), vec![Algorithm::HS256]),
                (None, key(&b), vec![Algorithm::HS256]),
                (Some("k2".into()), key(&b), vec![Algorithm::HS256]),
            ],
            config: AuthConfig::default(),
        };
        for t in [token(&a, None), token(&b, None), token(&b, Some("k2")), token(&a, Some("other"))] {
            let who = auth.identify(&headers(&format!("Bearer {t}"))).unwrap().unwrap();
            assert_eq!(who.role, "reader");
        }
        assert!(auth.identify(&headers(&format!("Bearer {}", token(&"c".repeat(32), None)))).is_err());
        // The scheme's case does not matter; its absence does.
        let t = token(&a, None);
        assert!(auth.identify(&headers(&format!("bearer {t}"))).is_ok());
        assert!(auth.identify(&headers(&format!("BEARER {t}"))).is_ok());
        assert!(auth.identify(&headers(&t)).is_err());
        assert!(auth.identify(&headers("Béarer x")).is_err());
    }
}
