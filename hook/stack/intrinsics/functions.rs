//! The intrinsic functions that build values: `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`,
//! `Fn::Select`, `Fn::Split`, `Fn::FindInMap` and `Fn::Cidr` (`Ref` is in `parameters`,
//! `Fn::If` and the condition functions in `conditions`).

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use super::{Eval, ResolveError, Scenario, Stop, Unknown, invalid, text_of};
use crate::stack::read::{get_att_parts, intrinsic_function};

impl Scenario<'_> {
    pub(super) fn get_att(&self, arguments: &Value) -> Stop {
        let (resource, attribute) = get_att_parts(arguments);
        match resource {
            Some(resource) if !self.facts.resources.contains_key(resource) && !self.facts.transform_adds_resources => {
                ResolveError::Undefined { function: "Fn::GetAtt".into(), name: resource.to_owned() }.into()
            }
            Some(resource) => Stop::Unknown(Unknown::new(
                "Fn::GetAtt",
                format!("attribute {}.{} is known only at deploy time", resource, attribute.unwrap_or("?")),
            )),
            None => invalid("Fn::GetAtt", "needs [resource, attribute]").into(),
        }
    }

    pub(super) fn sub(&mut self, arguments: &Value) -> Eval<String> {
        // The string may itself come from a function (`Fn::Transform`, `Fn::FindInMap`, ...).
        let evaluated;
        let (text, variables) = match arguments {
            Value::String(text) => (text.as_str(), None),
            Value::Array(parts) => match parts.as_slice() {
                [text, Value::Object(variables)] if intrinsic_function(&parts[1]).is_none() => {
                    evaluated = self.eval_text(text, "Fn::Sub")?;
                    (evaluated.as_str(), Some(variables))
                }
                [text] => {
                    evaluated = self.eval_text(text, "Fn::Sub")?;
                    (evaluated.as_str(), None)
                }
                _ => return Err(invalid("Fn::Sub", "needs a string, or [string, {variables}]").into()),
            },
            Value::Object(_) if intrinsic_function(arguments).is_some() => {
                evaluated = self.eval_text(arguments, "Fn::Sub")?;
                (evaluated.as_str(), None)
            }
            _ => return Err(invalid("Fn::Sub", "needs a string, or [string, {variables}]").into()),
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(invalid("Fn::Sub", format!("unclosed ${{ in {text:?}")).into());
            };
            // CloudFormation allows spaces inside the braces: `${ Name }`.
            let name = after[..end].trim();
            if let Some(literal) = after[..end].strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                out.push_str(&self.sub_variable(name, variables)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    pub(super) fn sub_variable(&mut self, name: &str, variables: Option<&Map<String, Value>>) -> Eval<String> {
        if let Some(value) = variables.and_then(|v| v.get(name)) {
            return self.eval_text(value, "Fn::Sub");
        }
        if !name.starts_with("AWS::")
            && let Some((resource, _)) = name.split_once('.')
        {
            return Err(self.get_att(&Value::String(name.to_owned())).or_undefined(resource));
        }
        let value = self.reference(name, "Fn::Sub")?;
        text_of(&value).ok_or_else(|| invalid("Fn::Sub", format!("${{{name}}} is a list, not a string")).into())
    }

    pub(super) fn join(&mut self, arguments: &Value) -> Eval<String> {
        let Some([delimiter, list]) = arguments.as_array().map(Vec::as_slice) else {
            return Err(invalid("Fn::Join", "needs [delimiter, [values]]").into());
        };
        let delimiter = self.eval_text(delimiter, "Fn::Join")?;
        let Value::Array(items) = self.eval(list)? else {
            return Err(invalid("Fn::Join", "the second argument must be a list").into());
        };
        let texts: Option<Vec<String>> = items.iter().map(text_of).collect();
        texts.map(|t| t.join(&delimiter)).ok_or_else(|| invalid("Fn::Join", "can only join strings").into())
    }

    pub(super) fn select(&mut self, arguments: &Value) -> Eval<Value> {
        let Some([index, list]) = arguments.as_array().map(Vec::as_slice) else {
            return Err(invalid("Fn::Select", "needs [index, [values]]").into());
        };
        let index_text = self.eval_text(index, "Fn::Select")?;
        let index: usize =
            index_text.trim().parse().map_err(|_| invalid("Fn::Select", format!("{index_text:?} is not an index")))?;
        let out_of_range =
            |len: usize| invalid("Fn::Select", format!("index {index} is out of range for {len} values"));
        // A list written out is picked from item by item, so that an unknown item that is not
        // selected does not make the selection unknown. CloudFormation removes `AWS::NoValue`
        // items before it selects, so the index counts only the items that remain: an item
        // that may or may not be removed (an `Fn::If` decided at deploy time) before the index
        // makes the selection unknown.
        if let Value::Array(items) = list {
            let mut remaining = index;
            for item in items {
                match self.eval(item) {
                    Err(Stop::NoValue) => {}
                    Err(Stop::Unknown(unknown)) if intrinsic_function(item) == Some("Fn::If") => {
                        return Err(Stop::Unknown(Unknown::new(
                            "Fn::Select",
                            format!(
                                "which item is selected depends on whether an item is removed at deploy time ({})",
                                unknown.reason
                            ),
                        )));
                    }
                    Err(Stop::Unknown(unknown)) if remaining == 0 => return Err(Stop::Unknown(unknown)),
                    Ok(value) if remaining == 0 => return Ok(value),
                    Err(Stop::Invalid(error)) => return Err(Stop::Invalid(error)),
                    Ok(_) | Err(Stop::Unknown(_)) => remaining -= 1,
                }
            }
            return Err(out_of_range(index - remaining).into());
        }
        match self.eval(list)? {
            Value::Array(items) => items.get(index).cloned().ok_or_else(|| out_of_range(items.len()).into()),
            _ => Err(invalid("Fn::Select", "the second argument must be a list").into()),
        }
    }

    pub(super) fn split(&mut self, arguments: &Value) -> Eval<Value> {
        let Some([delimiter, source]) = arguments.as_array().map(Vec::as_slice) else {
            return Err(invalid("Fn::Split", "needs [delimiter, string]").into());
        };
        let delimiter = self.eval_text(delimiter, "Fn::Split")?;
        if delimiter.is_empty() {
            return Err(invalid("Fn::Split", "the delimiter is empty").into());
        }
        let source = self.eval_text(source, "Fn::Split")?;
        Ok(Value::Array(source.split(delimiter.as_str()).map(|s| Value::String(s.to_owned())).collect()))
    }

    pub(super) fn find_in_map(&mut self, arguments: &Value) -> Eval<Value> {
        let parts = arguments.as_array().map(Vec::as_slice).unwrap_or_default();
        let (map, top, second, default) = match parts {
            [map, top, second] => (map, top, second, None),
            [map, top, second, Value::Object(options)] => (map, top, second, options.get("DefaultValue")),
            _ => return Err(invalid("Fn::FindInMap", "needs [mapping, top-level key, second-level key]").into()),
        };
        let map = self.eval_text(map, "Fn::FindInMap")?;
        let top = self.eval_text(top, "Fn::FindInMap")?;
        let second = self.eval_text(second, "Fn::FindInMap")?;
        let found = self.facts.mappings.get(&map).and_then(|m| m.get(&top)).and_then(|t| t.get(&second));
        match (found, default) {
            (Some(value), _) => Ok(self.choose_readings(value)),
            (None, Some(default)) => self.eval(default),
            (None, None) => Err(ResolveError::NotInMapping { map, top_key: top, second_key: second }.into()),
        }
    }

    pub(super) fn cidr(&mut self, arguments: &Value) -> Eval<Value> {
        let Some([block, count, bits]) = arguments.as_array().map(Vec::as_slice) else {
            return Err(invalid("Fn::Cidr", "needs [ipBlock, count, cidrBits]").into());
        };
        let block = self.eval_text(block, "Fn::Cidr")?;
        let count = self.eval_text(count, "Fn::Cidr")?;
        let bits = self.eval_text(bits, "Fn::Cidr")?;
        cidr_subnets(&block, &count, &bits).map_err(|reason| invalid("Fn::Cidr", reason).into())
    }
}

trait OrUndefined {
    fn or_undefined(self, name: &str) -> Stop;
}

impl OrUndefined for Stop {
    /// `${Name.Attribute}` where `Name` is no resource: an undefined name in `Fn::Sub`.
    fn or_undefined(self, name: &str) -> Stop {
        match self {
            Stop::Invalid(ResolveError::Undefined { .. }) => {
                ResolveError::Undefined { function: "Fn::Sub".into(), name: name.to_owned() }.into()
            }
            other => other,
        }
    }
}

/// `Fn::Cidr`: `count` subnets of `2^bits` addresses each, carved from the start of `block`.
pub(super) fn cidr_subnets(block: &str, count: &str, bits: &str) -> Result<Value, String> {
    let (address, prefix) = block.split_once('/').ok_or_else(|| format!("{block:?} is not a CIDR block"))?;
    let prefix: u32 = prefix.parse().map_err(|_| format!("{block:?} is not a CIDR block"))?;
    let count: u32 = count.parse().map_err(|_| format!("{count:?} is not a count"))?;
    let bits: u32 = bits.parse().map_err(|_| format!("{bits:?} is not a number of bits"))?;
    if !(1..=256).contains(&count) {
        return Err(format!("count {count} is not between 1 and 256"));
    }
    let (start, width) = if let Ok(v4) = address.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32)
    } else {
        let v6: Ipv6Addr = address.parse().map_err(|_| format!("{address:?} is not an IP address"))?;
        (u128::from(v6), 128)
    };
    if prefix > width || bits == 0 || bits > width - prefix {
        return Err(format!("{bits} bits do not fit in {block}"));
    }
    let subnets_available = 1u128 << (width - prefix - bits).min(127);
    if u128::from(count) > subnets_available {
        return Err(format!("{block} has room for {subnets_available} subnets of {bits} bits, not {count}"));
    }
    let host_mask = if width - prefix >= 128 { u128::MAX } else { (1u128 << (width - prefix)) - 1 };
    let network = start & !host_mask;
    let subnet_prefix = width - bits;
    let subnets = (0..u128::from(count)).map(|i| {
        // `bits` may be the whole width (single addresses); then only `i == 0` is asked for.
        let address = network + i.checked_shl(bits).unwrap_or(0);
        let shown = if width == 32 {
            Ipv4Addr::from(u32::try_from(address).unwrap_or_default()).to_string()
        } else {
            Ipv6Addr::from(address).to_string()
        };
        Value::String(format!("{shown}/{subnet_prefix}"))
    });
    Ok(Value::Array(subnets.collect()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cidr_blocks() {
        assert_eq!(cidr_subnets("10.0.0.0/16", "3", "8"), Ok(json!(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])));
        assert_eq!(cidr_subnets("2001:db8::/56", "2", "64"), Ok(json!(["2001:db8::/64", "2001:db8:0:1::/64"])));
        assert!(cidr_subnets("10.0.0.0/24", "3", "8").is_err());
        assert!(cidr_subnets("nonsense", "1", "8").is_err());
        assert_eq!(cidr_subnets("::/0", "1", "128"), Ok(json!(["::/0"])));
    }
}
