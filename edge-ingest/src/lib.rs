//! The Cloudflare Worker that accepts webhooks at the edge (filled by the edge-ingest
//! issue): fetch handler → verify → Cloudflare Queue → push consumer to delivery.
