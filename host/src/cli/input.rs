//! Models and inputs from files, with memory bounded by what the model takes: values are
//! checked and stored as int8 as they are parsed, and a list longer than the model's input is
//! refused at the first value too many — never collected first and checked after (a 64 MiB
//! batch of small integers parsed as `Vec<Vec<i64>>` grew to over a gigabyte).

use std::{fmt, marker::PhantomData, path::Path};

use anyhow::{Context, Result};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use zkedge_kernel::{
    infer::from_hwc,
    model::{Model, Order, MAX_FILE_BYTES},
};

use crate::files::read_bounded;

/// Reads a model: `.zkm` is binary, `.tflite` is imported (`zkedge import`, named after the
/// file), anything else JSON.
pub fn model(path: &Path) -> Result<Model> {
    if zkedge_import::is_importable(path) {
        return zkedge_import::read(path, &zkedge_import::Options::default())
            .with_context(|| format!("cannot import {}", path.display()));
    }
    let bytes = read_bounded(path, MAX_FILE_BYTES as u64)?;
    let model = if path.extension().is_some_and(|e| e == "zkm") {
        Model::from_bytes(&bytes)?
    } else {
        let text = std::str::from_utf8(&bytes).context("a JSON model must be UTF-8")?;
        Model::from_json(text)?
    };
    Ok(model)
}

/// Largest input or batch file read.
pub const MAX_INPUT_FILE: u64 = 64 << 20;

/// How real values become int8: the model's input scale and zero point, rounding half away
/// from zero, saturating.
#[derive(Clone, Copy)]
struct Quantise {
    scale: f64,
    zero_point: f64,
}

/// What one number of a list becomes.
trait Element: Copy {
    /// An integer written in the file.
    fn int(raw: i64, q: Quantise) -> Result<i8, String>;
    /// A number with a fraction or exponent written in the file.
    fn real(raw: f64, q: Quantise) -> Result<i8, String>;
}

/// `{"input": [int8…]}`: integers in [-128, 127].
#[derive(Clone, Copy)]
struct Ints;

impl Element for Ints {
    fn int(raw: i64, _: Quantise) -> Result<i8, String> {
        i8::try_from(raw).map_err(|_| format!("{raw} is outside int8 [-128, 127]"))
    }
    fn real(raw: f64, _: Quantise) -> Result<i8, String> {
        Err(format!("{raw} is not an integer"))
    }
}

/// `{"values": [real…]}`: finite reals, quantised.
#[derive(Clone, Copy)]
struct Reals;

impl Element for Reals {
    fn int(raw: i64, q: Quantise) -> Result<i8, String> {
        Self::real(raw as f64, q)
    }
    fn real(v: f64, q: Quantise) -> Result<i8, String> {
        if !v.is_finite() {
            return Err(format!("{v} is not a finite number"));
        }
        Ok(((v / q.scale).round() + q.zero_point).clamp(-128.0, 127.0) as i8)
    }
}

/// One item of a list, flat or nested (`[[[r, g, b], …], …]` for an image in HWC order): a
/// number, appended to `out`, or a list of items, in the order written. serde_json bounds the
/// nesting depth.
struct Item<'a, E> {
    out: &'a mut Vec<i8>,
    len: usize,
    q: Quantise,
    what: PhantomData<E>,
}

impl<E: Element> Item<'_, E> {
    fn push<Er: de::Error>(self, v: Result<i8, String>) -> Result<(), Er> {
        if self.out.len() == self.len {
            return Err(Er::custom(format!(
                "more than the {} values the model takes",
                self.len
            )));
        }
        let v = v.map_err(|e| Er::custom(format!("value {}: {e}", self.out.len())))?;
        self.out.push(v);
        Ok(())
    }
}

impl<'de, E: Element> DeserializeSeed<'de> for Item<'_, E> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, E: Element> Visitor<'de> for Item<'_, E> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a list of numbers")
    }

    fn visit_i64<Er: de::Error>(self, v: i64) -> Result<(), Er> {
        let q = self.q;
        self.push(E::int(v, q))
    }

    fn visit_u64<Er: de::Error>(self, v: u64) -> Result<(), Er> {
        let q = self.q;
        let v =
            i64::try_from(v).map_or_else(|_| Err(format!("{v} is too large")), |v| E::int(v, q));
        self.push(v)
    }

    fn visit_f64<Er: de::Error>(self, v: f64) -> Result<(), Er> {
        let q = self.q;
        self.push(E::real(v, q))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Item::<E> {
                out: &mut *self.out,
                len: self.len,
                q: self.q,
                what: PhantomData,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// A list of exactly `len` elements, read into int8 as it is parsed.
struct List<E> {
    len: usize,
    q: Quantise,
    what: PhantomData<E>,
}

impl<'de, E: Element> DeserializeSeed<'de> for List<E> {
    type Value = Vec<i8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<i8>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E: Element> Visitor<'de> for List<E> {
    type Value = Vec<i8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} input values", self.len)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<i8>, A::Error> {
        let mut out = Vec::with_capacity(self.len);
        Item::<E> {
            out: &mut out,
            len: self.len,
            q: self.q,
            what: PhantomData,
        }
        .visit_seq(seq)?;
        if out.len() != self.len {
            return Err(de::Error::custom(format!(
                "{} values; the model takes {}",
                out.len(),
                self.len
            )));
        }
        Ok(out)
    }
}

