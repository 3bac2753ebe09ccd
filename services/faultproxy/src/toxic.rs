//! What a toxic is: its kind and attributes, its stream and toxicity, how it reads from and
//! writes to Toxiproxy's JSON (`{"attributes", "name", "type", "stream", "toxicity"}`), and the
//! bounds every attribute must respect (Toxiproxy accepts negative values; we answer 400).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// The longest duration any toxic attribute may ask for: one hour. More is a typo, not a fault.
pub const MAX_DURATION_MS: i64 = 3_600_000;
/// The highest bandwidth limit: 10 GB/s, beyond anything loopback carries.
pub const MAX_RATE_KBPS: i64 = 10_000_000;
/// The largest `limit_data` budget: 1 TB.
pub const MAX_LIMIT_BYTES: i64 = 1_000_000_000_000;

/// Which way the affected bytes flow: client → upstream or upstream → client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Upstream,
    Downstream,
}

impl Stream {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "upstream" => Some(Self::Upstream),
            "downstream" => Some(Self::Downstream),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Downstream => "downstream",
        }
    }
}

/// A toxic's type with its attributes (milliseconds, KB/s with 1 KB = 1000 bytes, bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToxicKind {
    /// Each chunk is held `latency ± jitter` ms.
    Latency { latency: i64, jitter: i64 },
    /// Bytes pass at `rate` KB/s.
    Bandwidth { rate: i64 },
    /// Bytes are swallowed; the connection closes after `timeout` ms without data (0: never).
    Timeout { timeout: i64 },
    /// On the first data, wait `timeout` ms and reset both sockets (RST through SO_LINGER 0).
    ResetPeer { timeout: i64 },
    /// Hold the close `delay` ms after the source closed.
    SlowClose { delay: i64 },
    /// Close the connection once `bytes` bytes went through.
    LimitData { bytes: i64 },
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LatencyAttrs {
    latency: i64,
    jitter: i64,
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct RateAttrs {
    rate: i64,
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct TimeoutAttrs {
    timeout: i64,
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct DelayAttrs {
    delay: i64,
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct BytesAttrs {
    bytes: i64,
}

impl ToxicKind {
    /// Builds a kind from its Toxiproxy type name and `attributes` object; `None` for an
    /// unknown type. Missing attributes are 0, as in Toxiproxy.
    pub fn from_json(type_name: &str, attributes: &Value) -> Option<Result<Self, ApiError>> {
        fn attrs<T: for<'de> Deserialize<'de> + Default>(value: &Value) -> Result<T, ApiError> {
            if value.is_null() {
                return Ok(T::default());
            }
            T::deserialize(value).map_err(ApiError::bad_body)
        }
        let kind = match type_name {
            "latency" => attrs::<LatencyAttrs>(attributes).map(|a| Self::Latency {
                latency: a.latency,
                jitter: a.jitter,
            }),
            "bandwidth" => attrs::<RateAttrs>(attributes).map(|a| Self::Bandwidth { rate: a.rate }),
            "timeout" => {
                attrs::<TimeoutAttrs>(attributes).map(|a| Self::Timeout { timeout: a.timeout })
            }
            "reset_peer" => {
                attrs::<TimeoutAttrs>(attributes).map(|a| Self::ResetPeer { timeout: a.timeout })
            }
            "slow_close" => {
                attrs::<DelayAttrs>(attributes).map(|a| Self::SlowClose { delay: a.delay })
            }
            "limit_data" => {
                attrs::<BytesAttrs>(attributes).map(|a| Self::LimitData { bytes: a.bytes })
            }
            _ => return None,
        };
        Some(kind.and_then(|kind| kind.validated()))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Latency { .. } => "latency",
            Self::Bandwidth { .. } => "bandwidth",
            Self::Timeout { .. } => "timeout",
            Self::ResetPeer { .. } => "reset_peer",
            Self::SlowClose { .. } => "slow_close",
            Self::LimitData { .. } => "limit_data",
        }
    }

    pub fn attributes(&self) -> Value {
        match self {
            Self::Latency { latency, jitter } => json!({"latency": latency, "jitter": jitter}),
            Self::Bandwidth { rate } => json!({"rate": rate}),
            Self::Timeout { timeout } | Self::ResetPeer { timeout } => json!({"timeout": timeout}),
            Self::SlowClose { delay } => json!({"delay": delay}),
            Self::LimitData { bytes } => json!({"bytes": bytes}),
        }
    }

    /// Rejects negative and absurd attributes with a 400 naming the attribute.
    fn validated(self) -> Result<Self, ApiError> {
        let checks: &[(&str, i64, i64)] = match &self {
            Self::Latency { latency, jitter } => &[
                ("latency", *latency, MAX_DURATION_MS),
                ("jitter", *jitter, MAX_DURATION_MS),
            ],
            Self::Bandwidth { rate } => &[("rate", *rate, MAX_RATE_KBPS)],
            Self::Timeout { timeout } | Self::ResetPeer { timeout } => {
                &[("timeout", *timeout, MAX_DURATION_MS)]
            }
            Self::SlowClose { delay } => &[("delay", *delay, MAX_DURATION_MS)],
            Self::LimitData { bytes } => &[("bytes", *bytes, MAX_LIMIT_BYTES)],
        };
        for (name, value, max) in checks {
            if !(0..=*max).contains(value) {
                return Err(ApiError::bad_body(format!(
                    "attribute {name} of a {} toxic must be between 0 and {max}, got {value}",
                    self.type_name()
                )));
            }
        }
        Ok(self)
    }
}

/// A named toxic on one stream of a proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    pub name: String,
    pub kind: ToxicKind,
    pub stream: Stream,
    /// Share of connections affected, decided once per connection (0..=1).
    pub toxicity: f32,
}

impl Toxic {
    /// A toxic with toxicity 1 and the default name `<type>_<stream>`, as Toxiproxy names it.
    pub fn new(kind: ToxicKind, stream: Stream) -> Self {
        let name = format!("{}_{}", kind.type_name(), stream.as_str());
        Self {
            name,
            kind,
            stream,
            toxicity: 1.0,
        }
    }

    /// Parses a create request (Toxiproxy's defaults: downstream, toxicity 1, name
    /// `<type>_<stream>`), checking body, stream, then type, then attributes, as it does.
    pub fn from_create_body(body: &[u8]) -> Result<Self, ApiError> {
        let object = json_object(body)?;
        let name = optional_str(&object, "name")?.unwrap_or_default();
        let type_name = optional_str(&object, "type")?.unwrap_or_default();
        let stream_text = optional_str(&object, "stream")?.unwrap_or_else(|| "downstream".into());
        let toxicity = optional_toxicity(&object)?.unwrap_or(1.0);
        let stream = Stream::parse(&stream_text).ok_or_else(ApiError::invalid_stream)?;
        let attributes = object.get("attributes").cloned().unwrap_or(Value::Null);
        let kind = ToxicKind::from_json(&type_name, &attributes)
            .ok_or_else(ApiError::invalid_toxic_type)??;
        let name = if name.is_empty() {
            format!("{type_name}_{}", stream.as_str())
        } else {
            name
        };
        Ok(Self {
            name,
            kind,
            stream,
            toxicity,
        })
    }

    /// Applies an update request: attributes given override the current ones, toxicity too;
    /// name, type and stream stay (as in Toxiproxy).
    pub fn updated_from_body(&self, body: &[u8]) -> Result<Self, ApiError> {
        let object = json_object(body)?;
        let toxicity = optional_toxicity(&object)?.unwrap_or(self.toxicity);
        let mut attributes = match self.kind.attributes() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        match object.get("attributes") {
            Some(Value::Object(given)) => attributes.extend(given.clone()),
            None | Some(Value::Null) => {}
            Some(other) => return Err(ApiError::bad_body(format!("attributes: {other}"))),
        }
        let kind = ToxicKind::from_json(self.kind.type_name(), &Value::Object(attributes))
            .ok_or_else(ApiError::invalid_toxic_type)??;
        Ok(Self {
            kind,
            toxicity,
            ..self.clone()
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "attributes": self.kind.attributes(),
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.as_str(),
            "toxicity": self.toxicity,
        })
    }
}

/// The body as a JSON object, or Toxiproxy's 400 `bad request body: …`.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::bad_body(format!(
            "expected a JSON object, got {other}"
        ))),
        Err(error) => Err(ApiError::bad_body(error)),
    }
}

