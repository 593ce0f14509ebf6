//! The training form: which model, and its hyperparameters as a learner types them —
//! LinearRegression, Ridge and Lasso (alpha), gradient-boosted trees with XGBoost's names
//! and a random forest with scikit-learn's, each field showing its default and checked
//! (with the core's `check()`) on every keystroke.
//!
//! The fields are text; [`build_estimator`] turns them into a JSON object and lets the
//! core read it (`search::point_as`, the same path a search trial takes), so a value that
//! does not fit names its parameter, and a value out of range gets the core's message.

use std::collections::BTreeMap;

use leptos::prelude::*;
use mlops_core::models::{ModelKind, ModelParams};
use mlops_core::search::point_as;
use mlops_core::training::Estimator;
use mlops_core::trees::{ForestParams, GbdtParams, MaxFeatures, TreeEncoding};
use serde_json::{json, Value};

/// The models the form offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormModel {
    Linear(ModelKind),
    Gbdt,
    Forest,
}

impl FormModel {
    pub const ALL: [FormModel; 5] = [
        FormModel::Linear(ModelKind::LinearRegression),
        FormModel::Linear(ModelKind::Ridge),
        FormModel::Linear(ModelKind::Lasso),
        FormModel::Gbdt,
        FormModel::Forest,
    ];

    /// The `<select>` value (`linear`, `ridge`, `lasso`, `gbdt`, `forest`).
    pub fn id(self) -> &'static str {
        match self {
            FormModel::Linear(ModelKind::LinearRegression) => "linear",
            FormModel::Linear(ModelKind::Ridge) => "ridge",
            FormModel::Linear(ModelKind::Lasso) => "lasso",
            FormModel::Gbdt => "gbdt",
            FormModel::Forest => "forest",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FormModel::Linear(ModelKind::LinearRegression) => "Linear regression",
            FormModel::Linear(ModelKind::Ridge) => "Ridge",
            FormModel::Linear(ModelKind::Lasso) => "Lasso",
            FormModel::Gbdt => "Gradient-boosted trees (XGBoost-style)",
            FormModel::Forest => "Random forest",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.id() == id)
    }
}

/// What kind of text a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Number,
    /// A whole number, or `None`.
    OptionalWhole,
    Bool,
    Encoding,
    MaxFeatures,
}

/// One hyperparameter field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub help: &'static str,
}

const fn field(name: &'static str, kind: FieldKind, help: &'static str) -> Field {
    Field { name, kind, help }
}

pub const GBDT_FIELDS: [Field; 12] = [
    field("learning_rate", FieldKind::Number, "shrinks each tree's contribution (eta)"),
    field("max_depth", FieldKind::Number, "deepest split chain of a tree"),
    field("min_child_weight", FieldKind::Number, "fewest rows (hessian) in a leaf"),
    field("reg_alpha", FieldKind::Number, "L1 penalty on leaf weights"),
    field("reg_lambda", FieldKind::Number, "L2 penalty on leaf weights"),
    field("gamma", FieldKind::Number, "smallest loss reduction worth a split"),
    field("subsample", FieldKind::Number, "share of rows each tree sees"),
    field("colsample_bytree", FieldKind::Number, "share of columns each tree sees"),
    field("num_boost_round", FieldKind::Number, "trees to grow at most"),
    field(
        "early_stopping_rounds",
        FieldKind::OptionalWhole,
        "stop after this many rounds without a better validation RMSE (None: never)",
    ),
    field("seed", FieldKind::Number, "random seed for subsampling"),
    field("encoding", FieldKind::Encoding, "how zones reach the trees"),
];

pub const FOREST_FIELDS: [Field; 8] = [
    field("n_estimators", FieldKind::Number, "trees in the forest"),
    field("max_depth", FieldKind::OptionalWhole, "deepest split chain (None: until leaves are pure)"),
    field("min_samples_split", FieldKind::Number, "fewest rows a node needs to split"),
    field("min_samples_leaf", FieldKind::Number, "fewest rows in a leaf"),
    field(
        "max_features",
        FieldKind::MaxFeatures,
        "features tried per split: 1.0 (all), sqrt, log2, a share, or a count",
    ),
    field("bootstrap", FieldKind::Bool, "each tree on a bootstrap sample"),
    field("random_state", FieldKind::Number, "random seed"),
    field("encoding", FieldKind::Encoding, "how zones reach the trees"),
];

