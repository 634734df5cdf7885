//! Compiled rules per connection, so routing and dispatch parse a connection's
//! filter once, not once per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::rules::CompiledRules;
use crate::model::{Connection, Rule};

/// A connection's rules as last seen, and what they compiled to.
type CompiledEntry = (Vec<Rule>, Arc<CompiledRules>);

/// Compiled rules per connection, recompiled when the connection changes.
#[derive(Default)]
pub struct RulesCache {
    inner: Mutex<HashMap<String, CompiledEntry>>,
}

impl RulesCache {
    pub fn get(&self, c: &Connection) -> Arc<CompiledRules> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Keyed by the rules themselves, not a timestamp: two edits within one
        // millisecond must not leave the first one compiled.
        if let Some((rules, compiled)) = map.get(&c.id) {
            if *rules == c.rules {
                return compiled.clone();
            }
        }
        // Rules were validated when the connection was saved; a rule that no longer
        // compiles (stored by another version) routes as if it had no rules.
        let compiled = Arc::new(CompiledRules::compile(&c.rules).unwrap_or_default());
        // Deleted connections leave entries behind; start over now and then.
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(c.id.clone(), (c.rules.clone(), compiled.clone()));
        compiled
    }
}
