//! Streaming: the course's Kinesis shapes and the consumer.
//!
//! TO BE IMPLEMENTED (see the task text).

use serde::{Deserialize, Serialize};

use super::request::Ride;
use super::service::LoadedModel;

pub const MODEL_NAME: &str = "ride_duration_prediction_model";

/// One input record as Kinesis delivers it to a consumer: `data` is base64 of
/// `{"ride": {...}, "ride_id": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KinesisRecord {
    #[serde(rename = "partitionKey")]
    pub partition_key: String,
    #[serde(rename = "sequenceNumber")]
    pub sequence_number: String,
    pub data: String,
}

/// `{"model": ..., "version": ..., "prediction": {"ride_duration": ..., "ride_id": ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionEvent {
    pub model: String,
    pub version: String,
    pub prediction: RidePrediction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidePrediction {
    pub ride_duration: f64,
    /// Whatever the producer sent (a number or a string), echoed back.
    pub ride_id: serde_json::Value,
}

/// A record the consumer could not use, kept instead of stopping the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub sequence_number: String,
    pub data: String,
    pub reason: String,
}

/// Encodes a ride as the producer (`put_record`) would.
pub fn encode_ride_event(ride: &Ride, ride_id: serde_json::Value, sequence_number: u64) -> KinesisRecord {
    let _ = (ride, ride_id);
    KinesisRecord {
        partition_key: String::new(),
        sequence_number: sequence_number.to_string(),
        data: String::new(),
    }
}

/// Predicts one record, or says why it is a dead letter.
pub fn process_record(model: &LoadedModel, record: &KinesisRecord) -> Result<PredictionEvent, DeadLetter> {
    let _ = model;
    Err(DeadLetter {
        sequence_number: record.sequence_number.clone(),
        data: record.data.clone(),
        reason: String::new(),
    })
}
