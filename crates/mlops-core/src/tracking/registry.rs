//! The model registry: MLflow's registered models, versions, stages and aliases as pure data.
//!
//! Storage keeps one [`RegisteredModel`] record per model, with its versions, aliases and
//! history inside, so every registry operation is one read-modify-write of one record and
//! a backend needs no cross-record transaction. Every method checks everything before it
//! changes anything, so a refused operation leaves the record as it was. Nothing here
//! reads a clock: callers pass `now` in milliseconds since the Unix epoch.
//!
//! MLflow deprecated stages (2.9) in favour of aliases; both are kept because the course
//! teaches the move from one to the other, and the history lets the app show a timeline
//! and offer "roll back" for either.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::limits::{check_key, check_name, KeyKind};
use super::TrackingError;

/// MLflow's `MAX_REGISTERED_MODEL_ALIAS_LENGTH`.
pub const MAX_ALIAS_LENGTH: usize = 255;
/// Registry tags have a lower limit than run tags in MLflow (`MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH`).
pub const MAX_REGISTRY_TAG_VALUE_LENGTH: usize = 5_000;
/// MLflow stores model and version descriptions in a 5000-character column.
pub const MAX_DESCRIPTION_LENGTH: usize = 5_000;
/// MLflow refuses these in model names: `/` and `:` would break `models:/` URIs, `%` the
/// registry page links.
const FORBIDDEN_IN_MODEL_NAME: [char; 3] = ['/', ':', '%'];
/// Versions are copied, never uploaded, so they are ready as soon as they exist.
const STATUS_READY: &str = "READY";

