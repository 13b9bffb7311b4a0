//! The deployment files agree with the code: the variables they set are the ones the
//! configuration reads, their commands are real subcommands, and the Dockerfile builds
//! the way `make release` does.

use std::collections::BTreeSet;

use clap::Parser as _;
use figment::Figment;
use figment::providers::{Format as _, Toml};
use vibecoding::cli::Cli;
use vibecoding::config::TOP_LEVEL_ENV;
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .remove(0)
}

/// Every variable the server reads from the environment by its own name.
fn known() -> BTreeSet<String> {
    TOP_LEVEL_ENV
        .iter()
        .map(|s| (*s).to_owned())
        .chain(["RAILS_ENV".to_owned()])
        .collect()
}

/// A variable the server reads: a runbook name, or `VIBECODING_<SECTION>__<KEY>` naming a
/// real setting.
fn is_read(key: &str) -> bool {
    if known().contains(key) {
        return true;
    }
    let Some(path) = key.strip_prefix(vibecoding::config::NESTED_ENV_PREFIX) else {
        return false;
    };
    let settings = serde_json::to_value(vibecoding::config::Settings::default()).unwrap();
    let mut node = &settings;
    for part in path.split("__") {
        match node.get(part.to_lowercase()) {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

/// A start command must parse as one of the binary's subcommands.
fn assert_command(command: &str, subcommand: &str, file: &str) {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"vibecoding"), "{file}: {command}");
    assert_eq!(words.get(1), Some(&subcommand), "{file}: {command}");
    Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{file}: {command}: {e}"));
}

fn str_of<'a>(node: &'a Yaml, key: &str) -> Option<&'a str> {
    node[key].as_str()
}

/// `key` -> its entry, for an `envVars` list.
fn env_vars(list: &Yaml) -> Vec<(String, Yaml)> {
    list.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|e| str_of(e, "key").map(|k| (k.to_owned(), e.clone())))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn render_blueprint_wires_every_service_with_the_variables_the_code_reads() {
    let blueprint = yaml("render.yaml");
    let services = blueprint["services"].as_vec().unwrap();
    let databases: BTreeSet<&str> = blueprint["databases"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|d| str_of(d, "name"))
        .collect();
    let keyvalues: BTreeSet<&str> = services
        .iter()
        .filter(|s| str_of(s, "type") == Some("keyvalue"))
        .filter_map(|s| str_of(s, "name"))
        .collect();
    let groups: Vec<(String, Vec<(String, Yaml)>)> = blueprint["envVarGroups"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|g| {
            (
                str_of(g, "name").unwrap().to_owned(),
                env_vars(&g["envVars"]),
            )
        })
        .collect();

    for (name, vars) in &groups {
        for (key, entry) in vars {
            assert!(is_read(key), "{name}: {key} is not read by the server");
            if ["SECRET_KEY_BASE", "FOREM_OWNER_SECRET"].contains(&key.as_str()) {
                assert_eq!(
                    entry["generateValue"].as_bool(),
                    Some(true),
                    "{name}: {key}"
                );
            }
            if [
                "CLOUDINARY_URL",
                "SENTRY_DSN",
                "SENDGRID_API_KEY",
                "APP_DOMAIN",
            ]
            .contains(&key.as_str())
            {
                assert_eq!(entry["sync"].as_bool(), Some(false), "{name}: {key}");
            }
        }
        for required in [
            "SECRET_KEY_BASE",
            "FOREM_OWNER_SECRET",
            "APP_DOMAIN",
            "APP_PROTOCOL",
            "APP_ENV",
            "LOG_FORMAT",
            "CLOUDINARY_URL",
            "SENTRY_DSN",
            "SENDGRID_API_KEY",
        ] {
            assert!(
                vars.iter().any(|(k, _)| k == required),
                "{name} lacks {required}"
            );
        }
    }

    let mut seen = BTreeSet::new();
    for service in services {
        let kind = str_of(service, "type").unwrap();
        let name = str_of(service, "name").unwrap();
        if kind == "keyvalue" {
            continue;
        }
        seen.insert((kind, name.contains("staging")));
        let vars = service["envVars"].as_vec().unwrap();
        let group = vars
            .iter()
            .find_map(|v| str_of(v, "fromGroup"))
            .unwrap_or_else(|| panic!("{name} takes no variable group"));
        assert!(
            groups.iter().any(|(g, _)| g == group),
            "{name}: no group {group}"
        );
        let own = env_vars(&service["envVars"]);
        for (key, entry) in &own {
            assert!(is_read(key), "{name}: {key} is not read by the server");
            if key == "DATABASE_URL" {
                let db = str_of(&entry["fromDatabase"], "name").unwrap();
                assert!(databases.contains(db), "{name}: no database {db}");
                assert_eq!(
                    str_of(&entry["fromDatabase"], "property"),
                    Some("connectionString")
                );
            }
            if key == "REDIS_URL" {
                let kv = str_of(&entry["fromService"], "name").unwrap();
                assert!(keyvalues.contains(kv), "{name}: no Key Value {kv}");
            }
        }
        for required in ["DATABASE_URL", "REDIS_URL"] {
            assert!(
                own.iter().any(|(k, _)| k == required),
                "{name} lacks {required}"
            );
        }
        // Staging and production never share a database.
        let db = own.iter().find(|(k, _)| k == "DATABASE_URL").unwrap();
        let db_name = str_of(&db.1["fromDatabase"], "name").unwrap();
        assert_eq!(
            db_name.contains("staging"),
            name.contains("staging"),
            "{name}: {db_name}"
        );

        let command = str_of(service, "dockerCommand").unwrap();
        let trigger = str_of(service, "autoDeployTrigger").unwrap();
        if name.contains("staging") {
            assert_eq!(trigger, "commit", "{name} deploys on every push");
        } else {
            assert_eq!(trigger, "off", "{name} deploys by hand");
        }
        match kind {
            "web" => {
                assert_command(command, "serve", "render.yaml");
                assert_eq!(
                    str_of(service, "healthCheckPath"),
                    Some("/api/v1/health_checks/app")
                );
                assert_command(
                    str_of(service, "preDeployCommand").unwrap(),
                    "migrate",
                    "render.yaml",
                );
            }
            "worker" => assert_command(command, "worker", "render.yaml"),
            other => panic!("unexpected service type {other}"),
        }
    }
    assert_eq!(
        seen.len(),
        4,
        "a web service and a worker for staging and production"
    );
}

