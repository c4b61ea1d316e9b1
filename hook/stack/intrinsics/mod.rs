//! Intrinsic functions, resolved the way CloudFormation resolves them before deploy, for one
//! scenario: one choice of parameter values and condition outcomes.
//!
//! A value that cannot be known before deploy (`Fn::GetAtt`, `Fn::ImportValue`, a `Ref` to a
//! resource, a dynamic reference, a parameter without a value) is left in place as it was
//! written and reported as [`Unknown`], so that it is judged at deploy time and never here.
//!
//! Scenarios are enumerated by replaying choices: every point where the outcome depends on
//! something not fixed (which allowed value a parameter takes, whether an undecidable condition
//! holds) asks a [`Chooser`], and [`Chooser::advance`] moves to the next untried combination.
//!
//! This file walks a resource's properties and dispatches each function; what `Ref` gives is
//! in `parameters`, the functions that build values in `functions`, and `Fn::If`'s conditions
//! in `conditions`.

mod conditions;
mod functions;
mod parameters;

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::decision::Context;
use crate::json::pointer_segment;
use crate::stack::read::{intrinsic_function, name_in, readings_of};

/// How deep conditions may refer to conditions; deeper is refused rather than recursed into.
const MAX_CONDITION_DEPTH: usize = 64;

/// How values that depend on deploy-time input are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Local validation: every allowed parameter value and every `Fn::If` branch the
    /// conditions allow is judged; a parameter without a value keeps its `Default`.
    EveryBranch,
    /// Whole-stack hook targets: only what the template fixes is judged; parameter values and
    /// what depends on them are left to the resource-level invocation.
    CertainOnly,
}

/// The parts of a stack template that intrinsic functions read.
#[derive(Debug)]
pub struct Facts<'a> {
    pub parameters: &'a Map<String, Value>,
    pub mappings: &'a Map<String, Value>,
    pub conditions: &'a Map<String, Value>,
    /// The logical ids of `Resources`, with their types.
    pub resources: &'a BTreeMap<String, String>,
    /// Parameter values given for this run (`--parameter K=V`).
    pub given: &'a BTreeMap<String, String>,
    pub context: &'a Context,
    pub mode: Mode,
    /// A transform (`AWS::Serverless-2016-10-31`, a macro) adds resources at deploy time
    /// (`MyFunctionRole` for `MyFunction`): a name that is not in `Resources` may be one of them.
    pub transform_adds_resources: bool,
}

/// Why a template's intrinsic functions cannot be resolved: CloudFormation would refuse it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{function}: {name} is not a parameter, a pseudo parameter or a resource of this template")]
    Undefined { function: String, name: String },
    #[error("condition {name} is not defined in Conditions")]
    UndefinedCondition { name: String },
    #[error("condition {name} refers to itself")]
    ConditionCycle { name: String },
    #[error("Fn::FindInMap: mapping {map} has no value at {top_key}/{second_key}")]
    NotInMapping { map: String, top_key: String, second_key: String },
    #[error("{function}: {reason}")]
    Invalid { function: String, reason: String },
    #[error("parameter {name}: the value {value:?} given for it is not one of its AllowedValues")]
    NotAllowed { name: String, value: String },
    #[error(
        "more than {limit} combinations of parameter values and conditions: pass --parameter for some parameters to judge it"
    )]
    TooManyScenarios { limit: usize },
    #[error(
        "judging every combination of parameter values, conditions and YAML readings would go through more than {limit} values in this file: pass --parameter for some parameters, or quote the scalars YAML readers disagree on"
    )]
    TooMuchWork { limit: usize },
}

fn invalid(function: &str, reason: impl Into<String>) -> ResolveError {
    ResolveError::Invalid { function: function.to_owned(), reason: reason.into() }
}

/// A value known only at deploy time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The function that produces it (`Fn::GetAtt`, `Ref`, `dynamic reference`, ...).
    pub function: String,
    /// Why it is unknown, in words a developer can act on.
    pub reason: String,
    /// The parameter it is, when it is exactly a parameter without a value.
    free_parameter: Option<String>,
}

impl Unknown {
    fn new(function: &str, reason: impl Into<String>) -> Self {
        Unknown { function: function.to_owned(), reason: reason.into(), free_parameter: None }
    }
}

/// Why evaluating a value stopped short of a value.
enum Stop {
    /// `AWS::NoValue`: the key or list item is removed.
    NoValue,
    Unknown(Unknown),
    Invalid(ResolveError),
}

impl From<ResolveError> for Stop {
    fn from(error: ResolveError) -> Self {
        Stop::Invalid(error)
    }
}