/// MLflow's model version stages; serialised with MLflow's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::None, Stage::Staging, Stage::Production, Stage::Archived];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Case-insensitive, as MLflow's `get_canonical_stage`, so `models:/m/production` works.
    pub fn parse(text: &str) -> Result<Stage, TrackingError> {
        Self::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| TrackingError::BadStage(text.to_string()))
    }

    /// Only these stages hold a "current" model, so only they can archive the one before.
    pub fn is_active(self) -> bool {
        matches!(self, Stage::Staging | Stage::Production)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: u32,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub current_stage: Stage,
    pub description: String,
    /// Where the files are, e.g. `runs:/<run_id>/model`.
    pub source: String,
    pub run_id: String,
    pub status: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl ModelVersion {
    /// The URI that keeps pointing at exactly this version, whatever aliases and stages do.
    pub fn model_uri(&self) -> String {
        ModelUri::Version { name: self.name.clone(), version: self.version }.to_string()
    }
}

/// What happened, with enough to draw a timeline and to undo a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryChange {
    VersionCreated,
    StageChanged { from: Stage, to: Stage },
    AliasSet { alias: String, previous: Option<u32> },
    AliasDeleted { alias: String },
    DescriptionChanged,
    VersionDeleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEvent {
    pub timestamp: i64,
    /// The version changed; 0 for the model itself (versions start at 1).
    pub version: u32,
    pub change: RegistryChange,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub aliases: BTreeMap<String, u32>,
    #[serde(default)]
    pub versions: Vec<ModelVersion>,
    /// Oldest first.
    #[serde(default)]
    pub history: Vec<RegistryEvent>,
    /// The highest number ever handed out. Kept after that version is deleted so a number
    /// never names two different models (MLflow keeps deleted versions as hidden rows).
    #[serde(default)]
    pub last_version_number: u32,
}

impl RegisteredModel {
    pub fn new(name: &str, description: &str, now: i64) -> Result<Self, TrackingError> {
        check_model_name(name)?;
        check_description(description)?;
        Ok(RegisteredModel {
            name: name.to_string(),
            creation_timestamp: now,
            last_updated_timestamp: now,
            description: description.to_string(),
            ..RegisteredModel::default()
        })
    }

    /// Registers a model logged by a run. A `runs:/` source supplies the run id when none is
    /// given, and must agree with it when one is, so a version never points at two runs.
    pub fn create_version(
        &mut self,
        source: &str,
        run_id: &str,
        description: &str,
        now: i64,
    ) -> Result<&ModelVersion, TrackingError> {
        if source.trim().is_empty() {
            return Err(TrackingError::EmptyName("model source"));
        }
        check_description(description)?;
        let run_id = match parse_model_uri(source) {
            Ok(ModelUri::Run { run_id: from_source, .. }) if run_id.is_empty() => from_source,
            Ok(ModelUri::Run { run_id: from_source, .. }) if from_source != run_id => {
                return Err(TrackingError::BadModelUri {
                    uri: source.to_string(),
                    why: format!("it belongs to run `{from_source}`, not to run `{run_id}`"),
                })
            }
            Err(error) if source.starts_with("runs:") => return Err(error),
            _ => run_id.to_string(),
        };
        let highest =
            self.versions.iter().map(|v| v.version).max().unwrap_or(0).max(self.last_version_number);
        let number = highest.checked_add(1).ok_or_else(|| TrackingError::TooLong {
            what: format!("version list of model `{}`", self.name),
            length: highest as usize,
            limit: u32::MAX as usize,
        })?;
        self.versions.push(ModelVersion {
            name: self.name.clone(),
            version: number,
            creation_timestamp: now,
            last_updated_timestamp: now,
            current_stage: Stage::None,
            description: description.to_string(),
            source: source.to_string(),
            run_id,
            status: STATUS_READY.to_string(),
            tags: BTreeMap::new(),
        });
        self.last_version_number = number;
        self.record(now, number, RegistryChange::VersionCreated);
        self.version(number)
    }

    pub fn version(&self, version: u32) -> Result<&ModelVersion, TrackingError> {
        self.versions
            .iter()
            .find(|mv| mv.version == version)
            .ok_or_else(|| TrackingError::VersionNotFound { name: self.name.clone(), version })
    }

    fn version_mut(&mut self, version: u32) -> Result<&mut ModelVersion, TrackingError> {
        let name = &self.name;
        self.versions
            .iter_mut()
            .find(|mv| mv.version == version)
            .ok_or_else(|| TrackingError::VersionNotFound { name: name.clone(), version })
    }

    fn record(&mut self, now: i64, version: u32, change: RegistryChange) {
        self.history.push(RegistryEvent { timestamp: now, version, change });
        self.last_updated_timestamp = now;
    }

    /// As MLflow: with `archive_existing_versions`, every other version in the target stage
    /// moves to Archived, so the stage holds one model; the flag is refused for None and
    /// Archived, where there is nothing current to replace.
    pub fn transition_stage(
        &mut self,
        version: u32,
        stage: Stage,
        archive_existing_versions: bool,
        now: i64,
    ) -> Result<(), TrackingError> {
        if archive_existing_versions && !stage.is_active() {
            return Err(TrackingError::ArchiveNeedsActiveStage(stage.to_string()));
        }
        let target = self.version_mut(version)?;
        let from = target.current_stage;
        target.current_stage = stage;
        target.last_updated_timestamp = now;
        let mut archived = Vec::new();
        if archive_existing_versions {
            for other in
                self.versions.iter_mut().filter(|mv| mv.version != version && mv.current_stage == stage)
            {
                other.current_stage = Stage::Archived;
                other.last_updated_timestamp = now;
                archived.push(other.version);
            }
        }
        for other in archived {
            self.record(now, other, RegistryChange::StageChanged { from: stage, to: Stage::Archived });
        }
        if from != stage {
            self.record(now, version, RegistryChange::StageChanged { from, to: stage });
        }
        self.last_updated_timestamp = now;
        Ok(())
    }

    /// Moving an alias records where it pointed before, which is what a rollback needs.
    pub fn set_alias(&mut self, alias: &str, version: u32, now: i64) -> Result<(), TrackingError> {
        check_alias(alias)?;
        self.version(version)?;
        let previous = self.aliases.insert(alias.to_string(), version);
        if previous != Some(version) {
            self.record(now, version, RegistryChange::AliasSet { alias: alias.to_string(), previous });
        }
        Ok(())
    }

    /// Deleting an alias that is not set is not an error, as in MLflow.
    pub fn delete_alias(&mut self, alias: &str, now: i64) -> Result<(), TrackingError> {
        check_alias(alias)?;
        if let Some(version) = self.aliases.remove(alias) {
            self.record(now, version, RegistryChange::AliasDeleted { alias: alias.to_string() });
        }
        Ok(())
    }

    pub fn version_by_alias(&self, alias: &str) -> Result<&ModelVersion, TrackingError> {
        check_alias(alias)?;
        let version = self.aliases.get(alias).ok_or_else(|| TrackingError::AliasNotFound {
            name: self.name.clone(),
            alias: alias.to_string(),
        })?;
        self.version(*version)
    }

    /// Undoes the alias's last move and returns the version it points at now. A second
    /// rollback undoes the first, like an editor's undo of one step. A version deleted
    /// since cannot come back: that is [`TrackingError::VersionNotFound`].
    pub fn rollback_alias(&mut self, alias: &str, now: i64) -> Result<u32, TrackingError> {
        self.version_by_alias(alias)?;
        let previous = self
            .history
            .iter()
            .rev()
            .find_map(|event| match &event.change {
                RegistryChange::AliasSet { alias: moved, previous } if moved == alias => Some(*previous),
                _ => None,
            })
            .flatten()
            .ok_or_else(|| TrackingError::BadAlias {
                alias: alias.to_string(),
                why: "it has not been moved since it was set, so there is no earlier version to roll back to",
            })?;
        self.set_alias(alias, previous, now)?;
        Ok(previous)
    }

    /// The version `models:/<name>/<stage>` loads: the highest one in that stage.
    pub fn latest_in_stage(&self, stage: Stage) -> Option<&ModelVersion> {
        self.versions.iter().filter(|mv| mv.current_stage == stage).max_by_key(|mv| mv.version)
    }

    /// MLflow's `get_latest_versions`: the latest version of each requested stage that has
    /// one (every stage when `stages` is empty), in the order of [`Stage::ALL`].
    pub fn latest_versions(&self, stages: &[Stage]) -> Vec<&ModelVersion> {
        Stage::ALL
            .into_iter()
            .filter(|stage| stages.is_empty() || stages.contains(stage))
            .filter_map(|stage| self.latest_in_stage(stage))
            .collect()
    }

    /// The version that most recently entered `stage` other than the current one and still
    /// exists, for "roll back Production to vN". Like [`Self::rollback_alias`], applying it
    /// and asking again offers the version just replaced.
    pub fn previous_in_stage(&self, stage: Stage) -> Option<u32> {
        let current = self.latest_in_stage(stage).map(|mv| mv.version);
        self.history
            .iter()
            .rev()
            .filter_map(|event| match event.change {
                RegistryChange::StageChanged { to, .. } if to == stage => Some(event.version),
                _ => None,
            })
            .find(|version| Some(*version) != current && self.version(*version).is_ok())
    }

    pub fn aliases_of(&self, version: u32) -> Vec<&str> {
        self.aliases.iter().filter(|(_, v)| **v == version).map(|(alias, _)| alias.as_str()).collect()
    }

    pub fn update_description(&mut self, description: &str, now: i64) -> Result<(), TrackingError> {
        check_description(description)?;
        self.description = description.to_string();
        self.record(now, 0, RegistryChange::DescriptionChanged);
        Ok(())
    }

    pub fn set_tag(&mut self, key: &str, value: &str, now: i64) -> Result<(), TrackingError> {
        check_registry_tag(key, value)?;
        self.tags.insert(key.to_string(), value.to_string());
        self.last_updated_timestamp = now;
        Ok(())
    }

    /// Deleting a tag that is not set is not an error, as in MLflow.
    pub fn delete_tag(&mut self, key: &str, now: i64) -> Result<(), TrackingError> {
        check_key(KeyKind::Tag, key)?;
        if self.tags.remove(key).is_some() {
            self.last_updated_timestamp = now;
        }
        Ok(())
    }

    pub fn set_version_tag(
        &mut self,
        version: u32,
        key: &str,
        value: &str,
        now: i64,
    ) -> Result<(), TrackingError> {
        check_registry_tag(key, value)?;
        let target = self.version_mut(version)?;
        target.tags.insert(key.to_string(), value.to_string());
        target.last_updated_timestamp = now;
        self.last_updated_timestamp = now;
        Ok(())
    }

    pub fn delete_version_tag(&mut self, version: u32, key: &str, now: i64) -> Result<(), TrackingError> {
        check_key(KeyKind::Tag, key)?;
        let target = self.version_mut(version)?;
        if target.tags.remove(key).is_some() {
            target.last_updated_timestamp = now;
            self.last_updated_timestamp = now;
        }
        Ok(())
    }

    pub fn update_version_description(
        &mut self,
        version: u32,
        description: &str,
        now: i64,
    ) -> Result<(), TrackingError> {
        check_description(description)?;
        let target = self.version_mut(version)?;
        target.description = description.to_string();
        target.last_updated_timestamp = now;
        self.record(now, version, RegistryChange::DescriptionChanged);
        Ok(())
    }

    /// Aliases pointing at the version go with it (as in MLflow), so an alias never
    /// dangles; the history keeps what it said.
    pub fn delete_version(&mut self, version: u32, now: i64) -> Result<(), TrackingError> {
        self.version(version)?;
        self.versions.retain(|mv| mv.version != version);
        self.last_version_number = self.last_version_number.max(version);
        let dropped: Vec<String> =
            self.aliases.iter().filter(|(_, v)| **v == version).map(|(alias, _)| alias.clone()).collect();
        for alias in dropped {
            self.aliases.remove(&alias);
            self.record(now, version, RegistryChange::AliasDeleted { alias });
        }
        self.record(now, version, RegistryChange::VersionDeleted);
        Ok(())
    }

    /// Looks up what a `models:/` URI names in this model. A URI for another model is
    /// [`TrackingError::ModelNotFound`], so the caller can tell it loaded the wrong record.
    pub fn resolve(&self, uri: &ModelUri) -> Result<&ModelVersion, TrackingError> {
        if let Some(other) = uri.model_name().filter(|name| *name != self.name) {
            return Err(TrackingError::ModelNotFound(other.to_string()));
        }
        match uri {
            ModelUri::Version { version, .. } => self.version(*version),
            ModelUri::Stage { stage, .. } => self.latest_in_stage(*stage).ok_or_else(|| {
                TrackingError::NoVersionInStage { name: self.name.clone(), stage: stage.to_string() }
            }),
            ModelUri::Latest { .. } => self.versions.iter().max_by_key(|mv| mv.version).ok_or_else(|| {
                TrackingError::NoVersionInStage { name: self.name.clone(), stage: "any".to_string() }
            }),
            ModelUri::Alias { alias, .. } => self.version_by_alias(alias),
            ModelUri::Run { .. } => Err(TrackingError::BadModelUri {
                uri: uri.to_string(),
                why: "a `runs:/` URI names a run's files, not a registered model version".to_string(),
            }),
        }
    }
}

/// Beyond MLflow's length rule, `/`, `:` and `%` are refused as recent MLflow does. There
/// is no dedicated error for it, so it reads as "not a model URI", which is the reason.
fn check_model_name(name: &str) -> Result<(), TrackingError> {
    check_name("model name", name)?;
    if let Some(bad) = name.chars().find(|c| FORBIDDEN_IN_MODEL_NAME.contains(c)) {
        return Err(TrackingError::BadModelUri {
            uri: name.to_string(),
            why: format!("model names cannot contain `{bad}`; `/ : %` would break `models:/` URIs and links"),
        });
    }
    Ok(())
}

/// Lengths count characters, as Python's `len` does in MLflow.
fn check_length(what: impl FnOnce() -> String, text: &str, limit: usize) -> Result<(), TrackingError> {
    let length = text.chars().count();
    if length > limit {
        return Err(TrackingError::TooLong { what: what(), length, limit });
    }
    Ok(())
}

fn check_description(description: &str) -> Result<(), TrackingError> {
    check_length(|| "description".to_string(), description, MAX_DESCRIPTION_LENGTH)
}

fn check_registry_tag(key: &str, value: &str) -> Result<(), TrackingError> {
    check_key(KeyKind::Tag, key)?;
    check_length(|| format!("value of tag `{key}`"), value, MAX_REGISTRY_TAG_VALUE_LENGTH)
}

/// MLflow's alias rules, so an alias made here is valid on a server and can never be
/// mistaken for `latest` or a version in `models:/name@alias`: non-empty, at most 255
/// characters, letters, digits, `_` and `-` only, not `latest` in any case, and not `v`
/// or `V` followed by digits only.
pub fn check_alias(alias: &str) -> Result<(), TrackingError> {
    if alias.is_empty() {
        return Err(TrackingError::EmptyName("alias"));
    }
    let bad = |why| Err(TrackingError::BadAlias { alias: alias.to_string(), why });
    if !alias.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return bad("aliases may only use letters, digits, `_` and `-`");
    }
    check_length(|| "alias".to_string(), alias, MAX_ALIAS_LENGTH)?;
    if alias.eq_ignore_ascii_case("latest") {
        return bad("`latest` is reserved for the highest version");
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && chars.clone().next().is_some()
        && chars.all(|c| c.is_numeric())
    {
        return bad("names like `v3` are reserved for versions");
    }
    Ok(())
}

/// What a `models:/` or `runs:/` URI points at. `Stage` means the highest version in that
/// stage and `Latest` the highest of all, as in MLflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelUri {
    Version { name: String, version: u32 },
    Stage { name: String, stage: Stage },
    Latest { name: String },
    Alias { name: String, alias: String },
    Run { run_id: String, artifact_path: String },
}