pub type Texts = BTreeMap<&'static str, String>;

fn encoding_text(encoding: TreeEncoding) -> String {
    match encoding {
        TreeEncoding::OneHot => "one_hot".into(),
        TreeEncoding::Categorical => "categorical".into(),
    }
}

/// A number as a learner would type it (`0.3`, `6`, `1e-5`).
fn number_text(value: f64) -> String {
    value.to_string()
}

/// The form's text for every GBDT field of `params`.
pub fn gbdt_texts(params: &GbdtParams) -> Texts {
    BTreeMap::from([
        ("learning_rate", number_text(params.learning_rate)),
        ("max_depth", params.max_depth.to_string()),
        ("min_child_weight", number_text(params.min_child_weight)),
        ("reg_alpha", number_text(params.reg_alpha)),
        ("reg_lambda", number_text(params.reg_lambda)),
        ("gamma", number_text(params.gamma)),
        ("subsample", number_text(params.subsample)),
        ("colsample_bytree", number_text(params.colsample_bytree)),
        ("num_boost_round", params.num_boost_round.to_string()),
        ("early_stopping_rounds", params.early_stopping_rounds.map_or("None".to_string(), |r| r.to_string())),
        ("seed", params.seed.to_string()),
        ("encoding", encoding_text(params.encoding)),
    ])
}

/// The form's text for every forest field of `params`.
pub fn forest_texts(params: &ForestParams) -> Texts {
    let max_features = match params.max_features {
        MaxFeatures::All => "1.0".to_string(),
        MaxFeatures::Sqrt => "sqrt".to_string(),
        MaxFeatures::Log2 => "log2".to_string(),
        MaxFeatures::Fraction(f) => format!("{f:?}"),
        MaxFeatures::Count(n) => n.to_string(),
    };
    BTreeMap::from([
        ("n_estimators", params.n_estimators.to_string()),
        ("max_depth", params.max_depth.map_or("None".to_string(), |d| d.to_string())),
        ("min_samples_split", params.min_samples_split.to_string()),
        ("min_samples_leaf", params.min_samples_leaf.to_string()),
        ("max_features", max_features),
        ("bootstrap", if params.bootstrap { "true" } else { "false" }.to_string()),
        ("random_state", params.random_state.to_string()),
        ("encoding", encoding_text(params.encoding)),
    ])
}

/// Why the form cannot train yet, and which field to look at.
#[derive(Debug, Clone, PartialEq)]
pub struct FormError {
    pub field: Option<&'static str>,
    pub message: String,
}

fn field_error(field: &'static str, message: impl Into<String>) -> FormError {
    FormError { field: Some(field), message: message.into() }
}

/// One field's text as JSON for the parameter struct.
fn field_json(field: &Field, text: &str) -> Result<Value, FormError> {
    let text = text.trim();
    let number = |text: &str| -> Result<Value, FormError> {
        let value: f64 = text
            .parse()
            .map_err(|_| field_error(field.name, format!("{} must be a number, got `{text}`", field.name)))?;
        if !value.is_finite() {
            return Err(field_error(field.name, format!("{} must be a finite number", field.name)));
        }
        Ok(if value.fract() == 0.0 && value.abs() < 9e15 { json!(value as i64) } else { json!(value) })
    };
    match field.kind {
        FieldKind::Number => number(text),
        FieldKind::OptionalWhole if text.is_empty() || text.eq_ignore_ascii_case("none") => Ok(Value::Null),
        FieldKind::OptionalWhole => number(text),
        FieldKind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(json!(true)),
            "false" | "no" | "0" => Ok(json!(false)),
            _ => Err(field_error(field.name, format!("{} must be true or false", field.name))),
        },
        FieldKind::Encoding => match text {
            "one_hot" | "categorical" => Ok(json!(text)),
            _ => Err(field_error(field.name, "encoding must be one_hot or categorical")),
        },
        FieldKind::MaxFeatures => match text.to_ascii_lowercase().as_str() {
            "1.0" | "1." | "all" | "none" => Ok(json!("all")),
            "sqrt" => Ok(json!("sqrt")),
            "log2" => Ok(json!("log2")),
            other if other.contains('.') => number(other).map(|v| json!({ "fraction": v })),
            other => number(other).map(|v| json!({ "count": v })),
        },
    }
}

