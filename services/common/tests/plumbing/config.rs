//! `JWT_SECRET_FILE`: the secret compose's `secrets-init` generates into a volume.

use testbed_common::config::ServiceConfig;

fn with_file(contents: &str) -> (ServiceConfig, std::path::PathBuf) {
    let path = std::env::temp_dir().join(testkit::unique("jwt_secret"));
    std::fs::write(&path, contents).expect("write the secret file");
    let config = ServiceConfig {
        jwt_secret_file: Some(path.clone()),
        ..ServiceConfig::default()
    };
    (config, path)
}

#[test]
fn the_secret_is_read_from_the_file_without_its_newline() {
    let (config, path) = with_file("0123456789abcdef0123456789abcdef\n");
    assert_eq!(
        config.jwt_secret().expect("secret"),
        "0123456789abcdef0123456789abcdef"
    );
    let explicit = ServiceConfig {
        jwt_secret: Some("an-explicit-secret-wins".into()),
        ..config
    };
    assert_eq!(
        explicit.jwt_secret().expect("secret"),
        "an-explicit-secret-wins"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_short_or_missing_file_is_refused_even_in_dev_mode() {
    let (mut config, path) = with_file("short\n");
    config.dev = true;
    let error = config.jwt_secret().expect_err("too short").to_string();
    assert!(error.contains("at least 16"), "{error}");
    let _ = std::fs::remove_file(&path);
    let error = config.jwt_secret().expect_err("missing").to_string();
    assert!(
        error.contains("JWT_SECRET_FILE") && error.contains(&*path.to_string_lossy()),
        "{error}"
    );
}