type Eval<T> = Result<T, Stop>;

/// Replays a sequence of choices, and finds the next one to try.
#[derive(Debug, Default)]
pub struct Chooser {
    replay: Vec<usize>,
    taken: Vec<(usize, usize)>,
}

impl Chooser {
    fn choose(&mut self, options: usize) -> usize {
        let choice = self.replay.get(self.taken.len()).copied().unwrap_or(0).min(options.saturating_sub(1));
        self.taken.push((choice, options));
        choice
    }

    /// Moves to the next combination not tried yet; `false` when every one has been tried.
    pub fn advance(&mut self) -> bool {
        while let Some((choice, options)) = self.taken.pop() {
            if choice + 1 < options {
                self.replay = self.taken.iter().map(|(c, _)| *c).chain([choice + 1]).collect();
                self.taken.clear();
                return true;
            }
        }
        false
    }
}

/// What a parameter stands for in a scenario.
#[derive(Clone, Debug)]
enum Parameter {
    Fixed(Value),
    /// No value given; in [`Mode::EveryBranch`] it is known to differ from `excluded`, and
    /// takes its `default` where it is used unless that is excluded.
    Free {
        default: Option<Value>,
        excluded: Vec<String>,
    },
    Unknowable(String),
}

/// A resource's properties resolved for one scenario.
#[derive(Debug, Default)]
pub struct Placed {
    pub properties: Value,
    /// Values left for deploy time, by pointer into `properties`.
    pub unknown: Vec<(String, Unknown)>,
    /// Pointers into `properties` whose value was written elsewhere in the template (an
    /// `Fn::If` branch, a list item after a removed one): `(resolved, as written)`.
    pub origins: Vec<(String, String)>,
}

impl Placed {
    /// Where the value at `pointer` (into the resolved properties) was written, relative to
    /// the properties as written.
    pub fn written_at(&self, pointer: &str) -> String {
        let best = self
            .origins
            .iter()
            .filter(|(resolved, _)| crate::stack::read::is_within(pointer, resolved))
            .max_by_key(|(resolved, _)| resolved.len());
        match best {
            Some((resolved, written)) if resolved == "/" => format!("{written}{pointer}"),
            Some((resolved, written)) => format!("{written}{}", &pointer[resolved.len()..]),
            None => pointer.to_owned(),
        }
    }
}

/// One scenario of one resource.
pub struct Scenario<'a> {
    facts: &'a Facts<'a>,
    chooser: &'a mut Chooser,
    parameters: HashMap<String, Parameter>,
    conditions: HashMap<String, Option<bool>>,
    evaluating: Vec<String>,
    /// Evaluating the operands of `Fn::Equals`: a parameter's `Default` is not taken then, so
    /// that the comparison splits it.
    comparing: bool,
    /// What this scenario assumed, in the order it was assumed (`Env = prod`).
    pub assumptions: Vec<String>,
}

/// The outcome of a resource-level `Condition`.
pub enum Existence {
    Created,
    /// The condition is false in this scenario.
    NotCreated(String),
    /// The condition depends on deploy-time values ([`Mode::CertainOnly`]).
    Undecided(String),
}
impl<'a> Scenario<'a> {
    pub fn new(facts: &'a Facts<'a>, chooser: &'a mut Chooser) -> Self {
        Scenario {
            facts,
            chooser,
            parameters: HashMap::new(),
            conditions: HashMap::new(),
            evaluating: Vec::new(),
            comparing: false,
            assumptions: Vec::new(),
        }
    }

    /// Whether a resource with this `Condition` exists in this scenario.
    pub fn existence(&mut self, condition: Option<&str>) -> Result<Existence, ResolveError> {
        let Some(name) = condition else { return Ok(Existence::Created) };
        Ok(match self.condition(name)? {
            Some(true) => Existence::Created,
            Some(false) => Existence::NotCreated(format!("not created: condition {name} is false")),
            None => {
                Existence::Undecided(format!("created only if condition {name} holds, which is decided at deploy time"))
            }
        })
    }

    /// Decides, before anything is resolved, the conditions the properties' `Fn::If`s use, so
    /// that a parameter is split on what they compare it with before a `Ref` fixes its value.
    pub fn decide_conditions_in(&mut self, properties: &Value) -> Result<(), ResolveError> {
        let mut names = Vec::new();
        conditions_used(properties, self.facts.conditions, &mut names);
        for name in names {
            self.condition(&name)?;
        }
        Ok(())
    }

