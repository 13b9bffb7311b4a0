//! The schema read as a client developer reads it: the rules of graphql-schema-linter's
//! description and Relay checks, written over the exported SDL.

use std::collections::HashMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    FieldDefinition, InputValueDefinition, TypeKind, TypeSystemDefinition,
};

/// Every rule the SDL breaks, one line each.
fn findings(sdl: &str) -> Vec<String> {
    let document = parse_schema(sdl).expect("the exported SDL parses");
    let types: Vec<_> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => Some(&t.node),
            _ => None,
        })
        .collect();
    let fields_of: HashMap<&str, &Vec<_>> = types
        .iter()
        .filter_map(|t| match &t.kind {
            TypeKind::Object(o) => Some((t.name.node.as_str(), &o.fields)),
            TypeKind::Interface(i) => Some((t.name.node.as_str(), &i.fields)),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    let described = |d: &Option<async_graphql::Positioned<String>>| {
        d.as_ref().is_some_and(|d| !d.node.trim().is_empty())
    };
    let args = |found: &mut Vec<String>,
                owner: &str,
                args: &[async_graphql::Positioned<InputValueDefinition>]| {
        for a in args {
            if !described(&a.node.description) {
                found.push(format!("{owner}({}:) has no description", a.node.name.node));
            }
        }
    };
    for t in &types {
        let name = t.name.node.as_str();
        if !described(&t.description) {
            found.push(format!("type {name} has no description"));
        }
        match &t.kind {
            TypeKind::Object(o) => {
                check_fields(&mut found, name, &o.fields, &fields_of, &args, &described);
                let has_id = o
                    .fields
                    .iter()
                    .any(|f| f.node.name.node == "id" && f.node.ty.node.to_string() == "ID!");
                let is_node = o.implements.iter().any(|i| i.node == "Node");
                if has_id && !is_node {
                    found.push(format!("{name} has an id but does not implement Node"));
                }
            }
            TypeKind::Interface(i) => {
                check_fields(&mut found, name, &i.fields, &fields_of, &args, &described);
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if !described(&v.node.description) {
                        found.push(format!("{name}.{} has no description", v.node.value.node));
                    }
                }
            }
            TypeKind::InputObject(i) => args(&mut found, name, &i.fields),
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
        if let Some(connection) = name.strip_suffix("Connection") {
            relay_connection(&mut found, name, connection, &fields_of);
        }
    }
    let inputs: HashMap<&str, &Vec<_>> = types
        .iter()
        .filter_map(|t| match &t.kind {
            TypeKind::InputObject(i) => Some((t.name.node.as_str(), &i.fields)),
            _ => None,
        })
        .collect();
    mutation_shape(&mut found, &fields_of, &inputs);
    found
}

/// Relay's mutation rules, and ours: `name(input: NameInput!): NamePayload!`, the input
/// carrying `clientMutationId: String`, the payload returning it and `userErrors`.
fn mutation_shape(
    found: &mut Vec<String>,
    fields_of: &HashMap<&str, &Vec<async_graphql::Positioned<FieldDefinition>>>,
    inputs: &HashMap<&str, &Vec<async_graphql::Positioned<InputValueDefinition>>>,
) {
    let Some(mutations) = fields_of.get("Mutation") else {
        return;
    };
    for m in mutations.iter() {
        let name = m.node.name.node.as_str();
        let pascal = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
        let (input, payload) = (format!("{pascal}Input"), format!("{pascal}Payload"));
        let arguments: Vec<String> = m
            .node
            .arguments
            .iter()
            .map(|a| format!("{}: {}", a.node.name.node, a.node.ty.node))
            .collect();
        if arguments != [format!("input: {input}!")] {
            found.push(format!(
                "Mutation.{name} takes {arguments:?}, not input: {input}!"
            ));
        }
        let has_id = inputs.get(input.as_str()).is_some_and(|fields| {
            fields.iter().any(|f| {
                f.node.name.node == "clientMutationId" && f.node.ty.node.to_string() == "String"
            })
        });
        if !has_id {
            found.push(format!("{input} has no clientMutationId: String"));
        }
        if m.node.ty.node.to_string() != format!("{payload}!") {
            found.push(format!("Mutation.{name} does not return {payload}!"));
        }
        let field_type = |field: &str| {
            fields_of.get(payload.as_str()).and_then(|fields| {
                fields
                    .iter()
                    .find(|f| f.node.name.node == field)
                    .map(|f| f.node.ty.node.to_string())
            })
        };
        if field_type("clientMutationId").as_deref() != Some("String") {
            found.push(format!("{payload}.clientMutationId is not String"));
        }
        if field_type("userErrors").as_deref() != Some("[UserError!]!") {
            found.push(format!("{payload}.userErrors is not [UserError!]!"));
        }
    }
}

fn check_fields(
    found: &mut Vec<String>,
    owner: &str,
    fields: &[async_graphql::Positioned<FieldDefinition>],
    fields_of: &HashMap<&str, &Vec<async_graphql::Positioned<FieldDefinition>>>,
    args: &impl Fn(&mut Vec<String>, &str, &[async_graphql::Positioned<InputValueDefinition>]),
    described: &impl Fn(&Option<async_graphql::Positioned<String>>) -> bool,
) {
    for f in fields {
        let field = &f.node;
        let path = format!("{owner}.{}", field.name.node);
        if !described(&field.description) {
            found.push(format!("{path} has no description"));
        }
        args(found, &path, &field.arguments);
        // Relay: a connection field pages forward, backward or both, with both halves of a
        // direction.
        let returns = field.ty.node.to_string();
        let returns = returns.trim_end_matches('!');
        if returns.ends_with("Connection") && fields_of.contains_key(returns) {
            let has = |n: &str| field.arguments.iter().any(|a| a.node.name.node == n);
            let forward = has("first") && has("after");
            let backward = has("last") && has("before");
            if !(forward || backward)
                || has("first") != has("after")
                || has("last") != has("before")
            {
                found.push(format!(
                    "{path} returns {returns} without Relay paging arguments"
                ));
            }
        }
    }
}

/// Relay's connection, edge and page-info rules.
fn relay_connection(
    found: &mut Vec<String>,
    name: &str,
    item: &str,
    fields_of: &HashMap<&str, &Vec<async_graphql::Positioned<FieldDefinition>>>,
) {
    let field_type = |owner: &str, field: &str| -> Option<String> {
        fields_of.get(owner).and_then(|fields| {
            fields
                .iter()
                .find(|f| f.node.name.node == field)
                .map(|f| f.node.ty.node.to_string())
        })
    };
    let edge = format!("{item}Edge");
    if field_type(name, "edges").as_deref() != Some(&format!("[{edge}!]!")) {
        found.push(format!("{name}.edges is not [{edge}!]!"));
    }
    if field_type(name, "pageInfo").as_deref() != Some("PageInfo!") {
        found.push(format!("{name}.pageInfo is not PageInfo!"));
    }
    if field_type(&edge, "cursor").as_deref() != Some("String!") {
        found.push(format!("{edge}.cursor is not String!"));
    }
    if field_type(&edge, "node").is_none() {
        found.push(format!("{edge} has no node"));
    }
    for (field, ty) in [
        ("hasNextPage", "Boolean!"),
        ("hasPreviousPage", "Boolean!"),
        ("startCursor", "String"),
        ("endCursor", "String"),
    ] {
        if field_type("PageInfo", field).as_deref() != Some(ty) {
            found.push(format!("PageInfo.{field} is not {ty}"));
        }
    }
}

#[test]
fn every_type_field_argument_and_value_is_described_and_connections_follow_relay() {
    let found = findings(&vibecoding::graphql::sdl());
    assert!(
        found.is_empty(),
        "{} findings:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_rules_find_what_they_look_for() {
    let sdl = r#"
        type Query { things(first: Int): ThingConnection! id: ID! }
        type Mutation { paint(colour: Colour): Boolean! }
        type ThingConnection { edges: [Thing!]! }
        type Thing { id: ID! }
        enum Colour { RED }
    "#;
    let found = findings(sdl);
    for expected in [
        "type Query has no description",
        "Query.things has no description",
        "Query.things(first:) has no description",
        "Query.things returns ThingConnection without Relay paging arguments",
        "Thing has an id but does not implement Node",
        "ThingConnection.edges is not [ThingEdge!]!",
        "ThingConnection.pageInfo is not PageInfo!",
        "ThingEdge has no node",
        "Colour.RED has no description",
        "Mutation.paint takes [\"colour: Colour\"], not input: PaintInput!",
        "PaintInput has no clientMutationId: String",
        "Mutation.paint does not return PaintPayload!",
        "PaintPayload.userErrors is not [UserError!]!",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected}: {found:#?}"
        );
    }
}
