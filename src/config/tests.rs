use super::*;

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(text, Path::new("/etc/tributary/feeds.toml"), None)
}

fn error_position(text: &str) -> (usize, usize, String) {
    match parse_str(text) {
        Err(ConfigError::Invalid {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
}

#[test]
fn the_shipped_config_is_valid() {
    let text = include_str!("../../feeds.toml");
    let config = parse_str(text).expect("the repo's feeds.toml is valid");
    let ids: Vec<_> = config.outlets.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["abc", "newscomau"]);
    assert_eq!(config.outlets[0].schedule, "0 */5 * * * *");
    assert_eq!(config.outlets[1].schedule, "0 */10 * * * *");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        config.storage.database,
        Database::Sqlite("/etc/tributary/tributary.db".into())
    );
}

#[test]
fn a_postgres_url_selects_postgresql_and_a_bad_one_is_refused() {
    let url = "postgres://tributary:secret@db.example:5432/news";
    let config = parse_str(&format!("[storage]\nurl = \"{url}\"\n")).unwrap();
    assert_eq!(config.storage.database, Database::Postgres(url.into()));
    assert_eq!(
        config.storage.database.to_string(),
        "postgres://tributary:***@db.example:5432/news",
        "the password is never shown"
    );
    let (line, _, message) =
        error_position("[storage]\npath = \"t.db\"\nurl = \"postgres://db/news\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("not both"), "{message}");
    let (line, _, message) = error_position("[storage]\nurl = \"postgres://db:port/news\"\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("not a PostgreSQL connection string"),
        "{message}"
    );
}

#[test]
fn an_empty_file_gets_every_default() {
    let config = parse_str("").unwrap();
    assert_eq!(config.server.base_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(config.server.title, "Tributary");
    assert_eq!(config.storage.retention_days, 30);
    assert_eq!(config.polling.timeout_secs, 30);
    assert!(config.polling.user_agent.starts_with("tributary/"));
    assert!(config.outlets.is_empty());
}

#[test]
fn the_state_directory_wins_over_the_config_folder() {
    let config = parse(
        "",
        Path::new("/etc/t/feeds.toml"),
        Some(Path::new("/var/lib/t")),
    )
    .unwrap();
    assert_eq!(
        config.storage.database,
        Database::Sqlite("/var/lib/t/tributary.db".into())
    );
}

#[test]
fn an_unknown_key_names_its_line() {
    let (line, _, message) = error_position("[server]\nlisten = \"127.0.0.1:1\"\ntitel = \"x\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("titel"), "{message}");
}

#[test]
fn a_duplicate_outlet_id_names_the_second_one() {
    let text = "[[outlet]]\nid = \"a\"\nfeeds = [\"https://a.example/rss\"]\n\n[[outlet]]\nid = \"a\"\nfeeds = [\"https://b.example/rss\"]\n";
    let (line, column, message) = error_position(text);
    assert_eq!((line, column), (6, 6));
    assert!(message.contains("duplicate outlet id"), "{message}");
}

#[test]
fn a_bad_feed_url_names_its_line() {
    let text =
        "[[outlet]]\nid = \"a\"\nfeeds = [\n  \"https://a.example/rss\",\n  \"not a url\",\n]\n";
    let (line, column, message) = error_position(text);
    assert_eq!((line, column), (5, 3));
    assert!(message.contains("not a URL"), "{message}");
}

#[test]
fn a_non_http_feed_url_is_refused() {
    let (line, _, message) =
        error_position("[[outlet]]\nid = \"a\"\nfeeds = [\"file:///etc/passwd\"]\n");
    assert_eq!(line, 3);
    assert!(message.contains("not an http or https URL"), "{message}");
}

#[test]
fn a_bad_cron_expression_names_its_line() {
    let (line, _, message) =
        error_position("[polling]\ntimeout_secs = 5\nschedule = \"every now and then\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("cron"), "{message}");
    let outlet =
        "[[outlet]]\nid = \"a\"\nfeeds = [\"https://a.example/\"]\nschedule = \"61 * * * * *\"\n";
    assert_eq!(error_position(outlet).0, 4);
}

#[test]
fn an_outlet_id_must_be_usable_in_a_url() {
    let (line, _, message) =
        error_position("[[outlet]]\nid = \"ABC News\"\nfeeds = [\"https://a.example/\"]\n");
    assert_eq!(line, 2);
    assert!(message.contains("lower-case"), "{message}");
}

#[test]
fn an_outlet_without_feeds_is_refused() {
    let (line, _, message) = error_position("[[outlet]]\nid = \"a\"\nfeeds = []\n");
    assert_eq!(line, 3);
    assert!(message.contains("no feeds"), "{message}");
}

#[test]
fn a_type_error_names_its_line() {
    let (line, _, _) = error_position("[storage]\nretention_days = \"thirty\"\n");
    assert_eq!(line, 2);
}

#[test]
fn polling_keys_have_polite_defaults_and_refuse_nonsense() {
    let polling = parse_str("").unwrap().polling;
    assert_eq!(polling.min_interval_secs, 300);
    assert_eq!(
        (polling.per_host_concurrency, polling.max_concurrency),
        (2, 16)
    );
    assert_eq!(polling.max_body_bytes, 10 << 20);
    assert!(polling.respect_cache_headers);
    assert!(polling.strip_tracking_parameters);
    assert!(!polling.allow_private_networks);
    assert_eq!(polling.proxy, None);

    let (line, _, message) = error_position("[polling]\nper_host_concurrency = 0\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("per_host_concurrency must be at least 1"),
        "{message}"
    );
    let (line, _, message) = error_position("[polling]\n\nproxy = \"not a proxy\"\n");
    assert_eq!(line, 3);
    assert!(message.starts_with("proxy:"), "{message}");
    let open =
        parse_str("[polling]\nallow_private_networks = true\nproxy = \"http://proxy.lan:3128\"\n")
            .unwrap()
            .polling;
    assert!(open.allow_private_networks);
    assert_eq!(open.proxy.unwrap().as_str(), "http://proxy.lan:3128/");
}

#[test]
fn the_log_level_takes_a_filter_and_refuses_a_misspelt_level() {
    assert_eq!(parse_str("").unwrap().log.level, "info");
    let config = parse_str("[log]\nlevel = \"warn,tributary=debug\"\n").unwrap();
    assert_eq!(config.log.level, "warn,tributary=debug");
    let (line, column, message) = error_position("[log]\nlevel = \"infoo\"\n");
    assert_eq!((line, column), (2, 9));
    assert!(
        message.contains("\"infoo\" is not one of off, error"),
        "{message}"
    );
    let (_, _, message) = error_position("[log]\nlevel = \"tributary=loud\"\n");
    assert!(message.contains("tributary=loud"), "{message}");
}

#[test]
fn removed_outlets_keep_their_items_unless_asked() {
    assert!(!parse_str("").unwrap().storage.purge_removed);
    let config = parse_str("[storage]\npurge_removed = true\n").unwrap();
    assert!(config.storage.purge_removed);
}