    /// Resolves a resource's `Properties`.
    pub fn place_properties(&mut self, properties: &Value) -> Result<Placed, ResolveError> {
        let mut placed = Placed::default();
        let resolved = self.place(properties, "", "", &mut placed)?;
        placed.properties = resolved.unwrap_or_else(|| Value::Object(Map::new()));
        Ok(placed)
    }

    /// Resolves `value`, written at `written` and placed at `at`; `None` when it is removed.
    fn place(
        &mut self,
        value: &Value,
        at: &str,
        written: &str,
        placed: &mut Placed,
    ) -> Result<Option<Value>, ResolveError> {
        // Most values are written out in full: copying them needs none of the paths below,
        // whose formatting was most of the cost of placing a large template's resources.
        if self.is_settled(value) {
            return Ok(Some(value.clone()));
        }
        let here = || if at.is_empty() { "/".to_owned() } else { at.to_owned() };
        if readings_of(value).is_some() {
            return Ok(Some(self.choose_readings(value)));
        }
        if let Some(unknown) = self.unknowable_object(value) {
            placed.unknown.push((here(), unknown));
            return Ok(Some(value.clone()));
        }
        if intrinsic_function(value) == Some("Fn::If") {
            return match self.choose_branch(&value["Fn::If"]) {
                Ok(Some((branch, index))) => {
                    let branch_at = format!("{written}/Fn::If/{index}");
                    placed.origins.push((here(), branch_at.clone()));
                    self.place(branch, at, &branch_at, placed)
                }
                Ok(None) => Ok(None),
                Err(Stop::Unknown(unknown)) => {
                    placed.unknown.push((here(), unknown));
                    Ok(Some(value.clone()))
                }
                Err(Stop::NoValue) => Ok(None),
                Err(Stop::Invalid(error)) => Err(error),
            };
        }
        if intrinsic_function(value).is_some() {
            return match self.eval(value) {
                Ok(resolved) => Ok(Some(resolved)),
                Err(Stop::NoValue) => Ok(None),
                Err(Stop::Unknown(unknown)) => {
                    placed.unknown.push((here(), unknown));
                    Ok(Some(value.clone()))
                }
                Err(Stop::Invalid(error)) => Err(error),
            };
        }
        match value {
            Value::Object(object) => {
                let mut out = Map::new();
                for (key, child) in object {
                    let segment = pointer_segment(key);
                    let child_at = format!("{at}/{segment}");
                    if let Some(resolved) = self.place(child, &child_at, &format!("{written}/{segment}"), placed)? {
                        out.insert(key.clone(), resolved);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let item_at = format!("{at}/{}", out.len());
                    let item_written = format!("{written}/{index}");
                    if out.len() != index {
                        placed.origins.push((item_at.clone(), item_written.clone()));
                    }
                    if let Some(resolved) = self.place(item, &item_at, &item_written, placed)? {
                        out.push(resolved);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            _ => Ok(Some(value.clone())),
        }
    }

    /// Whether placing `value` would only copy it: no function, no scalar YAML readers read
    /// differently, nothing unknowable anywhere inside it.
    fn is_settled(&self, value: &Value) -> bool {
        if readings_of(value).is_some()
            || self.unknowable_object(value).is_some()
            || intrinsic_function(value).is_some()
        {
            return false;
        }
        match value {
            Value::Object(object) => object.values().all(|child| self.is_settled(child)),
            Value::Array(items) => items.iter().all(|item| self.is_settled(item)),
            _ => true,
        }
    }

    /// `value` with every scalar that YAML readers read differently (`y`, `1e3`; see
    /// `read::READINGS_KEY`) replaced by one of its readings: each reading is a scenario, so that
    /// none of them can hide a violation.
    fn choose_readings(&mut self, value: &Value) -> Value {
        if let Some((written, readings)) = readings_of(value) {
            let choice = self.chooser.choose(readings.len());
            let reading = readings.get(choice).cloned().unwrap_or(Value::Null);
            self.assumptions.push(format!("`{written}` read as {reading}"));
            return reading;
        }
        match value {
            Value::Object(object) => {
                Value::Object(object.iter().map(|(k, v)| (k.clone(), self.choose_readings(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.choose_readings(v)).collect()),
            _ => value.clone(),
        }
    }

    /// A value that no resolution can make known here: a dynamic reference, or an object a
    /// macro rewrites.
    fn unknowable_object(&self, value: &Value) -> Option<Unknown> {
        match value {
            Value::String(s) if s.contains("{{resolve:") => Some(Unknown::new(
                "dynamic reference",
                "a dynamic reference ({{resolve:...}}) is read from SSM or Secrets Manager at deploy time",
            )),
            Value::Object(object) if object.contains_key("Fn::Transform") && object.len() > 1 => {
                Some(Unknown::new("Fn::Transform", "a macro rewrites this value at deploy time"))
            }
            _ => None,
        }
    }

    /// The `Fn::If` branch this scenario takes, with its index in the `Fn::If` list.
    fn choose_branch<'v>(&mut self, arguments: &'v Value) -> Eval<Option<(&'v Value, usize)>> {
        let Some([condition, when_true, when_false]) = arguments.as_array().map(Vec::as_slice) else {
            return Err(invalid("Fn::If", "needs [condition name, value if true, value if false]").into());
        };
        let Some(name) = name_in(condition, self.facts.conditions.keys()) else {
            let reason = match readings_of(condition) {
                Some((written, _)) => {
                    format!("`{written}` names different conditions as YAML readers read it: quote it")
                }
                None => "the condition must be the name of a condition".to_owned(),
            };
            return Err(invalid("Fn::If", reason).into());
        };
        match self.condition(&name)? {
            Some(true) => Ok(Some((when_true, 1))),
            Some(false) => Ok(Some((when_false, 2))),
            None => Err(Stop::Unknown(Unknown::new(
                "Fn::If",
                format!("depends on condition {name}, which is decided at deploy time"),
            ))),
        }
    }

    /// Evaluates a value completely: an unknown anywhere inside makes it unknown.
    fn eval(&mut self, value: &Value) -> Eval<Value> {
        if readings_of(value).is_some() {
            return Ok(self.choose_readings(value));
        }
        if let Some(unknown) = self.unknowable_object(value) {
            return Err(Stop::Unknown(unknown));
        }
        let Some(function) = intrinsic_function(value) else {
            return match value {
                Value::Object(object) => {
                    let mut out = Map::new();
                    for (key, child) in object {
                        match self.eval(child) {
                            Ok(resolved) => {
                                out.insert(key.clone(), resolved);
                            }
                            Err(Stop::NoValue) => {}
                            Err(stop) => return Err(stop),
                        }
                    }
                    Ok(Value::Object(out))
                }
                Value::Array(items) => self.eval_list(items),
                _ => Ok(value.clone()),
            };
        };
        let arguments = &value[function];
        let result = match self.eval_function(function, arguments) {
            // A dynamic reference written into a built string (`!Sub 'x-{{resolve:ssm:p}}'`) is
            // resolved at deploy time like one written on its own.
            Ok(Value::String(text)) if text.contains("{{resolve:") => Err(Stop::Unknown(Unknown::new(
                "dynamic reference",
                "a dynamic reference ({{resolve:...}}) is read from SSM or Secrets Manager at deploy time",
            ))),
            result => result,
        };
        match (function, result) {
            ("Ref" | "Fn::If", result) => result,
            // Only a bare `Ref` is the parameter itself; a value made from one is not.
            (_, Err(Stop::Unknown(unknown))) => Err(Stop::Unknown(Unknown { free_parameter: None, ..unknown })),
            (_, Err(Stop::NoValue)) => Err(invalid(function, "AWS::NoValue cannot be an argument").into()),
            (_, result) => result,
        }
    }

    fn eval_function(&mut self, function: &str, arguments: &Value) -> Eval<Value> {
        match function {
            "Ref" => {
                let name = arguments.as_str().ok_or_else(|| invalid("Ref", "needs a name"))?;
                self.reference(name, "Ref")
            }
            "Fn::If" => match self.choose_branch(arguments)? {
                Some((branch, _)) => self.eval(branch),
                None => Err(Stop::NoValue),
            },
            "Fn::Sub" => self.sub(arguments).map(Value::String),
            "Fn::Join" => self.join(arguments).map(Value::String),
            "Fn::Select" => self.select(arguments),
            "Fn::Split" => self.split(arguments),
            "Fn::FindInMap" => self.find_in_map(arguments),
            "Fn::Base64" => {
                let text = self.eval_text(arguments, "Fn::Base64")?;
                Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text)))
            }
            "Fn::Cidr" => self.cidr(arguments),
            "Fn::ToJsonString" => {
                let resolved = self.eval(arguments)?;
                serde_json::to_string(&resolved)
                    .map(Value::String)
                    .map_err(|e| invalid("Fn::ToJsonString", e.to_string()).into())
            }
            "Fn::Length" => match self.eval(arguments)? {
                Value::Array(items) => Ok(Value::from(items.len())),
                _ => Err(invalid("Fn::Length", "needs a list").into()),
            },
            "Fn::GetAtt" => Err(self.get_att(arguments)),
            "Fn::GetAZs" => Err(Stop::Unknown(Unknown::new(
                "Fn::GetAZs",
                "the Availability Zones of a Region are listed only at deploy time",
            ))),
            "Fn::ImportValue" => {
                Err(Stop::Unknown(Unknown::new("Fn::ImportValue", "the value is exported by another stack")))
            }
            "Fn::GetStackOutput" => {
                Err(Stop::Unknown(Unknown::new("Fn::GetStackOutput", "the value is an output of another stack")))
            }
            "Fn::Transform" => {
                Err(Stop::Unknown(Unknown::new("Fn::Transform", "a macro produces this value at deploy time")))
            }
            other => Err(invalid(other, "is not supported").into()),
        }
    }

    /// A list, with `AWS::NoValue` items removed.
    fn eval_list(&mut self, items: &[Value]) -> Eval<Value> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match self.eval(item) {
                Ok(resolved) => out.push(resolved),
                Err(Stop::NoValue) => {}
                Err(stop) => return Err(stop),
            }
        }
        Ok(Value::Array(out))
    }

    /// A value that must be a string (numbers and booleans are written out, as CloudFormation
    /// does).
    fn eval_text(&mut self, value: &Value, function: &str) -> Eval<String> {
        let resolved = self.eval(value)?;
        text_of(&resolved).ok_or_else(|| invalid(function, format!("needs a string, not {resolved}")).into())
    }
}

/// The condition names of every `Fn::If` in `value`, in document order.
fn conditions_used(value: &Value, conditions: &Map<String, Value>, names: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(arguments)) = object.get("Fn::If")
                && let Some(name) = arguments.first().and_then(|n| name_in(n, conditions.keys()))
                && !names.contains(&name)
            {
                names.push(name);
            }
            object.values().for_each(|v| conditions_used(v, conditions, names));
        }
        Value::Array(items) => items.iter().for_each(|v| conditions_used(v, conditions, names)),
        _ => {}
    }
}

