//! What every service shares: the store, the one clock, the one id source, the round key
//! store, the answers waiting for their seal, and the settings.

use std::sync::Arc;

use kintsugi_store::Store;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::Clock;
use crate::held::Mixer;
use crate::keys::KeyStore;
use crate::settings::Settings;

/// The context every service takes. Cheap to clone: one shared allocation.
#[derive(Clone)]
pub struct Ctx(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    settings: Settings,
    clock: Clock,
    mixer: Mixer,
}

impl Ctx {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        Self(Arc::new(Inner {
            store,
            clock: Clock::new(settings.dev_clock.as_deref()),
            settings,
            mixer: Mixer::new(),
        }))
    }

    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// The store as a shared handle, for a task that outlives a request.
    pub fn shared_store(&self) -> Arc<dyn Store> {
        self.0.store.clone()
    }

    /// The answers this server holds until their epoch's seal.
    pub fn mixer(&self) -> &Mixer {
        &self.0.mixer
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The one clock. Whole seconds, as stored. On a development clock, shifted or fixed.
    pub fn now(&self) -> OffsetDateTime {
        self.0.clock.now()
    }

    /// Today, by the one clock.
    pub fn today(&self) -> time::Date {
        self.now().date()
    }

    /// Whether time comes from a development clock (then the background sweep runs often).
    pub fn on_dev_clock(&self) -> bool {
        self.0.clock.is_dev()
    }

    /// The one id generator.
    pub fn new_id(&self) -> Uuid {
        crate::clock::new_id()
    }

    /// The round keys, sealed in the database.
    pub fn keys(&self) -> KeyStore<'_> {
        KeyStore::new(self.store(), &self.0.settings.key_encryption_key)
    }

    /// An absolute link to `path` at the public address.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0.settings.public_url)
    }
}
