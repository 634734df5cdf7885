//! Removes fields (e.g. personal data) from a JSON body, at any depth. The env
//! var `FIELDS` lists them, comma-separated (default: `password,ssn,card_number`).

use hookyard_transforms_sdk::{transform, Env, Request};
use serde_json::Value;

fn strip(v: &mut Value, fields: &[&str]) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !fields.contains(&k.as_str()));
            map.values_mut().for_each(|v| strip(v, fields));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip(v, fields)),
        _ => {}
    }
}

#[transform]
fn run(mut req: Request, env: &Env) -> Result<Request, String> {
    let fields: Vec<&str> = env
        .get("FIELDS")
        .unwrap_or("password,ssn,card_number")
        .split(',')
        .map(str::trim)
        .collect();
    let mut body: Value = req.json().map_err(|e| format!("body is not JSON: {e}"))?;
    strip(&mut body, &fields);
    req.set_json(&body).map_err(|e| e.to_string())?;
    println!("stripped {}", fields.join(","));
    Ok(req)
}