fn toml(path: &str) -> serde_json::Value {
    Figment::from(Toml::file_exact(format!("{ROOT}/{path}")))
        .extract::<serde_json::Value>()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn railway_services_start_the_server_and_the_worker() {
    let web = toml("railway.toml");
    assert_eq!(web["build"]["builder"], "DOCKERFILE");
    assert_eq!(web["build"]["dockerfilePath"], "Dockerfile");
    assert_command(
        web["deploy"]["startCommand"].as_str().unwrap(),
        "serve",
        "railway.toml",
    );
    assert_eq!(
        web["deploy"]["healthcheckPath"],
        "/api/v1/health_checks/app"
    );
    for command in web["deploy"]["preDeployCommand"].as_array().unwrap() {
        assert_command(command.as_str().unwrap(), "migrate", "railway.toml");
    }
    let worker = toml("railway.worker.toml");
    assert_command(
        worker["deploy"]["startCommand"].as_str().unwrap(),
        "worker",
        "railway.worker.toml",
    );
}

#[test]
fn the_staging_template_lists_every_variable_with_a_comment() {
    let text = read(".env.staging");
    let mut listed = BTreeSet::new();
    let mut commented = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            commented = false;
        } else if line.starts_with('#') {
            commented = true;
        } else {
            let (key, _) = line.split_once('=').unwrap_or_else(|| panic!("{line}"));
            assert!(commented, "{key} has no comment above it");
            listed.insert(key.to_owned());
        }
    }
    let read_by_server: BTreeSet<String> = TOP_LEVEL_ENV.iter().map(|s| (*s).to_owned()).collect();
    let runbook_names: BTreeSet<String> = listed
        .iter()
        .filter(|k| !k.starts_with(vibecoding::config::NESTED_ENV_PREFIX))
        .cloned()
        .collect();
    assert_eq!(runbook_names, read_by_server);
    for key in &listed {
        assert!(is_read(key), "{key} is not read by the server");
    }
    assert!(listed.contains("VIBECODING_HTTP__TRUSTED_PROXIES"));
}

