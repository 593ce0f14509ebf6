//! Streaming: the course's Kinesis shapes and the consumer.
//!
//! The course's Lambda reads `{"Records": [{"kinesis": {"data": <base64>, ...}}]}`, decodes
//! each record into `{"ride": {...}, "ride_id": ...}`, predicts, and puts a
//! [`PredictionEvent`] on the output stream. Its Python version stops the whole batch at
//! the first bad record (a `KeyError` fails the invocation and Kinesis retries it forever).
//! Here a bad record becomes a [`DeadLetter`] with the reason, and the rest of the batch
//! is still predicted: that is the habit the stream page teaches.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::request::{ride_from_value, Ride};
use super::service::LoadedModel;

pub const MODEL_NAME: &str = "ride_duration_prediction_model";

/// Kinesis refuses records whose data is larger than 1 MiB; the consumer refuses them too
/// (measured on the base64 text), so a hostile record costs no more than its length check.
pub const MAX_RECORD_DATA_BYTES: usize = 1024 * 1024 * 4 / 3 + 4;

/// Most arrivals [`simulate_arrivals`] returns, so a slider pushed to the end cannot
/// allocate the browser out of memory.
pub const MAX_SIMULATED_ARRIVALS: usize = 1_000_000;

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

/// The text of a ride id as a partition key: a string as it is (no quotes), anything
/// else as its JSON text, as `str(ride_id)` gives in the course's producer for numbers.
fn partition_key_of(ride_id: &Value) -> String {
    match ride_id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Encodes a ride as the producer (`put_record`) would.
pub fn encode_ride_event(ride: &Ride, ride_id: serde_json::Value, sequence_number: u64) -> KinesisRecord {
    let partition_key = partition_key_of(&ride_id);
    let event = json!({
        "ride": {
            "PULocationID": ride.pu_location_id,
            "DOLocationID": ride.do_location_id,
            "trip_distance": ride.trip_distance,
        },
        "ride_id": ride_id,
    });
    KinesisRecord {
        partition_key,
        sequence_number: sequence_number.to_string(),
        data: STANDARD.encode(event.to_string()),
    }
}

/// Predicts one record, or says why it is a dead letter.
pub fn process_record(model: &LoadedModel, record: &KinesisRecord) -> Result<PredictionEvent, DeadLetter> {
    let dead = |reason: String| DeadLetter {
        sequence_number: record.sequence_number.clone(),
        data: record.data.clone(),
        reason,
    };
    let event = decode_event(&record.data).map_err(dead)?;
    let ride = match event.get("ride") {
        Some(ride) => ride_from_value(ride).map_err(|err| dead(format!("invalid ride: {err}")))?,
        None => return Err(dead("the event has no `ride`".to_string())),
    };
    let ride_id = match event.get("ride_id") {
        None => return Err(dead("the event has no `ride_id`".to_string())),
        Some(Value::Null) => return Err(dead("the event's `ride_id` is null".to_string())),
        Some(Value::Array(_) | Value::Object(_)) => {
            return Err(dead(
                "the event's `ride_id` must be a string or a number, not a list or object".into(),
            ))
        }
        Some(scalar) => scalar.clone(),
    };
    let prediction = model.try_predict(&ride).map_err(|err| dead(err.to_string()))?;
    Ok(PredictionEvent {
        model: MODEL_NAME.to_string(),
        version: model.version.clone(),
        prediction: RidePrediction { ride_duration: prediction.duration, ride_id },
    })
}

/// base64 → UTF-8 → a JSON object, each step with its own reason.
fn decode_event(data: &str) -> Result<serde_json::Map<String, Value>, String> {
    if data.len() > MAX_RECORD_DATA_BYTES {
        return Err(format!("the record's data is {} bytes; Kinesis' limit is 1 MiB", data.len()));
    }
    let bytes = STANDARD.decode(data).map_err(|e| format!("the data is not valid base64: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "the decoded data is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("the decoded data is not JSON: {e}"))?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(format!(
            "the event must be a JSON object with `ride` and `ride_id`, not {}",
            super::request::kind_of(&other)
        )),
    }
}

/// The course's Lambda event, `{"Records": [{"kinesis": {...}}]}`, for a batch of records
/// (what the stream page hands to [`lambda_handler`], and what a learner can paste into
/// the AWS console's test event).
pub fn lambda_event(records: &[KinesisRecord]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key,
                    "sequenceNumber": record.sequence_number,
                    "data": record.data,
                    "approximateArrivalTimestamp": 0,
                },
                "eventSource": "aws:kinesis",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Text of a field that should be a string; a number is accepted as its digits (a
/// hand-written test event often has `"sequenceNumber": 1`).
fn text_field(object: &Value, name: &str) -> Option<String> {
    match object.get(name)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The course's `lambda_handler`: every record of a Kinesis event predicted, or kept as a
/// dead letter. A bad record never stops the others.
///
/// A record without `kinesis.data` is a dead letter whose sequence number is the one it
/// carries, or `#<index>` (its position in `Records`) when it carries none. An event
/// without a `Records` list gives no predictions and one dead letter explaining why.
pub fn lambda_handler(model: &LoadedModel, event: &Value) -> (Vec<PredictionEvent>, Vec<DeadLetter>) {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        let shown: String = event.to_string().chars().take(200).collect();
        let reason = "the event has no `Records` list; a Kinesis event looks like \
                      {\"Records\": [{\"kinesis\": {\"data\": \"<base64>\", \"sequenceNumber\": \"1\"}}]}";
        return (
            Vec::new(),
            vec![DeadLetter { sequence_number: String::new(), data: shown, reason: reason.to_string() }],
        );
    };
    let mut predictions = Vec::with_capacity(records.len());
    let mut dead_letters = Vec::new();
    for (index, entry) in records.iter().enumerate() {
        let kinesis = entry.get("kinesis").unwrap_or(&Value::Null);
        let sequence_number = text_field(kinesis, "sequenceNumber").unwrap_or_else(|| format!("#{index}"));
        let Some(data) = kinesis.get("data").and_then(Value::as_str) else {
            dead_letters.push(DeadLetter {
                sequence_number,
                data: String::new(),
                reason: format!("record {index} has no `kinesis.data` string"),
            });
            continue;
        };
        let record = KinesisRecord {
            partition_key: text_field(kinesis, "partitionKey").unwrap_or_default(),
            sequence_number,
            data: data.to_string(),
        };
        match process_record(model, &record) {
            Ok(prediction) => predictions.push(prediction),
            Err(dead_letter) => dead_letters.push(dead_letter),
        }
    }
    (predictions, dead_letters)
}

/// Arrival times (seconds, increasing, all below `seconds`) of a Poisson process with
/// `rate_per_second`, seeded so the stream page replays the same traffic.
///
/// Gaps are exponential, `-ln(1 − u) / rate`. A rate or duration that is not a positive
/// finite number gives no arrivals; at most [`MAX_SIMULATED_ARRIVALS`] are returned.
pub fn simulate_arrivals(rate_per_second: f64, seconds: f64, seed: u64) -> Vec<f64> {
    if !(rate_per_second.is_finite() && rate_per_second > 0.0 && seconds.is_finite() && seconds > 0.0) {
        return Vec::new();
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let expected = (rate_per_second * seconds).min(MAX_SIMULATED_ARRIVALS as f64);
    let mut arrivals = Vec::with_capacity(expected as usize + 16);
    let mut now = 0.0;
    while arrivals.len() < MAX_SIMULATED_ARRIVALS {
        // u in [0, 1), so 1 − u is in (0, 1] and the logarithm is finite.
        let u: f64 = rng.gen();
        now += -(1.0 - u).ln() / rate_per_second;
        if now >= seconds {
            break;
        }
        arrivals.push(now);
    }
    arrivals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> LoadedModel {
        crate::serving::service::tiny_model()
    }

    fn ride(pu: i64, dol: i64, miles: f64) -> Ride {
        Ride { pu_location_id: pu, do_location_id: dol, trip_distance: miles }
    }

    fn raw_record(data: &str) -> KinesisRecord {
        KinesisRecord {
            partition_key: "1".into(),
            sequence_number: "49590338271490256608559692538361571095921575989136588898".into(),
            data: data.into(),
        }
    }

    fn encoded(text: &str) -> KinesisRecord {
        raw_record(&STANDARD.encode(text))
    }

    fn reason_of(record: &KinesisRecord) -> String {
        let dead = process_record(&model(), record).expect_err("a dead letter");
        assert_eq!(dead.sequence_number, record.sequence_number);
        assert_eq!(dead.data, record.data, "the data is kept for a replay");
        dead.reason
    }

    #[test]
    fn the_producers_record_is_base64_of_the_courses_event() {
        let record = encode_ride_event(&ride(130, 205, 3.66), json!(256), 7);
        assert_eq!(record.partition_key, "256");
        assert_eq!(record.sequence_number, "7");
        let decoded = STANDARD.decode(&record.data).expect("base64");
        let event: Value = serde_json::from_slice(&decoded).expect("json");
        assert_eq!(
            event,
            json!({"ride": {"PULocationID": 130, "DOLocationID": 205, "trip_distance": 3.66}, "ride_id": 256})
        );
        assert_eq!(record.data.len() % 4, 0, "standard base64 is padded");
        let named = encode_ride_event(&ride(1, 2, 3.0), json!("ride-abc"), 8);
        assert_eq!(named.partition_key, "ride-abc", "a string id is its own text, unquoted");
    }

    #[test]
    fn encode_then_process_predicts_what_the_service_predicts() {
        let model = model();
        for (ride, ride_id) in
            [(ride(10, 50, 4.0), json!(1)), (ride(1, 2, 0.5), json!("abc")), (ride(7, 7, 2.0), json!(2.5))]
        {
            let record = encode_ride_event(&ride, ride_id.clone(), 1);
            let event = process_record(&model, &record).expect("processed");
            assert_eq!(
                event,
                PredictionEvent {
                    model: MODEL_NAME.into(),
                    version: "nyc-taxi-regressor/3".into(),
                    prediction: RidePrediction { ride_duration: model.predict(&ride).duration, ride_id },
                }
            );
        }
        let event = process_record(&model, &encode_ride_event(&ride(10, 50, 4.0), json!(1), 1)).expect("ok");
        assert_eq!(event.prediction.ride_duration, 16.0);
        assert_eq!(
            serde_json::to_value(&event).expect("serialize"),
            json!({"model": MODEL_NAME, "version": "nyc-taxi-regressor/3",
                   "prediction": {"ride_duration": 16.0, "ride_id": 1}})
        );
    }

    #[test]
    fn bad_base64_is_a_dead_letter() {
        assert!(reason_of(&raw_record("not base64!")).starts_with("the data is not valid base64"));
        assert!(reason_of(&raw_record("eyJ")).starts_with("the data is not valid base64"), "unpadded");
    }

    #[test]
    fn data_that_is_not_utf8_or_not_json_is_a_dead_letter() {
        let latin1 = raw_record(&STANDARD.encode([b'{', 0xff, b'}']));
        assert_eq!(reason_of(&latin1), "the decoded data is not UTF-8 text (invalid byte at offset 1)");
        assert!(reason_of(&encoded("{\"ride\": ")).starts_with("the decoded data is not JSON"));
        assert!(reason_of(&encoded("")).starts_with("the decoded data is not JSON"));
        assert_eq!(
            reason_of(&encoded("[1]")),
            "the event must be a JSON object with `ride` and `ride_id`, not an array"
        );
        assert!(reason_of(&encoded("17")).ends_with("not a number"));
    }

    #[test]
    fn a_missing_ride_is_a_dead_letter() {
        assert_eq!(reason_of(&encoded(r#"{"ride_id": 1}"#)), "the event has no `ride`");
    }

    #[test]
    fn an_invalid_ride_is_a_dead_letter_with_the_request_error() {
        let reason = reason_of(&encoded(r#"{"ride": {"PULocationID": 1, "DOLocationID": 2}, "ride_id": 1}"#));
        assert_eq!(reason, "invalid ride: the field `trip_distance` is missing");
        let reason = reason_of(&encoded(
            r#"{"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": -3}, "ride_id": 1}"#,
        ));
        assert_eq!(reason, "invalid ride: trip_distance is -3; a distance cannot be negative");
        let reason = reason_of(&encoded(r#"{"ride": [1, 2, 3], "ride_id": 1}"#));
        assert_eq!(reason, "invalid ride: the request body must be a JSON object, not an array");
    }

    #[test]
    fn a_missing_or_unusable_ride_id_is_a_dead_letter() {
        let ride = r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 3}"#;
        assert_eq!(reason_of(&encoded(&format!(r#"{{"ride": {ride}}}"#))), "the event has no `ride_id`");
        assert_eq!(
            reason_of(&encoded(&format!(r#"{{"ride": {ride}, "ride_id": null}}"#))),
            "the event's `ride_id` is null"
        );
        assert!(reason_of(&encoded(&format!(r#"{{"ride": {ride}, "ride_id": [1]}}"#)))
            .contains("not a list or object"));
        let boolean = process_record(&model(), &encoded(&format!(r#"{{"ride": {ride}, "ride_id": true}}"#)));
        assert_eq!(boolean.expect("a scalar").prediction.ride_id, json!(true));
    }

    #[test]
    fn a_broken_model_makes_dead_letters_not_panics() {
        let mut broken = model();
        crate::serving::service::linear_mut(&mut broken).coefficients.clear();
        let record = encode_ride_event(&ride(10, 50, 4.0), json!(1), 1);
        let dead = process_record(&broken, &record).expect_err("dead letter");
        assert!(dead.reason.contains("could not be loaded"), "{}", dead.reason);
    }

    #[test]
    fn tree_models_are_served_on_the_stream_too() {
        for (model, expected) in
            [(crate::serving::service::tiny_gbdt(), 17.0), (crate::serving::service::tiny_forest(), 10.0)]
        {
            let record = encode_ride_event(&ride(10, 50, 4.0), json!("r-1"), 1);
            let event = process_record(&model, &record).expect("predicted");
            assert_eq!(event.prediction.ride_duration, expected);
            assert_eq!(event.version, model.version);
        }
    }

    #[test]
    fn an_oversized_record_is_refused_before_decoding() {
        let huge = raw_record(&"A".repeat(MAX_RECORD_DATA_BYTES + 4));
        assert!(reason_of(&huge).contains("limit is 1 MiB"));
    }

    #[test]
    fn random_data_never_panics() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        for _ in 0..50 {
            let len = rng.gen_range(0..120);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            assert!(process_record(&model(), &raw_record(&STANDARD.encode(&bytes))).is_err());
            let text: String = (0..len).map(|_| char::from(rng.gen_range(32u8..127))).collect();
            assert!(process_record(&model(), &raw_record(&text)).is_err());
        }
    }

    #[test]
    fn the_lambda_handler_predicts_the_good_records_of_a_mixed_batch() {
        let model = model();
        let good: Vec<KinesisRecord> =
            (0..5).map(|i| encode_ride_event(&ride(10, 50, i as f64), json!(i), 100 + i)).collect();
        let mut records = vec![raw_record("%%%"), good[0].clone(), good[1].clone(), encoded("{}")];
        records.extend(good[2..].iter().cloned());
        records.push(encoded(
            r#"{"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 900}, "ride_id": 9}"#,
        ));
        let mut event = lambda_event(&records);
        // Records the course's handler would crash on: no `kinesis`, data that is a number.
        let list = event["Records"].as_array_mut().expect("records");
        list.insert(2, json!({"eventSource": "aws:kinesis"}));
        list.push(json!({"kinesis": {"data": 42, "sequenceNumber": 77}}));
        list.push(json!("not a record"));

        let (predictions, dead_letters) = lambda_handler(&model, &event);
        let durations: Vec<f64> = predictions.iter().map(|p| p.prediction.ride_duration).collect();
        assert_eq!(durations, vec![8.0, 10.0, 12.0, 14.0, 16.0], "3 + 5 + 2·distance, in order");
        let ids: Vec<Value> = predictions.iter().map(|p| p.prediction.ride_id.clone()).collect();
        assert_eq!(ids, (0..5).map(|i| json!(i)).collect::<Vec<_>>());
        let sequence_numbers: Vec<&str> = dead_letters.iter().map(|d| d.sequence_number.as_str()).collect();
        let first = records[0].sequence_number.as_str();
        assert_eq!(sequence_numbers, vec![first, "#2", first, first, "77", "#10"]);
        assert!(dead_letters[1].reason.contains("record 2 has no `kinesis.data`"));
        assert!(dead_letters[3].reason.contains("refused"));
    }

    #[test]
    fn an_event_without_records_is_one_explained_dead_letter() {
        for event in
            [json!({}), json!({"Records": "nope"}), json!(null), json!([1, 2]), json!({"records": []})]
        {
            let (predictions, dead_letters) = lambda_handler(&model(), &event);
            assert!(predictions.is_empty());
            assert_eq!(dead_letters.len(), 1, "{event}");
            assert!(dead_letters[0].reason.contains("no `Records` list"));
        }
        let (predictions, dead_letters) = lambda_handler(&model(), &json!({"Records": []}));
        assert!(predictions.is_empty() && dead_letters.is_empty(), "an empty batch is fine");
    }

    #[test]
    fn lambda_event_has_the_courses_shape() {
        let record = encode_ride_event(&ride(10, 50, 4.0), json!(1), 3);
        let event = lambda_event(std::slice::from_ref(&record));
        assert_eq!(event["Records"][0]["kinesis"]["data"], json!(record.data));
        assert_eq!(event["Records"][0]["kinesis"]["partitionKey"], json!("1"));
        assert_eq!(event["Records"][0]["kinesis"]["sequenceNumber"], json!("3"));
    }

    #[test]
    fn arrivals_follow_the_rate_and_replay_from_the_seed() {
        let (rate, seconds) = (50.0, 200.0);
        let arrivals = simulate_arrivals(rate, seconds, 42);
        // Expected 10,000 arrivals with a standard deviation of 100: 5 % is 5 sigma.
        let observed_rate = arrivals.len() as f64 / seconds;
        assert!((observed_rate - rate).abs() < rate * 0.05, "{observed_rate}");
        assert!(arrivals.windows(2).all(|w| w[0] <= w[1]), "increasing");
        assert!(arrivals.iter().all(|t| (0.0..seconds).contains(t)));
        // Mean gap ≈ 1 / rate.
        let mean_gap = arrivals.windows(2).map(|w| w[1] - w[0]).sum::<f64>() / (arrivals.len() - 1) as f64;
        assert!((mean_gap - 1.0 / rate).abs() < 0.05 / rate, "{mean_gap}");
        assert_eq!(arrivals, simulate_arrivals(rate, seconds, 42));
        assert_ne!(arrivals, simulate_arrivals(rate, seconds, 43));
    }

    #[test]
    fn arrivals_with_a_nonsense_rate_are_none_and_a_huge_one_is_capped() {
        for (rate, seconds) in [
            (0.0, 10.0),
            (-1.0, 10.0),
            (f64::NAN, 10.0),
            (f64::INFINITY, 1.0),
            (1.0, 0.0),
            (1.0, f64::INFINITY),
        ] {
            assert!(simulate_arrivals(rate, seconds, 1).is_empty(), "{rate} {seconds}");
        }
        assert_eq!(simulate_arrivals(1e9, 1e3, 1).len(), MAX_SIMULATED_ARRIVALS);
    }
}