/// The fields of one tree family as a parameter struct, checked.
fn tree_params<T: serde::de::DeserializeOwned>(fields: &[Field], texts: &Texts) -> Result<T, FormError> {
    let mut object = serde_json::Map::new();
    for field in fields {
        let text = texts.get(field.name).map(String::as_str).unwrap_or_default();
        object.insert(field.name.to_string(), field_json(field, text)?);
    }
    point_as::<T>(&Value::Object(object)).map_err(|message| {
        let field = fields.iter().find(|f| message.contains(&format!("`{}`", f.name))).map(|f| f.name);
        FormError { field, message }
    })
}

/// Names the field a core `check()` message is about (they start with the name).
fn checked(message: String, fields: &[Field]) -> FormError {
    let field =
        fields.iter().filter(|f| message.contains(f.name)).max_by_key(|f| f.name.len()).map(|f| f.name);
    FormError { field, message }
}

/// The estimator the form describes, or the first problem with it.
pub fn build_estimator(
    model: FormModel,
    alpha: &str,
    gbdt: &Texts,
    forest: &Texts,
) -> Result<Estimator, FormError> {
    match model {
        FormModel::Linear(kind) => {
            let alpha_value = if kind.uses_alpha() {
                alpha.trim().parse::<f64>().map_err(|_| {
                    field_error("alpha", format!("alpha must be a number, got `{}`", alpha.trim()))
                })?
            } else {
                1.0
            };
            let params = ModelParams::new(kind).alpha(alpha_value);
            params.check().map_err(|e| field_error("alpha", e.to_string()))?;
            Ok(Estimator::Linear(params))
        }
        FormModel::Gbdt => {
            let params: GbdtParams = tree_params(&GBDT_FIELDS, gbdt)?;
            params.check().map_err(|e| checked(e.to_string(), &GBDT_FIELDS))?;
            Ok(Estimator::Gbdt(params))
        }
        FormModel::Forest => {
            let params: ForestParams = tree_params(&FOREST_FIELDS, forest)?;
            params.check().map_err(|e| checked(e.to_string(), &FOREST_FIELDS))?;
            Ok(Estimator::Forest(params))
        }
    }
}

/// The form's signals. Writers live here; [`ModelForm`] draws them.
#[derive(Clone, Copy)]
pub struct ModelFormState {
    pub model: RwSignal<FormModel>,
    pub alpha: RwSignal<String>,
    pub gbdt: RwSignal<Texts>,
    pub forest: RwSignal<Texts>,
}

impl ModelFormState {
    pub fn new() -> Self {
        Self {
            model: RwSignal::new(FormModel::Linear(ModelKind::LinearRegression)),
            alpha: RwSignal::new("1.0".to_string()),
            gbdt: RwSignal::new(gbdt_texts(&GbdtParams::default())),
            forest: RwSignal::new(forest_texts(&ForestParams::default())),
        }
    }

    /// The estimator, tracked: a memo of it re-checks on every keystroke.
    pub fn estimator(&self) -> Result<Estimator, FormError> {
        let model = self.model.get();
        self.alpha.with(|alpha| {
            self.gbdt.with(|gbdt| self.forest.with(|forest| build_estimator(model, alpha, gbdt, forest)))
        })
    }

    /// The course's best boosting parameters (its hyperopt search's winner).
    pub fn use_course_best(&self) {
        self.model.set(FormModel::Gbdt);
        self.gbdt.set(gbdt_texts(&GbdtParams::course_best()));
    }
}

impl Default for ModelFormState {
    fn default() -> Self {
        Self::new()
    }
}