impl ModelUri {
    /// Which registered model record to load; `None` for a run.
    pub fn model_name(&self) -> Option<&str> {
        match self {
            ModelUri::Version { name, .. }
            | ModelUri::Stage { name, .. }
            | ModelUri::Latest { name }
            | ModelUri::Alias { name, .. } => Some(name),
            ModelUri::Run { .. } => None,
        }
    }
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelUri::Version { name, version } => write!(f, "models:/{name}/{version}"),
            ModelUri::Stage { name, stage } => write!(f, "models:/{name}/{stage}"),
            ModelUri::Latest { name } => write!(f, "models:/{name}/latest"),
            ModelUri::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelUri::Run { run_id, artifact_path } if artifact_path.is_empty() => {
                write!(f, "runs:/{run_id}")
            }
            ModelUri::Run { run_id, artifact_path } => write!(f, "runs:/{run_id}/{artifact_path}"),
        }
    }
}

const MODELS_URI_FORMS: &str =
    "write `models:/<name>/<version>`, `models:/<name>/<stage>`, `models:/<name>/latest` \
     or `models:/<name>@<alias>`";

/// Reads URIs as MLflow's `_parse_model_uri` and `parse_runs_uri` do, refusing the forms
/// this app has no registry for (`models://profile/...`, `models:/<logged model id>`).
pub fn parse_model_uri(uri: &str) -> Result<ModelUri, TrackingError> {
    let bad = |why: String| TrackingError::BadModelUri { uri: uri.to_string(), why };
    let Some((scheme, path)) = uri.split_once(':') else {
        return Err(bad("it has no scheme; it must start with `models:/` or `runs:/`".to_string()));
    };
    let Some(path) = path.strip_prefix('/').filter(|rest| !rest.starts_with('/')) else {
        return Err(bad(format!("`{scheme}:` must be followed by exactly one `/`")));
    };
    if scheme.eq_ignore_ascii_case("runs") {
        let (run_id, artifact_path) = path.split_once('/').unwrap_or((path, ""));
        if run_id.is_empty() {
            return Err(bad("the run id is empty".to_string()));
        }
        if !is_mlflow_run_id(run_id) {
            return Err(bad(format!(
                "`{run_id}` is not a run id (a letter or digit, then letters, digits, `_` or `-`)"
            )));
        }
        return Ok(ModelUri::Run { run_id: run_id.to_string(), artifact_path: artifact_path.to_string() });
    }
    if !scheme.eq_ignore_ascii_case("models") {
        return Err(bad("it must start with `models:/` or `runs:/`".to_string()));
    }
    if let Some((name, suffix)) = path.split_once('/') {
        if name.trim().is_empty() {
            return Err(bad("the model name is empty".to_string()));
        }
        if suffix.contains('/') {
            return Err(bad(format!("there is more than one `/` after the model name; {MODELS_URI_FORMS}")));
        }
        let name = name.to_string();
        if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()) {
            return match suffix.parse::<u32>() {
                Ok(0) => Err(bad("versions start at 1".to_string())),
                Ok(version) => Ok(ModelUri::Version { name, version }),
                Err(_) => Err(bad(format!("version {suffix} is too large"))),
            };
        }
        if suffix.eq_ignore_ascii_case("latest") {
            return Ok(ModelUri::Latest { name });
        }
        return match Stage::parse(suffix) {
            Ok(stage) => Ok(ModelUri::Stage { name, stage }),
            Err(_) => Err(bad(format!(
                "`{suffix}` is not a version number, `latest` or a stage \
                 (None, Staging, Production, Archived)"
            ))),
        };
    }
    let Some((name, alias)) = path.rsplit_once('@') else {
        return Err(bad(format!("it names no version; {MODELS_URI_FORMS}")));
    };
    if name.trim().is_empty() {
        return Err(bad("the model name is empty".to_string()));
    }
    check_alias(alias).map_err(|error| bad(error.to_string()))?;
    Ok(ModelUri::Alias { name: name.to_string(), alias: alias.to_string() })
}