/// A scalar as CloudFormation writes it into a string.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value as `Fn::Equals` compares it.
fn comparable_text(value: &Value) -> Option<String> {
    text_of(value).or_else(|| match value {
        Value::Array(_) => Some(value.to_string()),
        _ => None,
    })
}

/// A parameter value as text, as CloudFormation takes it (a list is written comma-separated):
/// a `Default`, or a value from a parameters file.
pub(crate) fn parameter_text(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => items.iter().map(text_of).collect::<Option<Vec<_>>>().map(|items| items.join(",")),
        other => text_of(other),
    }
}

/// A parameter value as `Ref` gives it: a string, or for list types a list of trimmed strings.
fn parameter_value(text: &str, is_list: bool) -> Value {
    if is_list {
        Value::Array(text.split(',').map(|s| Value::String(s.trim().to_owned())).collect())
    } else {
        Value::String(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Stack {
        parameters: Map<String, Value>,
        mappings: Map<String, Value>,
        conditions: Map<String, Value>,
        resources: BTreeMap<String, String>,
        given: BTreeMap<String, String>,
        context: Context,
    }

    fn stack(template: Value) -> Stack {
        let section = |name: &str| template.get(name).and_then(Value::as_object).cloned().unwrap_or_default();
        Stack {
            parameters: section("Parameters"),
            mappings: section("Mappings"),
            conditions: section("Conditions"),
            resources: section("Resources")
                .into_iter()
                .map(|(id, resource)| (id, resource["Type"].as_str().unwrap_or_default().to_owned()))
                .collect(),
            given: BTreeMap::new(),
            context: Context {
                account_id: Some("111122223333".into()),
                region: Some("eu-west-1".into()),
                ..Context::default()
            },
        }
    }

    impl Stack {
        fn facts(&self, mode: Mode) -> Facts<'_> {
            Facts {
                parameters: &self.parameters,
                mappings: &self.mappings,
                conditions: &self.conditions,
                resources: &self.resources,
                given: &self.given,
                context: &self.context,
                mode,
                transform_adds_resources: false,
            }
        }

        /// Every scenario's resolved properties and assumptions.
        fn scenarios(&self, properties: Value, mode: Mode) -> Vec<(Value, Vec<String>)> {
            let facts = self.facts(mode);
            let mut chooser = Chooser::default();
            let mut out = Vec::new();
            loop {
                let mut scenario = Scenario::new(&facts, &mut chooser);
                let placed = scenario.place_properties(&properties).unwrap();
                out.push((placed.properties, scenario.assumptions));
                if !chooser.advance() {
                    return out;
                }
            }
        }

        fn resolve(&self, properties: Value) -> Result<Placed, ResolveError> {
            let facts = self.facts(Mode::EveryBranch);
            let mut chooser = Chooser::default();
            Scenario::new(&facts, &mut chooser).place_properties(&properties)
        }
    }

    #[test]
    fn select_counts_only_the_items_that_remain() {
        let s = stack(json!({
            "Parameters": {"Env": {"Type": "String"}},
            "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}, "Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
            "Resources": {"Topic": {}}
        }));
        let no_value = json!({"Ref": "AWS::NoValue"});
        let properties = json!({
            // CloudFormation removes the NoValue item, then selects: "*", not the account.
            "A": {"Fn::Select": [1, [{"Fn::If": ["Never", "x", no_value]}, "111122223333", "*"]]},
            // The selected item itself is removed: the next one is selected.
            "B": {"Fn::Select": [0, [no_value, "next"]]},
            // Past the end once the removed items are gone.
            "C": {"Fn::Select": [2, ["a", no_value, "b"]]}
        });
        let c = s.resolve(json!({"C": properties["C"].clone()})).unwrap_err();
        assert!(c.to_string().contains("index 2 is out of range for 2 values"), "{c}");
        let placed = s.resolve(json!({"A": properties["A"].clone(), "B": properties["B"].clone()})).unwrap();
        assert_eq!(placed.properties, json!({"A": "*", "B": "next"}));
        // With a parameter-driven condition, every scenario selects what CloudFormation would.
        let driven = json!({"A": {"Fn::Select": [1, [{"Fn::If": ["Prod", no_value, "x"]}, "111122223333", "*"]]}});
        let selected: Vec<Value> =
            s.scenarios(driven.clone(), Mode::EveryBranch).into_iter().map(|(p, _)| p["A"].clone()).collect();
        assert_eq!(selected, vec![json!("*"), json!("111122223333")]);
        // Decided at deploy time: which item is selected is unknown, never guessed.
        let facts = s.facts(Mode::CertainOnly);
        let mut chooser = Chooser::default();
        let placed = Scenario::new(&facts, &mut chooser).place_properties(&driven).unwrap();
        assert_eq!(placed.unknown.len(), 1, "{placed:?}");
        assert_eq!(placed.unknown[0].1.function, "Fn::Select");
    }

    #[test]
    fn pseudo_parameters_and_string_functions() {
        let s = stack(json!({"Resources": {"Topic": {}}}));
        let placed = s
            .resolve(json!({
                "A": {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:x-${!Literal}"},
                "B": {"Fn::Join": ["-", ["a", 1, true]]},
                "C": {"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]},
                "D": {"Fn::Sub": ["${Name}.${AWS::URLSuffix}", {"Name": "svc"}]},
                "E": {"Fn::Base64": "hi"},
                "F": {"Fn::Select": [0, ["kept", {"Fn::GetAtt": ["Topic", "Arn"]}]]},
                "G": {"Fn::Length": [1, 2, {"Ref": "AWS::NoValue"}]},
                "H": {"Fn::ToJsonString": {"a": [1]}}
            }))
            .unwrap();
        assert_eq!(
            placed.properties,
            json!({
                "A": "arn:aws:sns:eu-west-1:111122223333:x-${Literal}",
                "B": "a-1-true",
                "C": "y",
                "D": "svc.amazonaws.com",
                "E": "aGk=",
                "F": "kept",
                "G": 2,
                "H": "{\"a\":[1]}"
            })
        );
        assert!(placed.unknown.is_empty());
    }

    #[test]
    fn unknowable_values_stay_as_written() {
        let s = stack(json!({"Resources": {"Topic": {}}, "Parameters": {"Free": {"Type": "String"}}}));
        let properties = json!({
            "A": {"Fn::GetAtt": "Topic.Arn"},
            "B": {"Fn::Sub": "${Topic.TopicName}-x"},
            "C": {"Ref": "Topic"},
            "D": "{{resolve:ssm:/org/value}}",
            "E": {"Fn::ImportValue": "shared-topic"},
            "F": {"Ref": "Free"},
            "G": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-x"]]}
        });
        let placed = s.resolve(properties.clone()).unwrap();
        assert_eq!(placed.properties, properties);
        let found: Vec<_> = placed.unknown.iter().map(|(p, u)| (p.as_str(), u.function.as_str())).collect();
        assert_eq!(
            found,
            [
                ("/A", "Fn::GetAtt"),
                ("/B", "Fn::GetAtt"),
                ("/C", "Ref"),
                ("/D", "dynamic reference"),
                ("/E", "Fn::ImportValue"),
                ("/F", "Ref"),
                ("/G", "Ref")
            ]
        );
        assert!(placed.unknown[5].1.reason.contains("pass --parameter Free=VALUE"));
        assert!(placed.unknown[6].1.reason.contains("pass --stack-name"));
    }

    #[test]
    fn functions_and_dynamic_references_deep_in_written_values_are_still_placed() {
        let s = stack(json!({"Resources": {"Topic": {}}, "Conditions": {"Yes": {"Fn::Equals": ["a", "a"]}}}));
        let properties = json!({
            "Plain": {"List": [1, "two", {"Three": [true, null]}]},
            "Deep": {"List": [{"Kept": "x", "Secret": "{{resolve:secretsmanager:s}}"}]},
            "Chosen": [{"Value": {"Fn::If": ["Yes", "on", "off"]}}, {"Gone": {"Ref": "AWS::NoValue"}}],
            "Removed": [{"Fn::If": ["Yes", {"Ref": "AWS::NoValue"}, 1]}, "last"]
        });
        let placed = s.resolve(properties).unwrap();
        assert_eq!(
            placed.properties,
            json!({
                "Plain": {"List": [1, "two", {"Three": [true, null]}]},
                "Deep": {"List": [{"Kept": "x", "Secret": "{{resolve:secretsmanager:s}}"}]},
                "Chosen": [{"Value": "on"}, {}],
                "Removed": ["last"]
            })
        );
        let unknown: Vec<_> = placed.unknown.iter().map(|(p, u)| (p.as_str(), u.function.as_str())).collect();
        assert_eq!(unknown, [("/Deep/List/0/Secret", "dynamic reference")]);
        assert!(placed.origins.contains(&("/Chosen/0/Value".to_owned(), "/Chosen/0/Value/Fn::If/1".to_owned())));
        assert!(placed.origins.contains(&("/Removed/0".to_owned(), "/Removed/1".to_owned())));
    }

    #[test]
    fn undefined_names_and_bad_arguments_are_template_errors() {
        let s = stack(json!({"Mappings": {"M": {"a": {"b": "c"}}}}));
        for (properties, expected) in [
            (json!({"A": {"Ref": "Nothing"}}), "Ref: Nothing is not a parameter"),
            (json!({"A": {"Fn::Sub": "${Nothing.Arn}"}}), "Fn::Sub: Nothing is not"),
            (json!({"A": {"Fn::FindInMap": ["M", "a", "x"]}}), "mapping M has no value at a/x"),
            (json!({"A": {"Fn::Select": [3, ["a"]]}}), "index 3 is out of range for 1 values"),
            (json!({"A": {"Fn::If": ["Missing", 1, 2]}}), "condition Missing is not defined"),
            (json!({"A": {"Fn::Sub": "${unclosed"}}), "unclosed"),
            (
                json!({"A": {"Fn::Sub": ["x${N}", {"N": {"Ref": "AWS::NoValue"}}]}}),
                "AWS::NoValue cannot be an argument",
            ),
            (json!({"A": {"Fn::Base64": {"Ref": "AWS::NoValue"}}}), "AWS::NoValue cannot be an argument"),
        ] {
            let error = s.resolve(properties).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn every_allowed_value_and_every_branch_is_a_scenario() {
        let s = stack(json!({
            "Parameters": {"Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
        }));
        let scenarios =
            s.scenarios(json!({"Name": {"Ref": "Env"}, "Size": {"Fn::If": ["IsProd", 10, 1]}}), Mode::EveryBranch);
        assert_eq!(
            scenarios,
            [
                (json!({"Name": "dev", "Size": 1}), vec!["Env = dev".to_owned()]),
                (json!({"Name": "prod", "Size": 10}), vec!["Env = prod".to_owned()])
            ]
        );
    }

    #[test]
    fn a_free_parameter_is_split_on_the_values_it_is_compared_with() {
        let s = stack(json!({
            "Parameters": {"Env": {"Type": "String"}},
            "Conditions": {
                "IsProd": {"Fn::Equals": ["prod", {"Ref": "Env"}]},
                "IsTest": {"Fn::Equals": [{"Ref": "Env"}, "test"]},
                "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsTest"}]}
            }
        }));
        let scenarios = s.scenarios(
            json!({"A": {"Fn::If": ["Either", {"Ref": "Env"}, {"Ref": "AWS::NoValue"}]}}),
            Mode::EveryBranch,
        );
        let shown: Vec<_> = scenarios.iter().map(|(v, a)| (v.clone(), a.join(", "))).collect();
        assert_eq!(
            shown,
            [
                (json!({"A": "prod"}), "Env = prod".to_owned()),
                (json!({"A": "test"}), "Env ≠ prod, Env = test".to_owned()),
                (json!({}), "Env ≠ prod, Env ≠ test".to_owned())
            ]
        );
    }

    #[test]
    fn a_default_is_one_value_among_those_conditions_compare() {
        let s = stack(json!({
            "Parameters": {"Enc": {"Type": "String", "Default": "on"}},
            "Conditions": {"NoEnc": {"Fn::Equals": [{"Ref": "Enc"}, "off"]}, "InUs": {"Fn::Equals": [{"Ref": "AWS::StackName"}, "us"]}}
        }));
        // The Ref comes first in the document; the condition is still split before it.
        let properties = json!({"Name": {"Ref": "Enc"}, "Sse": {"Fn::If": ["NoEnc", false, true]}});
        let facts = s.facts(Mode::EveryBranch);
        let mut chooser = Chooser::default();
        let mut seen = Vec::new();
        loop {
            let mut scenario = Scenario::new(&facts, &mut chooser);
            scenario.decide_conditions_in(&properties).unwrap();
            let placed = scenario.place_properties(&properties).unwrap();
            seen.push((placed.properties, scenario.assumptions.join(", ")));
            if !chooser.advance() {
                break;
            }
        }
        assert_eq!(
            seen,
            [
                (json!({"Name": "off", "Sse": false}), "Enc = off".to_owned()),
                (json!({"Name": "on", "Sse": true}), "Enc ≠ off".to_owned())
            ]
        );
    }

    #[test]
    fn certain_only_leaves_parameter_dependent_branches() {
        let s = stack(json!({
            "Parameters": {"Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}, "InIreland": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}}
        }));
        let scenarios = s.scenarios(
            json!({"A": {"Fn::If": ["IsProd", 1, 2]}, "B": {"Fn::If": ["InIreland", "yes", "no"]}}),
            Mode::CertainOnly,
        );
        assert_eq!(scenarios, [(json!({"A": {"Fn::If": ["IsProd", 1, 2]}, "B": "yes"}), vec![])]);
    }

    #[test]
    fn given_values_must_be_allowed() {
        let mut s =
            stack(json!({"Parameters": {"Env": {"AllowedValues": ["dev"]}, "Ids": {"Type": "CommaDelimitedList"}}}));
        s.given.insert("Ids".into(), "a, b".into());
        assert_eq!(s.resolve(json!({"I": {"Ref": "Ids"}})).unwrap().properties, json!({"I": ["a", "b"]}));
        s.given.insert("Env".into(), "prod".into());
        assert!(matches!(s.resolve(json!({"E": {"Ref": "Env"}})), Err(ResolveError::NotAllowed { .. })));
    }

    #[test]
    fn branch_origins_point_into_the_template() {
        let s = stack(json!({"Conditions": {"Yes": {"Fn::Equals": [1, 1]}}}));
        let placed = s.resolve(json!({"L": [{"Ref": "AWS::NoValue"}, {"Fn::If": ["Yes", {"K": "v"}, "no"]}]})).unwrap();
        assert_eq!(placed.properties, json!({"L": [{"K": "v"}]}));
        assert_eq!(placed.written_at("/L/0/K"), "/L/1/Fn::If/1/K");
        assert_eq!(placed.written_at("/Other"), "/Other");
    }

    #[test]
    fn deep_condition_chains_are_refused_not_recursed() {
        let conditions: Map<String, Value> = (0..200)
            .map(|i| (format!("C{i}"), json!({"Fn::Not": [{"Condition": format!("C{}", i + 1)}]})))
            .chain([("C200".to_owned(), json!({"Fn::Equals": [1, 1]}))])
            .collect();
        let s = stack(json!({"Conditions": conditions}));
        let error = s.resolve(json!({"A": {"Fn::If": ["C0", 1, 2]}})).unwrap_err();
        assert!(error.to_string().contains("more than 64 deep"), "{error}");
    }

    #[test]
    fn a_value_made_from_a_parameter_is_not_the_parameter() {
        let s = stack(json!({
            "Parameters": {"Env": {"Type": "String"}},
            "Conditions": {"Suffixed": {"Fn::Equals": [{"Fn::Sub": "${Env}x"}, "prodx"]}}
        }));
        let scenarios =
            s.scenarios(json!({"A": {"Fn::If": ["Suffixed", 1, 2]}, "E": {"Ref": "Env"}}), Mode::EveryBranch);
        assert_eq!(scenarios.len(), 2);
        // The parameter is never bound to the compared text.
        assert!(scenarios.iter().all(|(v, _)| v["E"] == json!({"Ref": "Env"})), "{scenarios:?}");
    }
}