/// One text field with its default beside it.
#[component]
fn ParamInput(
    field: Field,
    texts: RwSignal<Texts>,
    default: String,
    error: Memo<Option<&'static str>>,
) -> impl IntoView {
    let name = field.name;
    let value = move || texts.with(|t| t.get(name).cloned().unwrap_or_default());
    let set = move |text: String| {
        texts.update(|t| {
            t.insert(name, text);
        })
    };
    let input = match field.kind {
        FieldKind::Encoding => view! {
            <select data-testid=format!("param-{name}") prop:value=value on:change=move |ev| set(event_target_value(&ev))>
                <option value="one_hot">"one-hot"</option>
                <option value="categorical">"categorical"</option>
            </select>
        }
        .into_any(),
        FieldKind::Bool => view! {
            <select data-testid=format!("param-{name}") prop:value=value on:change=move |ev| set(event_target_value(&ev))>
                <option value="true">"True"</option>
                <option value="false">"False"</option>
            </select>
        }
        .into_any(),
        _ => view! {
            <input type="text" size="8" inputmode="decimal" data-testid=format!("param-{name}")
                class:invalid=move || error.get() == Some(name)
                aria-invalid=move || (error.get() == Some(name)).to_string()
                prop:value=value on:input=move |ev| set(event_target_value(&ev))/>
        }
        .into_any(),
    };
    view! {
        <label class="param" title=field.help>
            <span class="param-name">{name}</span>
            {input}
            <span class="param-default muted">{format!("default {default}")}</span>
        </label>
    }
}