/// MLflow's `_RUN_ID_REGEX`: a letter or digit, then up to 255 word characters or `-`.
fn is_mlflow_run_id(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.chars().count() <= 256
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "0123456789abcdef0123456789abcdef";

    fn model_with(versions: u32) -> RegisteredModel {
        let mut model = RegisteredModel::new("taxi-fare", "predicts fares", 1_000).expect("model");
        for n in 0..versions {
            model
                .create_version(&format!("runs:/{RUN}/model"), "", "", 2_000 + i64::from(n))
                .expect("version");
        }
        model
    }

    fn stage_of(model: &RegisteredModel, version: u32) -> Stage {
        model.version(version).expect("version").current_stage
    }

    fn missing(version: u32) -> TrackingError {
        TrackingError::VersionNotFound { name: "taxi-fare".to_string(), version }
    }

    fn bad_uri(uri: &str) -> bool {
        matches!(parse_model_uri(uri), Err(TrackingError::BadModelUri { .. }))
    }

    #[test]
    fn stages_parse_in_any_case_and_serialise_as_mlflow_spells_them() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(&stage.as_str().to_uppercase()), Ok(stage));
            assert_eq!(serde_json::to_string(&stage).expect("json"), format!("\"{stage}\""));
        }
        assert_eq!(Stage::parse("prod"), Err(TrackingError::BadStage("prod".to_string())));
    }

    #[test]
    fn model_names_follow_mlflow() {
        assert_eq!(RegisteredModel::new(" ", "", 0), Err(TrackingError::EmptyName("model name")));
        assert!(matches!(RegisteredModel::new(&"m".repeat(251), "", 0), Err(TrackingError::TooLong { .. })));
        for name in ["team/model", "a:b", "100%"] {
            assert!(
                matches!(RegisteredModel::new(name, "", 0), Err(TrackingError::BadModelUri { .. })),
                "{name}"
            );
        }
        assert!(RegisteredModel::new("Fare model v2.1", "", 0).is_ok());
    }

    #[test]
    fn descriptions_and_tags_keep_registry_limits() {
        let mut model = model_with(1);
        let long = "x".repeat(MAX_DESCRIPTION_LENGTH + 1);
        assert!(matches!(RegisteredModel::new("m", &long, 0), Err(TrackingError::TooLong { .. })));
        assert!(matches!(model.update_description(&long, 5), Err(TrackingError::TooLong { .. })));
        assert!(matches!(model.update_version_description(1, &long, 5), Err(TrackingError::TooLong { .. })));
        let value = "x".repeat(MAX_REGISTRY_TAG_VALUE_LENGTH + 1);
        assert!(matches!(model.set_tag("team", &value, 5), Err(TrackingError::TooLong { .. })));
        assert!(matches!(model.set_tag("bad*key", "v", 5), Err(TrackingError::BadKey { .. })));
        assert!(matches!(model.set_version_tag(1, "", "v", 5), Err(TrackingError::EmptyKey(_))));
        assert_eq!(model, model_with(1), "refused changes leave the record as it was");
    }

    #[test]
    fn tags_and_descriptions_change_and_deleting_missing_tags_is_fine() {
        let mut model = model_with(1);
        model.set_tag("team", "fares", 10).expect("tag");
        model.set_version_tag(1, "validated", "yes", 11).expect("version tag");
        model.update_description("better", 12).expect("description");
        model.update_version_description(1, "first", 13).expect("version description");
        assert_eq!(model.tags.get("team").map(String::as_str), Some("fares"));
        assert_eq!(model.version(1).expect("v1").description, "first");
        model.delete_tag("team", 14).expect("delete");
        model.delete_tag("never-set", 15).expect("missing tag");
        model.delete_version_tag(1, "validated", 16).expect("delete version tag");
        assert!(model.tags.is_empty() && model.version(1).expect("v1").tags.is_empty());
        assert_eq!(model.last_updated_timestamp, 16);
        assert_eq!(model.set_version_tag(9, "k", "v", 17), Err(missing(9)));
    }

    #[test]
    fn versions_count_up_and_numbers_are_never_reused() {
        let mut model = model_with(3);
        let v3 = model.version(3).expect("v3");
        assert_eq!((v3.run_id.as_str(), v3.status.as_str(), v3.current_stage), (RUN, "READY", Stage::None));
        assert_eq!(v3.model_uri(), "models:/taxi-fare/3");
        model.delete_version(3, 10).expect("delete v3");
        model.delete_version(2, 11).expect("delete v2");
        assert_eq!(model.create_version("runs:/abc/model", "abc", "", 12).expect("v4").version, 4);
        assert_eq!(model.history.last().map(|e| e.change.clone()), Some(RegistryChange::VersionCreated));
    }

    #[test]
    fn create_version_needs_a_source_that_agrees_with_the_run() {
        let mut model = model_with(0);
        assert_eq!(model.create_version(" ", RUN, "", 5), Err(TrackingError::EmptyName("model source")));
        let mismatch = model.create_version("runs:/abc/model", "def", "", 5);
        assert!(matches!(mismatch, Err(TrackingError::BadModelUri { .. })));
        let malformed = model.create_version("runs:/-x/model", "", "", 5);
        assert!(matches!(malformed, Err(TrackingError::BadModelUri { .. })));
        assert_eq!(model.create_version("s3://bucket/model", "def", "", 5).expect("v1").run_id, "def");
    }

    #[test]
    fn a_missing_version_is_version_not_found() {
        let model = model_with(1);
        assert_eq!(model.version(2), Err(missing(2)));
        let mut model = model;
        assert!(matches!(
            model.transition_stage(2, Stage::Staging, false, 5),
            Err(TrackingError::VersionNotFound { .. })
        ));
        assert!(matches!(model.delete_version(2, 5), Err(TrackingError::VersionNotFound { .. })));
    }

    #[test]
    fn archive_existing_versions_archives_the_rest_of_production() {
        let mut model = model_with(3);
        model.transition_stage(1, Stage::Production, false, 10).expect("v1");
        model.transition_stage(2, Stage::Production, false, 11).expect("v2");
        model.transition_stage(3, Stage::Production, true, 12).expect("v3");
        assert_eq!(
            [1, 2, 3].map(|v| stage_of(&model, v)),
            [Stage::Archived, Stage::Archived, Stage::Production]
        );
        let archived = RegistryChange::StageChanged { from: Stage::Production, to: Stage::Archived };
        assert_eq!(model.history.iter().filter(|e| e.change == archived && e.timestamp == 12).count(), 2);
        let last = model.history.last().expect("event");
        assert_eq!(
            (last.version, &last.change),
            (3, &RegistryChange::StageChanged { from: Stage::None, to: Stage::Production })
        );
    }

    #[test]
    fn archive_existing_versions_archives_only_the_target_stage() {
        let mut model = model_with(3);
        model.transition_stage(1, Stage::Production, false, 10).expect("v1");
        model.transition_stage(2, Stage::Staging, false, 11).expect("v2");
        model.transition_stage(3, Stage::Staging, true, 12).expect("v3");
        assert_eq!(
            [1, 2, 3].map(|v| stage_of(&model, v)),
            [Stage::Production, Stage::Archived, Stage::Staging]
        );
    }

    #[test]
    fn archive_existing_versions_is_refused_for_none_and_archived() {
        let mut model = model_with(2);
        model.transition_stage(1, Stage::Archived, false, 10).expect("archive v1");
        let before = model.clone();
        for stage in [Stage::None, Stage::Archived] {
            assert!(matches!(
                model.transition_stage(2, stage, true, 11),
                Err(TrackingError::ArchiveNeedsActiveStage(_))
            ));
        }
        assert_eq!(model, before);
    }

    #[test]
    fn a_failed_transition_archives_nothing() {
        let mut model = model_with(1);
        model.transition_stage(1, Stage::Production, false, 10).expect("v1");
        let before = model.clone();
        assert_eq!(model.transition_stage(7, Stage::Production, true, 11), Err(missing(7)));
        assert_eq!(model, before);
    }

    #[test]
    fn latest_versions_gives_the_highest_per_requested_stage() {
        let mut model = model_with(4);
        model.transition_stage(1, Stage::Production, false, 10).expect("v1");
        model.transition_stage(2, Stage::Production, false, 11).expect("v2");
        model.transition_stage(3, Stage::Staging, false, 12).expect("v3");
        let numbers =
            |stages: &[Stage]| model.latest_versions(stages).iter().map(|v| v.version).collect::<Vec<_>>();
        assert_eq!(numbers(&[]), [4, 3, 2]);
        assert_eq!(numbers(&[Stage::Production, Stage::Archived]), [2]);
    }

    #[test]
    fn aliases_move_and_remember_where_they_were() {
        let mut model = model_with(2);
        model.set_alias("champion", 1, 10).expect("set");
        model.set_alias("champion", 1, 11).expect("same version");
        model.set_alias("champion", 2, 12).expect("move");
        model.set_alias("challenger", 2, 13).expect("second alias");
        assert_eq!(model.version_by_alias("champion").expect("alias").version, 2);
        assert_eq!(model.aliases_of(2), ["challenger", "champion"]);
        let moves: Vec<_> =
            model.history.iter().filter(|e| matches!(e.change, RegistryChange::AliasSet { .. })).collect();
        assert_eq!(moves.len(), 3, "setting the same version again records nothing");
        assert_eq!(
            moves[1].change,
            RegistryChange::AliasSet { alias: "champion".to_string(), previous: Some(1) }
        );
        assert_eq!(model.set_alias("champion", 3, 14), Err(missing(3)));
    }

    #[test]
    fn rollback_alias_undoes_the_last_move() {
        let mut model = model_with(3);
        model.set_alias("champion", 1, 10).expect("set");
        let no_previous = model.rollback_alias("champion", 11);
        assert!(matches!(no_previous, Err(TrackingError::BadAlias { .. })));
        model.set_alias("champion", 3, 12).expect("move");
        assert_eq!(model.rollback_alias("champion", 13), Ok(1));
        assert_eq!(model.version_by_alias("champion").expect("alias").version, 1);
        assert_eq!(model.rollback_alias("champion", 14), Ok(3), "a second rollback undoes the first");
        assert!(matches!(model.rollback_alias("unset", 15), Err(TrackingError::AliasNotFound { .. })));
    }

    #[test]
    fn deleting_aliases_and_versions() {
        let mut model = model_with(2);
        model.set_alias("champion", 2, 10).expect("set");
        model.set_alias("backup", 1, 10).expect("set");
        model.delete_alias("never-set", 11).expect("missing alias is fine, as in MLflow");
        model.delete_alias("backup", 12).expect("delete");
        assert_eq!(model.history.last().map(|e| e.version), Some(1));
        model.delete_version(2, 13).expect("delete v2");
        assert!(model.aliases.is_empty(), "the alias went with its version");
        let gone = model.version_by_alias("champion");
        assert_eq!(
            gone,
            Err(TrackingError::AliasNotFound {
                name: "taxi-fare".to_string(),
                alias: "champion".to_string()
            })
        );
        let dropped = RegistryChange::AliasDeleted { alias: "champion".to_string() };
        assert!(model.history.iter().any(|e| e.change == dropped && e.version == 2));
    }

    #[test]
    fn alias_rules_follow_mlflow() {
        for alias in ["champion", "Champion_2", "blue-green", "v1a", "version3", "vorschlag", "é"] {
            assert_eq!(check_alias(alias), Ok(()), "{alias}");
        }
        assert_eq!(check_alias(""), Err(TrackingError::EmptyName("alias")));
        assert!(matches!(check_alias(&"a".repeat(256)), Err(TrackingError::TooLong { limit: 255, .. })));
        assert_eq!(check_alias(&"a".repeat(255)), Ok(()));
        for alias in ["latest", "LATEST", "v1", "V12", "v007", "has space", "dot.ted", "slash/ed", "at@"] {
            assert!(matches!(check_alias(alias), Err(TrackingError::BadAlias { .. })), "{alias}");
        }
        let mut model = model_with(1);
        assert!(matches!(model.set_alias("latest", 1, 5), Err(TrackingError::BadAlias { .. })));
        assert!(matches!(model.version_by_alias("v1"), Err(TrackingError::BadAlias { .. })));
    }

    #[test]
    fn previous_in_stage_offers_the_version_replaced() {
        let mut model = model_with(3);
        assert_eq!(model.previous_in_stage(Stage::Production), None);
        model.transition_stage(1, Stage::Production, true, 10).expect("v1");
        assert_eq!(model.previous_in_stage(Stage::Production), None);
        model.transition_stage(2, Stage::Production, true, 11).expect("v2");
        model.transition_stage(3, Stage::Production, true, 12).expect("v3");
        assert_eq!(model.previous_in_stage(Stage::Production), Some(2));
        model.transition_stage(2, Stage::Production, true, 13).expect("roll back to v2");
        assert_eq!(model.latest_in_stage(Stage::Production).map(|v| v.version), Some(2));
        assert_eq!(model.previous_in_stage(Stage::Production), Some(3));
        model.delete_version(3, 14).expect("delete v3");
        assert_eq!(model.previous_in_stage(Stage::Production), Some(1), "deleted versions are skipped");
    }

    #[test]
    fn model_uris_parse() {
        let name = || "taxi-fare".to_string();
        assert_eq!(
            parse_model_uri("models:/taxi-fare/3"),
            Ok(ModelUri::Version { name: name(), version: 3 })
        );
        assert_eq!(
            parse_model_uri("models:/taxi-fare/production"),
            Ok(ModelUri::Stage { name: name(), stage: Stage::Production })
        );
        assert_eq!(parse_model_uri("models:/taxi-fare/LATEST"), Ok(ModelUri::Latest { name: name() }));
        assert_eq!(
            parse_model_uri("models:/taxi-fare@champion"),
            Ok(ModelUri::Alias { name: name(), alias: "champion".to_string() })
        );
        assert_eq!(
            parse_model_uri(&format!("runs:/{RUN}/model/sub")),
            Ok(ModelUri::Run { run_id: RUN.to_string(), artifact_path: "model/sub".to_string() })
        );
        assert_eq!(
            parse_model_uri("runs:/r1"),
            Ok(ModelUri::Run { run_id: "r1".to_string(), artifact_path: String::new() })
        );
        for uri in [
            "models:/taxi-fare/3",
            "models:/taxi-fare/Staging",
            "models:/taxi-fare/latest",
            "models:/a@b",
            "runs:/r1/model",
        ] {
            assert_eq!(parse_model_uri(uri).map(|parsed| parsed.to_string()), Ok(uri.to_string()));
        }
    }

    #[test]
    fn junk_is_not_a_model_uri() {
        let junk = "|taxi-fare/3|s3://bucket/model|models:|models:/|models://profile/m/1|models:/taxi-fare\
            |models:/m/0|models:/m/99999999999|models:/m/Prod|models:/m/|models:/ /1|models:/m/1/2|models:/m@\
            |models:/@champion|models:/m@latest|models:/m@v2|runs:/|runs:/-x/model\
            |runs:/ /model|runs://r1/model";
        for uri in junk.split('|') {
            assert!(bad_uri(uri), "{uri:?} should be refused");
        }
    }

    #[test]
    fn uris_resolve_against_the_model() {
        let mut model = model_with(3);
        model.transition_stage(2, Stage::Production, false, 10).expect("v2");
        model.set_alias("champion", 1, 11).expect("alias");
        let resolve = |uri: &str| model.resolve(&parse_model_uri(uri).expect("uri")).map(|v| v.version);
        assert_eq!(resolve("models:/taxi-fare/1"), Ok(1));
        assert_eq!(resolve("models:/taxi-fare/Production"), Ok(2));
        assert_eq!(resolve("models:/taxi-fare/latest"), Ok(3));
        assert_eq!(resolve("models:/taxi-fare@champion"), Ok(1));
        assert_eq!(resolve("models:/other/1"), Err(TrackingError::ModelNotFound("other".to_string())));
        assert!(matches!(resolve("models:/taxi-fare/Staging"), Err(TrackingError::NoVersionInStage { .. })));
        assert!(matches!(resolve("models:/taxi-fare/9"), Err(TrackingError::VersionNotFound { .. })));
        assert!(matches!(resolve("models:/taxi-fare@nobody"), Err(TrackingError::AliasNotFound { .. })));
        assert!(matches!(resolve("runs:/r1/model"), Err(TrackingError::BadModelUri { .. })));
        let empty = model_with(0);
        let latest = empty.resolve(&ModelUri::Latest { name: "taxi-fare".to_string() });
        assert!(matches!(latest, Err(TrackingError::NoVersionInStage { .. })));
    }

    #[test]
    fn a_model_round_trips_through_json() {
        let mut model = model_with(2);
        model.transition_stage(2, Stage::Production, true, 10).expect("v2");
        model.set_alias("champion", 2, 11).expect("alias");
        model.set_version_tag(1, "note", "baseline", 12).expect("tag");
        let json = serde_json::to_string(&model).expect("to json");
        assert!(json.contains("\"current_stage\":\"Production\""));
        assert_eq!(serde_json::from_str::<RegisteredModel>(&json).expect("from json"), model);
    }

    #[test]
    fn a_record_without_the_version_counter_still_never_reuses_numbers() {
        let mut model = model_with(2);
        let mut json = serde_json::to_value(&model).expect("to json");
        if let Some(record) = json.as_object_mut() {
            record.remove("last_version_number");
        }
        let mut old: RegisteredModel = serde_json::from_value(json).expect("from json");
        assert_eq!(old.create_version("runs:/r1/model", "", "", 5).expect("v3").version, 3);
        model.delete_version(2, 5).expect("delete");
        assert_eq!(model.create_version("runs:/r1/model", "", "", 6).expect("v3").version, 3);
    }
}
