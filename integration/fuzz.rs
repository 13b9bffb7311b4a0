//! Operations generated from the committed schema, not listed by hand: every string
//! argument of every root field is tried with control characters, and a bounded fuzz run
//! sends random operations (random arguments, huge numbers, long and hostile strings,
//! random selections) as anonymous visitors and as members. None may answer
//! INTERNAL_SERVER_ERROR, a 5xx, or take longer than a second.
//!
//! `FUZZ_CASES=5000 FUZZ_SEED=7 cargo test --test integration fuzz_ -- --nocapture` runs a
//! longer one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// What the schema declares, by type name.
pub struct Schema {
    types: HashMap<String, TypeKind>,
}

/// An argument or input field.
#[derive(Clone)]
pub struct Input {
    pub name: String,
    pub ty: Type,
}

/// A field of an object or interface.
#[derive(Clone)]
pub struct Field {
    pub name: String,
    pub args: Vec<Input>,
    pub ty: Type,
}

pub fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// Scalars whose values are written as strings.
fn textual(name: &str) -> bool {
    matches!(name, "String" | "ID" | "DateTime")
}

impl Schema {
    pub fn load() -> Self {
        let sdl = include_str!("../schema.graphql");
        let document = async_graphql::parser::parse_schema(sdl).expect("the committed SDL parses");
        let mut types = HashMap::new();
        for definition in document.definitions {
            if let TypeSystemDefinition::Type(ty) = definition {
                types.insert(ty.node.name.node.to_string(), ty.node.kind);
            }
        }
        Self { types }
    }

    pub fn fields(&self, type_name: &str) -> Vec<Field> {
        let fields = match self.types.get(type_name) {
            Some(TypeKind::Object(o)) => &o.fields,
            Some(TypeKind::Interface(i)) => &i.fields,
            _ => return Vec::new(),
        };
        fields
            .iter()
            .map(|f| Field {
                name: f.node.name.node.to_string(),
                args: f
                    .node
                    .arguments
                    .iter()
                    .map(|a| Input {
                        name: a.node.name.node.to_string(),
                        ty: a.node.ty.node.clone(),
                    })
                    .collect(),
                ty: f.node.ty.node.clone(),
            })
            .collect()
    }

