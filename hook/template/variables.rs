//! Organisation variables: `_variables.json` beside the templates, an object of values that
//! placeholders such as `{{orgId}}` take, with plain names that do not shadow the built-in
//! ones (`accountId`, `region`, ...).

use serde_json::{Map, Value};

use crate::decision::is_builtin_variable;
use crate::template::store::StoreError;

/// Why the organisation variables cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VariablesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("must be a JSON object of variable names to values")]
    NotAnObject,
    #[error(transparent)]
    Name(#[from] VariableNameError),
}

/// A name that cannot be an organisation variable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VariableNameError {
    #[error("`{name}` is not a valid variable name (letters, digits and _)")]
    NotPlain { name: String },
    #[error("`{name}` is a built-in name and cannot be an organisation variable")]
    Builtin { name: String },
}

/// Parses `_variables.json`.
pub(crate) fn parse_variables(body: &[u8]) -> Result<Map<String, Value>, VariablesError> {
    let value = crate::json::from_slice(body).map_err(VariablesError::NotJson)?;
    let Value::Object(map) = value else {
        return Err(VariablesError::NotAnObject);
    };
    for name in map.keys() {
        check_variable_name(name)?;
    }
    Ok(map)
}

/// An organisation variable name: letters, digits and `_`, not starting with a digit, not a
/// built-in variable and not `json`.
pub fn check_variable_name(name: &str) -> Result<(), VariableNameError> {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(VariableNameError::NotPlain { name: name.to_owned() });
    }
    if is_builtin_variable(name) || name == "json" {
        return Err(VariableNameError::Builtin { name: name.to_owned() });
    }
    Ok(())
}
