//! What the edge hands delivery: any bytes as a batch, a queue message or an edge
//! configuration parse or are refused, and a batch signature check on arbitrary
//! headers gives a verdict; batches that parse re-encode within the split limit.
#![no_main]

use hookyard_core::edge::{encode_batches, verify_batch, Batch, EdgeConfig, QueueMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<QueueMessage>(data);
    let _ = serde_json::from_slice::<EdgeConfig>(data);
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (ts, sig) = (parts.next(), parts.next());
    let _ = verify_batch(["secret"], ts, sig, data, 1_700_000_000);
    if let Ok(batch) = serde_json::from_slice::<Batch>(data) {
        let max = 4096;
        let Ok(encoded) = encode_batches(&batch.messages, max) else {
            return;
        };
        let mut n = 0;
        for e in encoded {
            assert!(e.body.len() <= max || e.items.len() == 1);
            let back: Batch = serde_json::from_str(&e.body).expect("an encoded batch parses");
            assert_eq!(back.messages, batch.messages[e.items.clone()]);
            n = e.items.end;
        }
        assert_eq!(n, batch.messages.len());
    }
});
