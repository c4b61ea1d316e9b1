//! Organisation variables: `_variables.json` beside the templates, an object of values that
//! placeholders such as `{{orgId}}` take, with plain names that do not shadow the built-in
//! ones (`accountId`, `region`, ...).

use serde_json::{Map, Value};

use crate::decision::{VariableNameError, check_variable_name};
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
