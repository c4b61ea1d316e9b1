//! Conditions: `Condition` names, `Fn::And`, `Fn::Or`, `Fn::Not` and `Fn::Equals`, decided for
//! one scenario, or split into two scenarios where they depend on a value not fixed yet.

use serde_json::Value;

use super::{Eval, MAX_CONDITION_DEPTH, Mode, ResolveError, Scenario, Stop, invalid, text_of};
use crate::stack::read::name_in;

impl Scenario<'_> {
    pub(super) fn condition(&mut self, name: &str) -> Result<Option<bool>, ResolveError> {
        if let Some(known) = self.conditions.get(name) {
            return Ok(*known);
        }
        if self.evaluating.iter().any(|n| n == name) {
            return Err(ResolveError::ConditionCycle { name: name.to_owned() });
        }
        if self.evaluating.len() >= MAX_CONDITION_DEPTH {
            return Err(invalid(
                "Conditions",
                format!("conditions refer to each other more than {MAX_CONDITION_DEPTH} deep"),
            ));
        }
        let expression = self
            .facts
            .conditions
            .get(name)
            .ok_or_else(|| ResolveError::UndefinedCondition { name: name.to_owned() })?;
        self.evaluating.push(name.to_owned());
        let outcome = self.truth(expression);
        self.evaluating.pop();
        let outcome = outcome?;
        self.conditions.insert(name.to_owned(), outcome);
        Ok(outcome)
    }

    /// A condition expression's value; `None` when it is decided at deploy time.
    pub(super) fn truth(&mut self, expression: &Value) -> Result<Option<bool>, ResolveError> {
        let single = expression.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next());
        let Some((function, arguments)) = single else {
            return Err(invalid("Conditions", format!("{expression} is not a condition function")));
        };
        let operands = || arguments.as_array().map(Vec::as_slice).unwrap_or_default();
        match function.as_str() {
            "Condition" => {
                let name = name_in(arguments, self.facts.conditions.keys())
                    .ok_or_else(|| invalid("Condition", "needs a condition name"))?;
                self.condition(&name)
            }
            "Fn::Not" => match operands() {
                [operand] => Ok(self.truth(operand)?.map(|b| !b)),
                _ => Err(invalid("Fn::Not", "needs one condition")),
            },
            "Fn::And" | "Fn::Or" => {
                let is_and = function == "Fn::And";
                let mut undecided = false;
                for operand in operands() {
                    match self.truth(operand)? {
                        Some(value) if value != is_and => return Ok(Some(value)),
                        Some(_) => {}
                        None => undecided = true,
                    }
                }
                Ok(if undecided { None } else { Some(is_and) })
            }
            "Fn::Equals" => match operands() {
                [left, right] => self.equals(left, right),
                _ => Err(invalid("Fn::Equals", "needs two values")),
            },
            other => Err(invalid(other, "is not a condition function")),
        }
    }

    pub(super) fn equals(&mut self, left: &Value, right: &Value) -> Result<Option<bool>, ResolveError> {
        let comparable = |value: Eval<Value>| match value {
            Ok(value) => Ok(Ok(text_of(&value).unwrap_or_else(|| value.to_string()))),
            Err(Stop::Unknown(unknown)) => Ok(Err(unknown)),
            Err(Stop::NoValue) => Err(invalid("Fn::Equals", "compares AWS::NoValue")),
            Err(Stop::Invalid(error)) => Err(error),
        };
        self.comparing = true;
        let (left_value, right_value) = (self.eval(left), self.eval(right));
        self.comparing = false;
        let left_value = comparable(left_value)?;
        let right_value = comparable(right_value)?;
        match (left_value, right_value) {
            (Ok(l), Ok(r)) => Ok(Some(l == r)),
            _ if self.facts.mode == Mode::CertainOnly => Ok(None),
            (Err(unknown), Ok(known)) | (Ok(known), Err(unknown)) if unknown.free_parameter.is_some() => {
                let name = unknown.free_parameter.unwrap_or_default();
                Ok(Some(self.case_split(&name, &known)))
            }
            _ => {
                let holds = self.chooser.choose(2) == 0;
                let shown = format!("{{\"Fn::Equals\": [{left}, {right}]}}");
                self.assumptions.push(format!("{shown} is {holds}"));
                Ok(Some(holds))
            }
        }
    }
}