    fn input_fields(&self, type_name: &str) -> Vec<Input> {
        match self.types.get(type_name) {
            Some(TypeKind::InputObject(o)) => o
                .fields
                .iter()
                .map(|f| Input {
                    name: f.node.name.node.to_string(),
                    ty: f.node.ty.node.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn enum_values(&self, type_name: &str) -> Vec<String> {
        match self.types.get(type_name) {
            Some(TypeKind::Enum(e)) => e
                .values
                .iter()
                .map(|v| v.node.value.node.to_string())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn possible_types(&self, type_name: &str) -> Vec<String> {
        match self.types.get(type_name) {
            Some(TypeKind::Union(u)) => u.members.iter().map(|m| m.node.to_string()).collect(),
            Some(TypeKind::Interface(_)) => self
                .types
                .iter()
                .filter(|(_, kind)| {
                    matches!(kind, TypeKind::Object(o) if o.implements.iter().any(|i| i.node == type_name))
                })
                .map(|(name, _)| name.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn is_composite(&self, type_name: &str) -> bool {
        matches!(
            self.types.get(type_name),
            Some(TypeKind::Object(_) | TypeKind::Interface(_) | TypeKind::Union(_))
        )
    }

    /// Whether a value of `ty` can be written at all (uploads need a multipart request).
    fn writable(&self, ty: &Type, depth: usize) -> bool {
        let name = named(ty);
        if name == "Upload" || depth > 6 {
            return ty.nullable;
        }
        match self.types.get(name) {
            Some(TypeKind::InputObject(_)) => self
                .input_fields(name)
                .iter()
                .all(|f| f.ty.nullable || self.writable(&f.ty, depth + 1)),
            _ => true,
        }
    }

    /// A plausible value of `ty`: required parts only.
    pub fn minimal(&self, ty: &Type) -> Value {
        if let BaseType::List(inner) = &ty.base {
            return json!([self.minimal(inner)]);
        }
        let name = named(ty);
        match name {
            "String" => json!("x"),
            "ID" => json!(global_id("Article")),
            "DateTime" => json!("2030-01-01T00:00:00Z"),
            "Int" => json!(1),
            "Float" => json!(1.5),
            "Boolean" => json!(true),
            "JSON" => json!({}),
            _ => match self.types.get(name) {
                Some(TypeKind::Enum(_)) => json!(self.enum_values(name)[0]),
                Some(TypeKind::InputObject(_)) => {
                    let mut object = serde_json::Map::new();
                    for field in self.input_fields(name) {
                        if !field.ty.nullable {
                            object.insert(field.name.clone(), self.minimal(&field.ty));
                        }
                    }
                    Value::Object(object)
                }
                _ => Value::Null,
            },
        }
    }

    /// Every path (argument name, then input field names) that ends at a string-like
    /// value inside `input`.
    pub fn text_paths(&self, input: &Input, depth: usize) -> Vec<Vec<String>> {
        let name = named(&input.ty);
        if textual(name) {
            return vec![vec![input.name.clone()]];
        }
        if depth > 4 || !matches!(self.types.get(name), Some(TypeKind::InputObject(_))) {
            return Vec::new();
        }
        self.input_fields(name)
            .iter()
            .flat_map(|field| {
                self.text_paths(field, depth + 1)
                    .into_iter()
                    .map(|mut path| {
                        path.insert(0, input.name.clone());
                        path
                    })
            })
            .collect()
    }

    /// `{ __typename }` for a composite type, nothing for a leaf.
    pub fn least_selection(&self, ty: &Type) -> &'static str {
        if self.is_composite(named(ty)) {
            " { __typename }"
        } else {
            ""
        }
    }
}

pub fn global_id(type_name: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{type_name}:{}", uuid::Uuid::now_v7()))
}

/// Puts `leaf` at `path` inside `value` (an object built by [`Schema::minimal`]).
fn set_path(value: &mut Value, path: &[String], leaf: Value, ty: &Type, schema: &Schema) {
    let Some((first, rest)) = path.split_first() else {
        *value = leaf;
        return;
    };
    if !value.is_object() {
        *value = json!({});
    }
    let inner_ty = schema
        .input_fields(named(ty))
        .into_iter()
        .find(|f| f.name == *first)
        .map(|f| f.ty)
        .unwrap_or_else(|| ty.clone());
    let slot = value
        .as_object_mut()
        .map(|o| o.entry(first.clone()).or_insert(Value::Null));
    if let Some(slot) = slot {
        let list = matches!(inner_ty.base, BaseType::List(_));
        if rest.is_empty() {
            *slot = if list { json!([leaf]) } else { leaf };
        } else {
            set_path(slot, rest, leaf, &inner_ty, schema);
        }
    }
}

/// The GraphQL literal for a JSON value of `ty` (enums bare, strings escaped).
fn literal(schema: &Schema, value: &Value, ty: &Type) -> String {
    match (value, &ty.base) {
        (Value::Array(items), BaseType::List(inner)) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| literal(schema, i, inner))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Value::Object(fields), _) => {
            let inputs = schema.input_fields(named(ty));
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    let field_ty = inputs
                        .iter()
                        .find(|f| f.name == *k)
                        .map_or_else(|| ty.clone(), |f| f.ty.clone());
                    format!("{k}: {}", literal(schema, v, &field_ty))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        (Value::String(s), _) if matches!(schema.types.get(named(ty)), Some(TypeKind::Enum(_))) => {
            s.clone()
        }
        (other, _) => other.to_string(),
    }
}

fn roots() -> [(&'static str, &'static str); 3] {
    [
        ("Query", "query"),
        ("Mutation", "mutation"),
        ("Subscription", "subscription"),
    ]
}

/// One request: the operation, its variables, and who sends it.
async fn send(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: &Value,
) -> (u16, Value, Duration) {
    let started = Instant::now();
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }))
        .timeout(Duration::from_secs(10));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, body, started.elapsed())
}

fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn fuzz_control_characters_in_every_string_argument_are_refused() {
    let app = spawn_app().await;
    let token = app.member("nul_tester").await;
    let schema = Schema::load();
    let mut ws = app.ws_connect("graphql-transport-ws", None).await;
    let mut checked = 0;
    for (root, keyword) in roots() {
        for field in schema.fields(root) {
            if !field
                .args
                .iter()
                .all(|a| a.ty.nullable || schema.writable(&a.ty, 0))
            {
                continue;
            }
            for (index, arg) in field.args.iter().enumerate() {
                if !schema.writable(&arg.ty, 0) {
                    continue;
                }
                for path in schema.text_paths(arg, 0) {
                    for bad in ["a\u{0}b", "\u{1b}[2J"] {
                        // Every other required argument gets a plausible value.
                        let mut values: Vec<Value> =
                            field.args.iter().map(|a| schema.minimal(&a.ty)).collect();
                        set_path(&mut values[index], &path[1..], json!(bad), &arg.ty, &schema);
                        let used: Vec<usize> = (0..field.args.len())
                            .filter(|i| *i == index || !field.args[*i].ty.nullable)
                            .collect();
                        let selection = schema.least_selection(&field.ty);
                        // Once through variables, once as literals in the document.
                        let declared: Vec<String> = used
                            .iter()
                            .map(|i| format!("$v{i}: {}", field.args[*i].ty))
                            .collect();
                        let passed: Vec<String> = used
                            .iter()
                            .map(|i| format!("{}: $v{i}", field.args[*i].name))
                            .collect();
                        let variables: serde_json::Map<String, Value> = used
                            .iter()
                            .map(|i| (format!("v{i}"), values[*i].clone()))
                            .collect();
                        let by_variables = format!(
                            "{keyword}{} {{ {}{}{selection} }}",
                            if declared.is_empty() {
                                String::new()
                            } else {
                                format!("({})", declared.join(", "))
                            },
                            field.name,
                            if passed.is_empty() {
                                String::new()
                            } else {
                                format!("({})", passed.join(", "))
                            },
                        );
                        let inline: Vec<String> = used
                            .iter()
                            .map(|i| {
                                format!(
                                    "{}: {}",
                                    field.args[*i].name,
                                    literal(&schema, &values[*i], &field.args[*i].ty)
                                )
                            })
                            .collect();
                        let by_literal = format!(
                            "{keyword} {{ {}({}){selection} }}",
                            field.name,
                            inline.join(", ")
                        );
                        let expected_field = path.last().unwrap().as_str();
                        for (query, variables) in [
                            (by_variables, Value::Object(variables)),
                            (by_literal, json!({})),
                        ] {
                            let body = if keyword == "subscription" {
                                ws.send(json!({ "id": "s", "type": "subscribe", "payload": { "query": query, "variables": variables } })).await;
                                // A refused subscription answers `error`, or `next` with the
                                // errors and then `complete`.
                                let reply = ws.next_json().await;
                                if reply["type"] == "next" {
                                    let done = ws.next_json().await;
                                    assert_eq!(done["type"], "complete", "{done}");
                                    reply["payload"].clone()
                                } else {
                                    json!({ "errors": reply["payload"] })
                                }
                            } else {
                                send(&app, Some(&token), &query, &variables).await.1
                            };
                            assert_eq!(
                                codes(&body).first().map(String::as_str),
                                Some("BAD_USER_INPUT"),
                                "{query} {variables}: {body}"
                            );
                            assert_eq!(
                                body["errors"][0]["extensions"]["field"], expected_field,
                                "{query}: {body}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    // Every string argument of the schema, twice each way: hundreds of operations.
    assert!(checked > 200, "only {checked} operations were built");
    println!("{checked} operations with control characters, each refused as BAD_USER_INPUT");
}

/// Strings a fuzzer tries.
const STRINGS: &[&str] = &[
    "",
    "rust",
    "ada",
    "  spaced  ",
    "a\u{0}b",
    "\u{7}\u{8}",
    "🦀 ünïcödé",
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
    "%00",
    "../../etc/passwd",
    "https://127.0.0.1/x",
    "javascript:alert(1)",
    "a@b.c",
    "***",
    "[[[[[[",
    "\\u0000",
    "2030-01-01T00:00:00Z",
    "not a date",
    "eyJhbGciOiJub25lIn0",
];

struct Fuzzer<'a> {
    schema: &'a Schema,
    rng: StdRng,
    /// IDs of objects that exist, so operations reach past "not found".
    ids: Vec<String>,
}

impl Fuzzer<'_> {
    fn string(&mut self) -> String {
        match self.rng.random_range(0..12) {
            0 => "x".repeat(self.rng.random_range(200..70_000)),
            1 => global_id(
                ["Article", "User", "Comment", "Tag", "Session", "Nope"]
                    [self.rng.random_range(0..6)],
            ),
            2..=5 if !self.ids.is_empty() => {
                self.ids[self.rng.random_range(0..self.ids.len())].clone()
            }
            _ => STRINGS[self.rng.random_range(0..STRINGS.len())].to_owned(),
        }
    }

    fn int(&mut self) -> Value {
        let choices = [
            0i64,
            1,
            -1,
            2,
            20,
            100,
            101,
            1000,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            1 << 40,
        ];
        json!(choices[self.rng.random_range(0..choices.len())])
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Value {
        if ty.nullable && self.rng.random_bool(0.15) {
            return Value::Null;
        }
        if let BaseType::List(inner) = &ty.base {
            let n = match self.rng.random_range(0..8) {
                0 => 150,
                n => n % 4,
            };
            return Value::Array((0..n).map(|_| self.value(inner, depth + 1)).collect());
        }
        let name = named(ty).to_owned();
        match name.as_str() {
            "String" | "ID" | "DateTime" => json!(self.string()),
            "Int" => self.int(),
            "Float" => json!([0.0, -1.5, 1e300, 3.25][self.rng.random_range(0..4)]),
            "Boolean" => json!(self.rng.random_bool(0.5)),
            "JSON" => json!({ "a": [1, 2, { "b": "c" }] }),
            _ => match self.schema.types.get(&name) {
                Some(TypeKind::Enum(_)) => {
                    let values = self.schema.enum_values(&name);
                    if self.rng.random_bool(0.02) {
                        json!("NOT_A_VALUE")
                    } else {
                        json!(values[self.rng.random_range(0..values.len())])
                    }
                }
                Some(TypeKind::InputObject(_)) if depth < 5 => {
                    let mut object = serde_json::Map::new();
                    for field in self.schema.input_fields(&name) {
                        if named(&field.ty) == "Upload" {
                            continue;
                        }
                        if !field.ty.nullable || self.rng.random_bool(0.6) {
                            object.insert(field.name.clone(), self.value(&field.ty, depth + 1));
                        }
                    }
                    Value::Object(object)
                }
                _ => Value::Null,
            },
        }
    }

    /// A selection set for `ty`, with arguments as variables (declared in `vars`).
    fn selection(
        &mut self,
        ty: &Type,
        depth: usize,
        vars: &mut Vec<(String, Type, Value)>,
    ) -> String {
        let name = named(ty).to_owned();
        if !self.schema.is_composite(&name) {
            return String::new();
        }
        let possible = self.schema.possible_types(&name);
        if !possible.is_empty() {
            let target = possible[self.rng.random_range(0..possible.len())].clone();
            let inner = self.fields_of(&target, depth, vars);
            return format!(" {{ __typename ... on {target}{inner} }}");
        }
        let inner = self.fields_of(&name, depth, vars);
        if inner.is_empty() {
            " { __typename }".to_owned()
        } else {
            inner
        }
    }

    fn fields_of(
        &mut self,
        type_name: &str,
        depth: usize,
        vars: &mut Vec<(String, Type, Value)>,
    ) -> String {
        let fields: Vec<Field> = self
            .schema
            .fields(type_name)
            .into_iter()
            .filter(|f| {
                f.args
                    .iter()
                    .all(|a| a.ty.nullable || self.schema.writable(&a.ty, 0))
            })
            .collect();
        if fields.is_empty() || depth > 3 {
            return String::new();
        }
        let mut parts = vec!["__typename".to_owned()];
        for _ in 0..self.rng.random_range(1..5) {
            let field = fields[self.rng.random_range(0..fields.len())].clone();
            let args = self.arguments(&field, vars);
            let below = self.selection(&field.ty, depth + 1, vars);
            let alias = format!("f{}", vars.len() + parts.len());
            parts.push(format!("{alias}: {}{args}{below}", field.name));
        }
        format!(" {{ {} }}", parts.join(" "))
    }

    fn arguments(&mut self, field: &Field, vars: &mut Vec<(String, Type, Value)>) -> String {
        let mut passed = Vec::new();
        for arg in &field.args {
            if !self.schema.writable(&arg.ty, 0) || (arg.ty.nullable && self.rng.random_bool(0.4)) {
                continue;
            }
            let name = format!("v{}", vars.len());
            let value = self.value(&arg.ty, 0);
            passed.push(format!("{}: ${name}", arg.name));
            vars.push((name, arg.ty.clone(), value));
        }
        if passed.is_empty() {
            String::new()
        } else {
            format!("({})", passed.join(", "))
        }
    }

    /// A random query or mutation: its text and variables.
    fn operation(&mut self) -> (String, Value) {
        let (root, keyword) = roots()[self.rng.random_range(0..2)];
        let mut vars = Vec::new();
        let fields: Vec<Field> = self
            .schema
            .fields(root)
            .into_iter()
            .filter(|f| {
                f.args
                    .iter()
                    .all(|a| a.ty.nullable || self.schema.writable(&a.ty, 0))
            })
            .collect();
        let field = fields[self.rng.random_range(0..fields.len())].clone();
        let args = self.arguments(&field, &mut vars);
        let selection = self.selection(&field.ty, 1, &mut vars);
        let declared: Vec<String> = vars.iter().map(|(n, t, _)| format!("${n}: {t}")).collect();
        let values: serde_json::Map<String, Value> =
            vars.into_iter().map(|(n, _, v)| (n, v)).collect();
        let head = if declared.is_empty() {
            keyword.to_owned()
        } else {
            format!("{keyword}({})", declared.join(", "))
        };
        (
            format!("{head} {{ {}{args}{selection} }}", field.name),
            Value::Object(values),
        )
    }
}

#[tokio::test]
async fn fuzz_random_operations_never_fail_on_our_side() {
    let cases: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(11);
    let app = spawn_app().await;
    // Content to act on, and members of each rank.
    let author = app.member("fuzz_author").await;
    let created = app
        .ok(
            Some(&author),
            "mutation { createArticle(input: { title: \"Fuzzed\", bodyMarkdown: \"hello @fuzz_author\", published: true, tags: [\"rust\"] }) { userErrors { field message code } article { id author { id } tags { id } } } }",
            json!({}),
        )
        .await;
    let article = created["createArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let comment = app
        .ok(
            Some(&author),
            "mutation($a: ID!) { createComment(input: { articleId: $a, bodyMarkdown: \"first\" }) { userErrors { field message code } comment { id } } }",
            json!({ "a": article }),
        )
        .await["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = vec![article, comment];
    ids.push(
        created["createArticle"]["article"]["author"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    ids.push(
        created["createArticle"]["article"]["tags"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let mut tokens: Vec<Option<String>> = vec![None, Some(author)];
    for (name, role) in [
        ("fuzz_member", None),
        ("fuzz_mod", Some("moderator")),
        ("fuzz_admin", Some("admin")),
    ] {
        let token = app.member(name).await;
        if let Some(role) = role {
            app.set_role(name, role).await;
        }
        tokens.push(Some(token));
    }
    let schema = Schema::load();
    let mut fuzzer = Fuzzer {
        schema: &schema,
        rng: StdRng::seed_from_u64(seed),
        ids,
    };
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut errors_seen: HashMap<String, usize> = HashMap::new();
    let mut messages: HashMap<String, usize> = HashMap::new();
    for case in 0..cases {
        let (query, variables) = fuzzer.operation();
        let who = fuzzer.rng.random_range(0..tokens.len());
        let (status, body, took) = send(&app, tokens[who].as_deref(), &query, &variables).await;
        slowest = slowest.max(took);
        for code in codes(&body) {
            *errors_seen.entry(code).or_default() += 1;
        }
        if std::env::var("FUZZ_VERBOSE").is_ok()
            && let Some(message) = body["errors"][0]["message"].as_str()
        {
            let short: String = message.chars().take(60).collect();
            *messages.entry(short).or_default() += 1;
        }
        if status >= 500
            || codes(&body).iter().any(|c| c == "INTERNAL_SERVER_ERROR")
            || took > Duration::from_secs(1)
        {
            failures.push(format!(
                "case {case} ({status}, {took:?}): {query}\n  variables: {}\n  answer: {body}",
                truncate(&variables.to_string())
            ));
        }
        // A fuzzed mutation may end its own session (logout, password change): sign in anew.
        if status == 401 {
            let name = format!("fuzz_again_{case}");
            tokens[who] = Some(app.member(&name).await);
        }
        // Some mutations queue jobs; run them too, since their handlers see fuzzed data.
        if case % 25 == 24 {
            for outcome in app.drain_jobs().await {
                if let vibecoding::worker::Outcome::Dead { kind, error } = outcome {
                    failures.push(format!("job {kind} died: {error}"));
                }
            }
        }
    }
    println!(
        "{cases} operations (seed {seed}); slowest answer {slowest:?}; error codes {errors_seen:?}"
    );
    let mut common: Vec<_> = messages.into_iter().collect();
    common.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    for (message, n) in common.iter().take(25) {
        println!("{n:5} {message}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn truncate(text: &str) -> String {
    if text.len() > 600 {
        format!(
            "{}... ({} bytes)",
            &text[..text.floor_char_boundary(600)],
            text.len()
        )
    } else {
        text.to_owned()
    }
}
