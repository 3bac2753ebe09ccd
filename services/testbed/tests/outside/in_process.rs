//! The whole stack in the test's own process (embedded storage in a private directory,
//! free ports), for the tests that drive it from outside: `user_token`, `audit` and `gateway`.

use std::path::PathBuf;

use testbed::{Stack, StackConfig};

/// A running stack; its SQLite files are removed on drop.
pub struct TestStack {
    stack: Option<Stack>,
    dir: PathBuf,
}

impl TestStack {
    pub async fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-{}", uuid::Uuid::new_v4()));
        let mut config = StackConfig::embedded(dir.clone());
        (config.user_port, config.restaurant_port, config.order_port) = (0, 0, 0);
        let stack = Stack::start(&config).await.expect("the stack starts");
        Self {
            stack: Some(stack),
            dir,
        }
    }

    pub fn urls(&self) -> &Stack {
        self.stack.as_ref().expect("running until stopped")
    }

    /// A private directory next to the stack's files (removed with them).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    }

    pub async fn stop(mut self) {
        if let Some(stack) = self.stack.take() {
            stack.stop().await.expect("the stack stops");
        }
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