#[test]
fn the_workflow_tests_against_postgres_and_redis_and_builds_the_image() {
    let workflow = yaml(".github/workflows/ci.yml");
    let test = &workflow["jobs"]["test"];
    let services = &test["services"];
    assert!(
        str_of(&services["postgres"], "image")
            .unwrap()
            .starts_with("postgres:")
    );
    assert!(
        str_of(&services["redis"], "image")
            .unwrap()
            .starts_with("redis:")
    );
    let env = test["env"].as_hash().unwrap();
    for key in env.keys().filter_map(Yaml::as_str) {
        assert!(
            is_read(key) || ["CARGO_TERM_COLOR"].contains(&key),
            "{key} is not read by the server"
        );
    }
    let runs: Vec<&str> = test["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| str_of(s, "run"))
        .collect();
    assert!(runs.contains(&"make test"), "{runs:?}");
    let docker = &workflow["jobs"]["docker"];
    assert!(
        docker["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|s| str_of(s, "uses").is_some_and(|u| u.starts_with("docker/build-push-action")))
    );
    // The deploy jobs, commented out, name the secrets the runbook asks for and run the
    // smoke checklist with a real subcommand.
    let text = read(".github/workflows/ci.yml");
    for secret in [
        "RAILWAY_TOKEN",
        "RENDER_SERVICE_ID",
        "RENDER_API_KEY",
        "RENDER_DEPLOY_HOOK_URL",
        "STAGING_DOMAIN",
    ] {
        assert!(text.contains(&format!("secrets.{secret}")), "{secret}");
    }
    for line in text.lines().filter(|l| l.contains("vibecoding smoke")) {
        let command = line.trim_start_matches(|c: char| c == '#' || c.is_whitespace());
        let command = command.replace(
            "\"https://${{ secrets.STAGING_DOMAIN }}\"",
            "https://staging.example",
        );
        assert_command(&command, "smoke", "ci.yml");
    }
}

#[test]
fn the_dockerfile_builds_as_make_release_does() {
    let dockerfile = read("Dockerfile");
    let makefile = read("Makefile");
    let release: Vec<&str> = makefile
        .split("\nrelease:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('\t'))
        .map(str::trim)
        .collect();
    assert!(
        release.contains(&"$(CARGO) build --release --locked"),
        "{release:?}"
    );
    assert!(dockerfile.contains("\nRUN cargo build --release --locked\n"));
    // Runtime SQL only: no offline query data to point the build at.
    assert!(!dockerfile.contains("SQLX_OFFLINE"));
    // The binary it copies is the one that build makes.
    let manifest: toml_value::Manifest = toml_value::read();
    assert!(dockerfile.contains(&format!(
        "COPY --from=builder /app/target/release/{} /usr/local/bin/vibecoding",
        manifest.bin
    )));
    // The playground's assets come from the same lock file, the same way.
    let npm = makefile
        .lines()
        .find(|l| l.contains("npm ci"))
        .unwrap()
        .trim()
        .trim_start_matches("cd web && ");
    assert!(dockerfile.contains(&format!("RUN {npm}")), "{npm}");
    for line in [
        "EXPOSE 3000",
        "ENTRYPOINT [\"vibecoding\"]",
        "CMD [\"serve\"]",
        "USER vibecoding",
        "/api/v1/health_checks/app",
        "ca-certificates",
    ] {
        assert!(dockerfile.contains(line), "{line}");
    }
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target/"));
}

mod toml_value {
    use figment::Figment;
    use figment::providers::{Format as _, Toml};

    pub struct Manifest {
        pub bin: String,
    }

    pub fn read() -> Manifest {
        let cargo: serde_json::Value = Figment::from(Toml::file_exact(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/Cargo.toml"
        )))
        .extract()
        .unwrap();
        Manifest {
            bin: cargo["bin"][0]["name"].as_str().unwrap().to_owned(),
        }
    }
}

#[test]
fn every_command_the_runbook_names_exists() {
    use clap::CommandFactory as _;
    let cli = Cli::command();
    let text = read("docs/RUNBOOK.md");
    let mut checked = 0;
    for (at, _) in text.match_indices("vibecoding ") {
        let rest = &text[at + "vibecoding ".len()..];
        let words: Vec<&str> = rest
            .split(|c: char| c.is_whitespace() || c == '`' || c == ')' || c == ',')
            .filter(|w| !w.is_empty())
            .take(2)
            .collect();
        let Some(first) = words.first() else { continue };
        if !first.chars().all(|c| c.is_ascii_lowercase() || c == '-') || first.len() < 3 {
            continue;
        }
        // Prose ("the Vibecoding Community"...) is capitalised; commands are not.
        let Some(sub) = cli.find_subcommand(first) else {
            if ["server", "binary", "community"].contains(first) {
                continue;
            }
            panic!("docs/RUNBOOK.md names `vibecoding {first}`, which does not exist");
        };
        if sub.has_subcommands()
            && let Some(second) = words.get(1)
        {
            assert!(
                sub.find_subcommand(second).is_some(),
                "docs/RUNBOOK.md names `vibecoding {first} {second}`"
            );
        }
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
}
