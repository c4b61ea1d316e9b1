//! The engine the fuzz targets judge with: the bundled templates, read from disk once.

use std::sync::OnceLock;

use rcfge::{DirSource, Engine, EngineConfig};

pub fn engine() -> &'static (Engine, tokio::runtime::Runtime) {
    static ENGINE: OnceLock<(Engine, tokio::runtime::Runtime)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates");
        let source = DirSource::new(templates).expect("the bundled templates");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        (Engine::new(source, EngineConfig::default()), runtime)
    })
}
