//! Parameters and pseudo parameters: what `Ref` gives in a scenario. A parameter with allowed
//! values takes each of them in turn; one without a value is split only on the values that
//! conditions compare it with.

use serde_json::Value;

use super::{
    Eval, Mode, Parameter, ResolveError, Scenario, Stop, Unknown, comparable_text, parameter_text, parameter_value,
    text_of,
};
use crate::decision::partition_for_region;

impl Scenario<'_> {
    /// `Ref name` (and `${name}` in `Fn::Sub`).
    pub(super) fn reference(&mut self, name: &str, function: &str) -> Eval<Value> {
        if name.starts_with("AWS::") {
            return self.pseudo_parameter(name);
        }
        if self.facts.parameters.contains_key(name) {
            return self.parameter(name);
        }
        if self.facts.resources.contains_key(name) {
            return Err(Stop::Unknown(Unknown::new(
                "Ref",
                format!("Ref to resource {name}: its name or id is known only at deploy time"),
            )));
        }
        if self.facts.transform_adds_resources {
            return Err(Stop::Unknown(Unknown::new(
                function,
                format!("{name} is not in Resources: a transform of this template may add it at deploy time"),
            )));
        }
        Err(ResolveError::Undefined { function: function.to_owned(), name: name.to_owned() }.into())
    }

    pub(super) fn pseudo_parameter(&mut self, name: &str) -> Eval<Value> {
        let context = self.facts.context;
        let partition = || {
            context.partition.clone().or_else(|| context.region.as_deref().map(|r| partition_for_region(r).to_owned()))
        };
        let (value, hint) = match name {
            "AWS::NoValue" => return Err(Stop::NoValue),
            "AWS::AccountId" => (context.account_id.clone(), "pass --account-id"),
            "AWS::Region" => (context.region.clone(), "pass --region"),
            "AWS::Partition" => (partition(), "pass --partition or --region"),
            "AWS::StackName" => (context.stack_name.clone(), "pass --stack-name"),
            "AWS::StackId" => (context.stack_id.clone(), "the stack id is made at deploy time"),
            "AWS::URLSuffix" => (
                partition().map(|p| if p == "aws-cn" { "amazonaws.com.cn" } else { "amazonaws.com" }.to_owned()),
                "pass --partition or --region",
            ),
            "AWS::NotificationARNs" => (None, "the notification ARNs are given at deploy time"),
            _ => return Err(ResolveError::Undefined { function: "Ref".into(), name: name.to_owned() }.into()),
        };
        if let Some(value) = value {
            return Ok(Value::String(value));
        }
        // Unknown facts of the context are split on compared values like free parameters, so
        // that conditions on them stay consistent with each other.
        let free = matches!(name, "AWS::AccountId" | "AWS::Region" | "AWS::StackName");
        match self.parameters.get(name) {
            Some(Parameter::Fixed(value)) if free => Ok(value.clone()),
            _ => Err(Stop::Unknown(Unknown {
                function: "Ref".into(),
                reason: format!("{name}: {hint}"),
                free_parameter: free.then(|| name.to_owned()),
            })),
        }
    }

    pub(super) fn parameter(&mut self, name: &str) -> Eval<Value> {
        let state = match self.parameters.get(name) {
            Some(state) => state.clone(),
            None => {
                let state = self.first_use(name)?;
                self.parameters.insert(name.to_owned(), state.clone());
                state
            }
        };
        match state {
            Parameter::Fixed(value) => Ok(value),
            Parameter::Unknowable(reason) => {
                Err(Stop::Unknown(Unknown::new("Ref", format!("parameter {name}: {reason}"))))
            }
            Parameter::Free { excluded, default: Some(default) }
                if !self.comparing && !excluded.iter().any(|e| Some(e) == comparable_text(&default).as_ref()) =>
            {
                self.parameters.insert(name.to_owned(), Parameter::Fixed(default.clone()));
                Ok(default)
            }
            Parameter::Free { .. } => {
                let reason = match self.facts.mode {
                    Mode::EveryBranch => format!("parameter {name} has no value; pass --parameter {name}=VALUE"),
                    Mode::CertainOnly => format!("parameter {name} is given its value at deploy time"),
                };
                Err(Stop::Unknown(Unknown { function: "Ref".into(), reason, free_parameter: Some(name.to_owned()) }))
            }
        }
    }

    /// What a parameter stands for, decided the first time a scenario uses it.
    pub(super) fn first_use(&mut self, name: &str) -> Result<Parameter, ResolveError> {
        let Some(declaration) = self.facts.parameters.get(name) else {
            return Err(ResolveError::Undefined { function: "Ref".into(), name: name.to_owned() });
        };
        let declaration = &self.choose_readings(declaration);
        let kind = declaration.get("Type").and_then(Value::as_str).unwrap_or("String");
        let is_list = kind == "CommaDelimitedList" || kind.starts_with("List<");
        let allowed: Vec<String> = match declaration.get("AllowedValues") {
            Some(Value::Array(values)) => values.iter().filter_map(text_of).collect(),
            _ => Vec::new(),
        };
        if kind.starts_with("AWS::SSM::Parameter::Value<") {
            return Ok(Parameter::Unknowable("its value is read from SSM Parameter Store at deploy time".into()));
        }
        if let Some(given) = self.facts.given.get(name) {
            let value = parameter_value(given, is_list);
            let items = match &value {
                Value::Array(items) => items.iter().filter_map(text_of).collect(),
                other => text_of(other).into_iter().collect::<Vec<_>>(),
            };
            if !allowed.is_empty() && items.iter().any(|item| !allowed.contains(item)) {
                return Err(ResolveError::NotAllowed { name: name.to_owned(), value: given.clone() });
            }
            return Ok(Parameter::Fixed(value));
        }
        if self.facts.mode == Mode::CertainOnly {
            return Ok(Parameter::Free { excluded: Vec::new(), default: None });
        }
        if !allowed.is_empty() {
            let choice = &allowed[self.chooser.choose(allowed.len())];
            self.assumptions.push(format!("{name} = {choice}"));
            return Ok(Parameter::Fixed(parameter_value(choice, is_list)));
        }
        // A Default is what the parameter is unless the deployer says otherwise: it is split
        // on the values conditions compare it with, like a parameter without one.
        let default = declaration.get("Default").and_then(parameter_text).map(|d| parameter_value(&d, is_list));
        Ok(Parameter::Free { excluded: Vec::new(), default })
    }

    /// `parameter == value` for a parameter without a value: one scenario where it holds (the
    /// parameter then has that value), one where it does not.
    pub(super) fn case_split(&mut self, name: &str, value: &str) -> bool {
        let (excluded, default) = match self.parameters.get(name) {
            Some(Parameter::Free { excluded, default }) => (excluded.clone(), default.clone()),
            _ => (Vec::new(), None),
        };
        if excluded.iter().any(|e| e == value) {
            return false;
        }
        if self.chooser.choose(2) == 0 {
            self.assumptions.push(format!("{name} = {value}"));
            self.parameters.insert(name.to_owned(), Parameter::Fixed(Value::String(value.to_owned())));
            true
        } else {
            self.assumptions.push(format!("{name} ≠ {value}"));
            let mut excluded = excluded;
            excluded.push(value.to_owned());
            self.parameters.insert(name.to_owned(), Parameter::Free { excluded, default });
            false
        }
    }
}
