//! Wraps Shopify and WooCommerce order webhooks into one common envelope:
//! `{"provider", "topic", "id", "total", "currency", "data"}`.

use hookyard_transforms_sdk::{transform, Env, Request};
use serde_json::{json, Value};

#[transform]
fn run(mut req: Request, _env: &Env) -> Result<Request, String> {
    let body: Value = req.json().map_err(|e| format!("body is not JSON: {e}"))?;
    let (provider, topic) = if let Some(t) = req.header("x-shopify-topic") {
        ("shopify", t.to_owned())
    } else if let Some(t) = req.header("x-wc-webhook-topic") {
        ("woocommerce", t.to_owned())
    } else {
        return Err("neither x-shopify-topic nor x-wc-webhook-topic is set".into());
    };
    let (total, currency) = match provider {
        "shopify" => (body["total_price"].clone(), body["currency"].clone()),
        _ => (body["total"].clone(), body["currency"].clone()),
    };
    let wrapped = json!({
        "provider": provider,
        "topic": topic,
        "id": body["id"].to_string(),
        "total": total,
        "currency": currency,
        "data": body,
    });
    req.set_json(&wrapped).map_err(|e| e.to_string())?;
    Ok(req)
}