/// The model select and the chosen model's hyperparameters.
#[component]
pub fn ModelForm(form: ModelFormState) -> impl IntoView {
    let estimator = Memo::new(move |_| form.estimator());
    let error_field = Memo::new(move |_| estimator.with(|e| e.as_ref().err().and_then(|e| e.field)));
    let gbdt_defaults = gbdt_texts(&GbdtParams::default());
    let forest_defaults = forest_texts(&ForestParams::default());
    let fields = move |list: &'static [Field], texts: RwSignal<Texts>, defaults: &Texts| {
        list.iter()
            .map(|field| {
                let default = defaults.get(field.name).cloned().unwrap_or_default();
                view! { <ParamInput field=*field texts default error=error_field/> }
            })
            .collect_view()
    };
    let gbdt_fields = fields(&GBDT_FIELDS, form.gbdt, &gbdt_defaults);
    let forest_fields = fields(&FOREST_FIELDS, form.forest, &forest_defaults);
    let is = move |wanted: fn(FormModel) -> bool| move || wanted(form.model.get());
    view! {
        <div class="model-form" data-testid="model-form">
            <label>"Model "
                <select data-testid="model-kind" prop:value=move || form.model.get().id().to_string()
                    on:change=move |ev| if let Some(m) = FormModel::parse(&event_target_value(&ev)) { form.model.set(m) }>
                    {FormModel::ALL.map(|m| view! { <option value=m.id()>{m.label()}</option> }).collect_view()}
                </select>
            </label>
            " "
            <button data-testid="course-best" title="learning_rate 0.0959, max_depth 30, min_child_weight 1.06, reg_alpha 0.018, reg_lambda 0.0117, 1000 rounds, early stopping 50, seed 42"
                on:click=move |_| form.use_course_best()>"Course's best parameters"</button>
            <label class:hidden=move || !matches!(form.model.get(), FormModel::Linear(kind) if kind.uses_alpha())>" alpha "
                <input type="text" inputmode="decimal" size="6" data-testid="alpha" prop:value=move || form.alpha.get()
                    class:invalid=move || error_field.get() == Some("alpha")
                    on:input=move |ev| form.alpha.set(event_target_value(&ev))/>
            </label>
            <div class="params" class:hidden=move || !is(|m| m == FormModel::Gbdt)() data-testid="gbdt-params">
                {gbdt_fields}
                <p class="muted">"Squared error, histogram splits (max_bin 256). Early stopping watches the validation month."</p>
            </div>
            <div class="params" class:hidden=move || !is(|m| m == FormModel::Forest)() data-testid="forest-params">
                {forest_fields}
                <p class="muted">"Squared error; split points come from up to 4,096 bins per feature, enough for every distinct trip distance in a month."</p>
            </div>
            {move || estimator.get().err().map(|e| view! {
                <p class="error form-error" role="alert" data-testid="param-error">{e.message}</p>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbdt(changes: &[(&'static str, &str)]) -> Result<Estimator, FormError> {
        let mut texts = gbdt_texts(&GbdtParams::default());
        for (name, text) in changes {
            texts.insert(name, text.to_string());
        }
        build_estimator(FormModel::Gbdt, "", &texts, &forest_texts(&ForestParams::default()))
    }

    fn forest(changes: &[(&'static str, &str)]) -> Result<Estimator, FormError> {
        let mut texts = forest_texts(&ForestParams::default());
        for (name, text) in changes {
            texts.insert(name, text.to_string());
        }
        build_estimator(FormModel::Forest, "", &gbdt_texts(&GbdtParams::default()), &texts)
    }

    #[test]
    fn the_default_texts_give_the_default_parameters() {
        assert_eq!(gbdt(&[]), Ok(Estimator::Gbdt(GbdtParams::default())));
        assert_eq!(forest(&[]), Ok(Estimator::Forest(ForestParams::default())));
        let best = gbdt_texts(&GbdtParams::course_best());
        let built = build_estimator(FormModel::Gbdt, "", &best, &Texts::new()).expect("valid");
        let expected = GbdtParams { max_bin: GbdtParams::default().max_bin, ..GbdtParams::course_best() };
        assert_eq!(built, Estimator::Gbdt(expected), "the preset round-trips through the text");
    }

    #[test]
    fn every_field_kind_parses() {
        let Ok(Estimator::Gbdt(params)) = gbdt(&[
            ("early_stopping_rounds", "none"),
            ("encoding", "categorical"),
            ("learning_rate", "1e-2"),
        ]) else {
            panic!("valid")
        };
        assert_eq!(params.early_stopping_rounds, None);
        assert_eq!(params.encoding, TreeEncoding::Categorical);
        assert_eq!(params.learning_rate, 0.01);
        for (text, expected) in [
            ("sqrt", MaxFeatures::Sqrt),
            ("log2", MaxFeatures::Log2),
            ("1.0", MaxFeatures::All),
            ("0.5", MaxFeatures::Fraction(0.5)),
            ("3", MaxFeatures::Count(3)),
        ] {
            let Ok(Estimator::Forest(params)) =
                forest(&[("max_features", text), ("max_depth", "20"), ("bootstrap", "false")])
            else {
                panic!("{text} is valid")
            };
            assert_eq!(params.max_features, expected, "{text}");
            assert_eq!(params.max_depth, Some(20));
            assert!(!params.bootstrap);
        }
    }

    #[test]
    fn errors_name_the_field_that_is_wrong() {
        let error = gbdt(&[("learning_rate", "fast")]).expect_err("not a number");
        assert_eq!(error.field, Some("learning_rate"));
        assert!(error.message.contains("`fast`"), "{}", error.message);
        let error = gbdt(&[("max_depth", "0")]).expect_err("out of range");
        assert_eq!(error.field, Some("max_depth"));
        let error = gbdt(&[("max_depth", "3.5")]).expect_err("not whole");
        assert_eq!(error.field, Some("max_depth"), "{}", error.message);
        let error = gbdt(&[("subsample", "1.5")]).expect_err("not a share");
        assert_eq!(error.field, Some("subsample"));
        let error = gbdt(&[("reg_alpha", "-1")]).expect_err("negative");
        assert_eq!(error.field, Some("reg_alpha"));
        let error = forest(&[("min_samples_split", "1")]).expect_err("too small");
        assert_eq!(error.field, Some("min_samples_split"));
        let error = forest(&[("n_estimators", "-3")]).expect_err("negative count");
        assert_eq!(error.field, Some("n_estimators"), "{}", error.message);
        let error = forest(&[("max_features", "1.5")]).expect_err("share above 1");
        assert_eq!(error.field, Some("max_features"), "{}", error.message);
        let error = build_estimator(FormModel::Linear(ModelKind::Lasso), "-1", &Texts::new(), &Texts::new())
            .expect_err("negative alpha");
        assert_eq!(error.field, Some("alpha"));
        let linear = build_estimator(
            FormModel::Linear(ModelKind::LinearRegression),
            "junk",
            &Texts::new(),
            &Texts::new(),
        );
        assert!(linear.is_ok(), "LinearRegression ignores alpha");
    }

    #[test]
    fn model_ids_round_trip() {
        for model in FormModel::ALL {
            assert_eq!(FormModel::parse(model.id()), Some(model));
        }
        assert_eq!(FormModel::parse("svm"), None);
    }
}