/// `{"input": […]}` or `{"values": […]}`, exactly one of them.
struct InputFile {
    len: usize,
    q: Quantise,
}

impl<'de> Visitor<'de> for InputFile {
    type Value = Vec<i8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{\"input\": [int8…]} or {\"values\": [real…]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<i8>, A::Error> {
        let mut got = None;
        while let Some(key) = map.next_key::<String>()? {
            let value = match key.as_str() {
                "input" => map.next_value_seed(List::<Ints> {
                    len: self.len,
                    q: self.q,
                    what: PhantomData,
                })?,
                "values" => map.next_value_seed(List::<Reals> {
                    len: self.len,
                    q: self.q,
                    what: PhantomData,
                })?,
                other => {
                    return Err(de::Error::unknown_field(other, &["input", "values"]));
                }
            };
            if got.replace(value).is_some() {
                return Err(de::Error::custom(
                    "give exactly one of \"input\" (int8) or \"values\" (real)",
                ));
            }
        }
        got.ok_or_else(|| {
            de::Error::custom("give exactly one of \"input\" (int8) or \"values\" (real)")
        })
    }
}

/// `{"inputs": [[int8…], …]}`, at most `max` of them.
struct BatchFile {
    len: usize,
    max: usize,
}

impl<'de> Visitor<'de> for BatchFile {
    type Value = Vec<Vec<i8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{\"inputs\": [[int8…], …]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Vec<i8>>, A::Error> {
        let mut got = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "inputs" {
                return Err(de::Error::unknown_field(&key, &["inputs"]));
            }
            if got.is_some() {
                return Err(de::Error::duplicate_field("inputs"));
            }
            got = Some(map.next_value_seed(Inputs {
                len: self.len,
                max: self.max,
            })?);
        }
        got.ok_or_else(|| de::Error::missing_field("inputs"))
    }
}

struct Inputs {
    len: usize,
    max: usize,
}

impl<'de> DeserializeSeed<'de> for Inputs {
    type Value = Vec<Vec<i8>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Inputs {
    type Value = Vec<Vec<i8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of inputs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let list = List::<Ints> {
                len: self.len,
                q: Quantise {
                    scale: 1.0,
                    zero_point: 0.0,
                },
                what: PhantomData,
            };
            let Some(input) = seq
                .next_element_seed(list)
                .map_err(|e| de::Error::custom(format!("input {}: {e}", out.len())))?
            else {
                return Ok(out);
            };
            if out.len() == self.max {
                return Err(de::Error::custom(format!("more than {} inputs", self.max)));
            }
            out.push(input);
        }
    }
}

/// Values given in the model's own order (`input.order`: channels-last for an imported TFLite
/// model) in zkedge's `[C][H][W]` order.
fn to_chw(model: &Model, values: Vec<i8>) -> Vec<i8> {
    match model.file().input.order {
        Order::Chw => values,
        Order::Hwc => {
            let shape = model.input_shape();
            let mut chw = vec![0i8; values.len()];
            for (i, v) in values.into_iter().enumerate() {
                chw[from_hwc(shape, i)] = v;
            }
            chw
        }
    }
}

/// One int8 input from `{"input": [...]}` (int8) or `{"values": [...]}` (real values, quantised
/// with the model's input scale and zero point, rounding half away from zero), flat or nested,
/// in the model's own order; returned in `[C][H][W]` order.
pub fn input(path: &Path, model: &Model) -> Result<Vec<i8>> {
    let bytes = read_bounded(path, MAX_INPUT_FILE)?;
    let spec = &model.file().input;
    let visitor = InputFile {
        len: model.input_len(),
        q: Quantise {
            scale: f64::from(spec.scale),
            zero_point: f64::from(spec.zero_point),
        },
    };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    de.deserialize_map(visitor)
        .and_then(|v| de.end().map(|()| v))
        .with_context(|| {
            format!(
                "{}: expected {{\"input\": [int8…]}} or {{\"values\": [real…]}} with the model's {} values",
                path.display(),
                model.input_len()
            )
        })
        .map(|v| to_chw(model, v))
}

/// Many int8 inputs from `{"inputs": [[...], ...]}`: at most as many as the file could hold
/// (each input takes at least two bytes a value), so the list never grows past what the bytes
/// allow.
pub fn batch(path: &Path, model: &Model) -> Result<Vec<Vec<i8>>> {
    let bytes = read_bounded(path, MAX_INPUT_FILE)?;
    let len = model.input_len();
    let visitor = BatchFile {
        len,
        max: bytes.len() / (2 * len).max(2) + 1,
    };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    de.deserialize_map(visitor)
        .and_then(|v| de.end().map(|()| v))
        .with_context(|| {
            format!(
                "{}: expected {{\"inputs\": [[int8…], …]}}, each of the model's {len} values",
                path.display()
            )
        })
        .map(|inputs| inputs.into_iter().map(|v| to_chw(model, v)).collect())
}