pub(crate) fn optional_str(
    object: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    optional(object, key, "a string", |value| {
        value.as_str().map(str::to_string)
    })
}

pub(crate) fn optional_bool(
    object: &Map<String, Value>,
    key: &str,
) -> Result<Option<bool>, ApiError> {
    optional(object, key, "a boolean", Value::as_bool)
}

/// `object[key]` as `pick` reads it: absent and `null` are `None`, any other kind of
/// value is a 400 that says it must be `kind`.
fn optional<T>(
    object: &Map<String, Value>,
    key: &str,
    kind: &str,
    pick: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => pick(value)
            .map(Some)
            .ok_or_else(|| ApiError::bad_body(format!("{key} must be {kind}, got {value}"))),
    }
}

fn optional_toxicity(object: &Map<String, Value>) -> Result<Option<f32>, ApiError> {
    match object.get("toxicity") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(share) if (0.0..=1.0).contains(&share) => Ok(Some(share as f32)),
            _ => Err(ApiError::bad_body(format!(
                "toxicity must be between 0 and 1, got {number}"
            ))),
        },
        Some(other) => Err(ApiError::bad_body(format!(
            "toxicity must be a number, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_defaults_as_toxiproxy() {
        let toxic = Toxic::from_create_body(br#"{"type":"latency","attributes":{"latency":5}}"#)
            .expect("valid");
        assert_eq!(toxic.name, "latency_downstream");
        assert_eq!(toxic.stream, Stream::Downstream);
        assert_eq!(toxic.toxicity, 1.0);
        assert_eq!(
            toxic.kind,
            ToxicKind::Latency {
                latency: 5,
                jitter: 0
            }
        );
    }

    #[test]
    fn bad_inputs_are_400() {
        for body in [
            &br#"{"type":"nope"}"#[..],
            br#"{"type":"latency","stream":"sideways"}"#,
            br#"{"type":"latency","attributes":{"latency":-1}}"#,
            br#"{"type":"latency","attributes":{"latency":99999999999}}"#,
            br#"{"type":"bandwidth","attributes":{"rate":"fast"}}"#,
            br#"{"type":"latency","toxicity":1.5}"#,
            b"not json",
            b"[]",
        ] {
            let error = Toxic::from_create_body(body).expect_err("must be rejected");
            assert_eq!(error.status, 400, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn update_merges_attributes() {
        let toxic = Toxic::from_create_body(
            br#"{"type":"latency","attributes":{"latency":5,"jitter":2},"toxicity":0.5}"#,
        )
        .expect("valid");
        let updated = toxic
            .updated_from_body(br#"{"attributes":{"latency":9}}"#)
            .expect("valid");
        assert_eq!(
            updated.kind,
            ToxicKind::Latency {
                latency: 9,
                jitter: 2
            }
        );
        assert_eq!(updated.toxicity, 0.5);
    }
}
