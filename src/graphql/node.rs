//! Opaque global IDs for Relay object identification.
//!
//! A global ID is `base64url("<Type>:<uuid>")`. Clients treat it as opaque; inside the
//! server it becomes a typed ID before it reaches a service.

use async_graphql::ID;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// An entity type that can be fetched by global ID.
pub trait NodeType {
    const TYPE_NAME: &'static str;
}

pub fn encode(type_name: &str, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// Splits a global ID into its type name and UUID; `BAD_USER_INPUT` when it is not one.
pub fn decode(id: &ID) -> AppResult<(String, Uuid)> {
    let invalid = || AppError::bad_input("id", format!("\"{}\" is not a valid ID", id.as_str()));
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (type_name, raw) = text.split_once(':').ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(raw).map_err(|_| invalid())?;
    Ok((type_name.to_owned(), uuid))
}

/// Decodes an ID that must name an entity of type `T`.
pub fn decode_as<T: NodeType>(id: &ID) -> AppResult<Uuid> {
    match decode(id)? {
        (type_name, uuid) if type_name == T::TYPE_NAME => Ok(uuid),
        _ => Err(AppError::bad_input(
            "id",
            format!("\"{}\" is not the ID of a {}", id.as_str(), T::TYPE_NAME),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing;
    impl NodeType for Thing {
        const TYPE_NAME: &'static str = "Thing";
    }

    #[test]
    fn ids_round_trip_and_check_their_type() {
        let uuid = Uuid::now_v7();
        let id = encode("Thing", uuid);
        assert_eq!(decode(&id).unwrap(), ("Thing".to_owned(), uuid));
        assert_eq!(decode_as::<Thing>(&id).unwrap(), uuid);
        assert!(decode_as::<Thing>(&encode("Other", uuid)).is_err());
        assert!(decode(&ID("not an id".into())).is_err());
        assert!(decode(&ID(URL_SAFE_NO_PAD.encode("Thing:42"))).is_err());
    }
}
