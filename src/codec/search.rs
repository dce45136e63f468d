//! Finding the payloads in a document: every value a reader knows, at any depth, each named
//! by its JSON Pointer (RFC 6901); and picking one, by `--path`, by `--name`, or because it
//! is the only one.

use serde_json::Value;

use crate::codec::dialect::{self, kind_of, list, Encoding, Path, Plan, ReadOptions};
use crate::codec::dtype::ByteOrder;
use crate::codec::model::TensorHeader;
use crate::codec::safetensors::METADATA_KEY;
use crate::error::{Error, Result};

/// A payload found in a document.
struct Candidate {
    /// Where the reader's object or string is.
    path: Path,
    reader: &'static str,
    picks_by_name: bool,
    /// The names of the tensors it holds, for a reader that picks by name.
    members: Vec<String>,
    plan: Result<Plan>,
}

/// The plan of the payload `--path` or `--name` picks, or of the only one there is.
pub fn pick(root: &Value, options: &ReadOptions) -> Result<Plan> {
    if let Some(pointer) = &options.path {
        let path = parse_pointer(pointer)?;
        let value = lookup(root, &path)
            .ok_or_else(|| Error::Envelope(format!("nothing at {pointer:?}")))?;
        return plan_at(value, path, options);
    }
    let mut found = Vec::new();
    collect(root, &mut Path::new(), options, &mut found);
    if found.is_empty() {
        dialect::check_at_path(root, &Path::new(), options)?;
        return whole_numbers(root, Path::new(), options);
    }
    choose(found, options)
}

/// Every payload in the document, in order, with its name where it has one (its key, or its
/// own name in a KServe or TF Serving document, whose tensors are each a payload); or the one
/// `--path` or `--name` picks. An empty object (or one holding only `__metadata__`) is a
/// bundle of no items, as `encode` writes a safetensors file of no tensors.
pub fn every(root: &Value, options: &ReadOptions) -> Result<Vec<(Option<String>, Plan)>> {
    if options.path.is_some() || options.name.is_some() {
        let at = match &options.path {
            Some(pointer) => key_name(&parse_pointer(pointer)?),
            None => None,
        };
        let name = options.name.clone().or(at);
        return Ok(vec![(name, pick(root, options)?)]);
    }
    let mut found = Vec::new();
    collect(root, &mut Path::new(), options, &mut found);
    let empty_bundle = root
        .as_object()
        .is_some_and(|fields| fields.keys().all(|key| key == METADATA_KEY));
    if found.is_empty() && !empty_bundle {
        return Ok(vec![(None, pick(root, options)?)]);
    }
    let mut every = Vec::new();
    for candidate in found {
        if candidate.members.is_empty() {
            let plan = readable(&candidate.path, candidate.plan)?;
            every.push((key_name(&candidate.path), plan));
            continue;
        }
        let fields = lookup(root, &candidate.path).and_then(Value::as_object);
        for name in candidate.members {
            let options = ReadOptions {
                name: Some(name.clone()),
                ..options.clone()
            };
            let plan = fields
                .and_then(|fields| dialect::plan_object(fields, &options))
                .expect("the reader that listed the name plans it");
            let plan = readable(
                &candidate.path,
                plan.map(|plan| within(plan, &candidate.path)),
            )?;
            every.push((Some(name), plan));
        }
    }
    Ok(every)
}

/// A candidate's plan, or its error saying where the payload is.
fn readable(path: &Path, plan: Result<Plan>) -> Result<Plan> {
    plan.map_err(|error| error.within(format!("the payload at {}", pointer(path))))
}

/// The key a payload sits under, as its name: none for a list's item or the whole document.
fn key_name(path: &Path) -> Option<String> {
    path.last()
        .filter(|key| key.parse::<usize>().is_err())
        .cloned()
}

/// The plan for the value `--path` points at.
fn plan_at(value: &Value, path: Path, options: &ReadOptions) -> Result<Plan> {
    dialect::check_at_path(value, &path, options)?;
    match value {
        Value::String(text) => match (options.dtype, &options.shape) {
            (Some(dtype), Some(shape)) => Ok(Plan::Tensor {
                header: TensorHeader::new(dtype, shape.clone())?,
                path,
                encoding: Encoding::plain(ByteOrder::Little),
            }),
            _ => {
                let (_, plan) = dialect::plan_string(text.as_bytes()).ok_or_else(|| {
                    Error::Envelope(format!(
                        "the string at {} is no payload tensorjson knows; to read it as raw \
                         tensor data, give --dtype and --shape",
                        pointer(&path)
                    ))
                })?;
                plan.map(|plan| within(plan, &path))
            }
        },
        Value::Object(_) => {
            let mut found = Vec::new();
            collect(value, &mut path.clone(), options, &mut found);
            if found.is_empty() {
                let what = format!("{} holds no payload", pointer(&path));
                return Err(dialect::no_dialect(&what));
            }
            choose(found, options)
        }
        Value::Array(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
            whole_numbers(value, path, options)
        }
    }
}

/// A value that is numbers (a list, or one number: a 0-d array, as `numpy.array(5)` is; a
/// bare NaN reaches here as a string) read as a list; anything else is no payload.
fn whole_numbers(value: &Value, path: Path, options: &ReadOptions) -> Result<Plan> {
    let numbers = !matches!(value, Value::Null | Value::Object(_)) && list::is_numbers(value);
    if !numbers {
        let found = match value {
            Value::Object(fields) => {
                let keys: Vec<&String> = fields.keys().collect();
                format!("an object with keys {keys:?}")
            }
            Value::String(text) => {
                let start: String = text.chars().take(16).collect();
                format!("a string starting {start:?}")
            }
            other => format!("a JSON {}", kind_of(other)),
        };
        return Err(dialect::no_dialect(&found));
    }
    let mut plan = list::plan(options);
    *plan.path_mut() = path;
    Ok(plan)
}

/// Every payload under `value`: an object a reader knows (not searched further: its parts
/// are its reader's), or a string that is a payload by itself.
fn collect(value: &Value, path: &mut Path, options: &ReadOptions, found: &mut Vec<Candidate>) {
    match value {
        Value::Object(fields) => {
            if let Some((reader, plan)) = dialect::read_object(fields, options) {
                found.push(Candidate {
                    path: path.clone(),
                    reader: reader.name,
                    picks_by_name: reader.names.is_some(),
                    members: reader.names.map(|names| names(fields)).unwrap_or_default(),
                    plan: plan.map(|plan| within(plan, path)),
                });
                return;
            }
            for (key, item) in fields {
                path.push(key.clone());
                collect(item, path, options, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                collect(item, path, options, found);
                path.pop();
            }
        }
        Value::String(text) => {
            if let Some((reader, plan)) = dialect::plan_string(text.as_bytes()) {
                found.push(Candidate {
                    path: path.clone(),
                    reader,
                    picks_by_name: false,
                    members: Vec::new(),
                    plan: plan.map(|plan| within(plan, path)),
                });
            }
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// A plan found at `path`, its own path made absolute.
fn within(mut plan: Plan, path: &Path) -> Plan {
    plan.path_mut().splice(0..0, path.iter().cloned());
    plan
}

/// The one candidate, or the one `--name` names: by its key, or, for a reader of several
/// named tensors, by that reader's own choice.
fn choose(found: Vec<Candidate>, options: &ReadOptions) -> Result<Plan> {
    // With --name, one payload is read if its reader picks by name itself (and says when
    // none has it), or else if it has that name.
    if found.len() == 1 && (options.name.is_none() || found[0].picks_by_name) {
        return found.into_iter().next().expect("one").plan;
    }
    let Some(name) = &options.name else {
        return Err(several(
            &found,
            "",
            "pick one with --path POINTER or --name NAME, or write every one with -o DIR/",
        ));
    };
    let named = |candidate: &Candidate| {
        candidate.path.last() == Some(name) || (candidate.picks_by_name && candidate.plan.is_ok())
    };
    let count = found.iter().filter(|candidate| named(candidate)).count();
    let hint = "pick one with --path POINTER";
    match count {
        1 => found.into_iter().find(named).expect("one").plan,
        0 => Err(several(&found, &format!("none is named {name:?}; "), hint)),
        _ => Err(several(
            &found,
            &format!("{count} are named {name:?}; "),
            hint,
        )),
    }
}

/// An error that lists the payloads found, one a line, after what went wrong.
fn several(found: &[Candidate], what: &str, hint: &str) -> Error {
    let lines: Vec<String> = found.iter().map(describe).collect();
    let count = match found.len() {
        1 => "1 payload".to_string(),
        count => format!("{count} payloads"),
    };
    Error::Envelope(format!(
        "the document holds {count}; {what}{hint}:\n{}",
        lines.join("\n")
    ))
}

/// One line of [`several`]: pointer, name, reader, and dtype and shape where known.
fn describe(candidate: &Candidate) -> String {
    let name = match candidate.path.last() {
        Some(key) if key.parse::<usize>().is_err() => format!(" (name {key:?})"),
        _ => String::new(),
    };
    let what = match &candidate.plan {
        Ok(Plan::Tensor { header, .. } | Plan::View { header, .. }) => {
            format!("{} {:?}", header.dtype, header.shape)
        }
        Ok(Plan::List { dtype, shape, .. }) => match (dtype, shape) {
            (Some(dtype), Some(shape)) => format!("{dtype} {shape:?}"),
            _ => "numbers".to_string(),
        },
        Ok(Plan::Npy { .. }) => "a .npy file".to_string(),
        Ok(Plan::Image { .. }) => "a PNG image".to_string(),
        Err(error) => format!("not readable: {error}"),
    };
    format!(
        "  {}{name}: {}, {what}",
        pointer(&candidate.path),
        candidate.reader
    )
}

/// The JSON Pointer of a path: `/outputs/0`, with `~` and `/` in keys escaped; `""` for the
/// whole document.
pub fn pointer(path: &Path) -> String {
    if path.is_empty() {
        return "\"\" (the whole document)".to_string();
    }
    path.iter()
        .map(|step| format!("/{}", step.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The path a JSON Pointer names.
fn parse_pointer(text: &str) -> Result<Path> {
    if text.is_empty() {
        return Ok(Path::new());
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Err(Error::Envelope(format!(
            "--path {text:?} is not a JSON Pointer: it starts with '/' (as in /outputs/0), or is \
             empty for the whole document"
        )));
    };
    Ok(rest
        .split('/')
        .map(|step| step.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn lookup<'v>(root: &'v Value, path: &Path) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, step| match value {
        Value::Object(fields) => fields.get(step),
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_and_read_back() {
        let path: Path = vec!["a/b".to_string(), "m~n".to_string(), "0".to_string()];
        assert_eq!(pointer(&path), "/a~1b/m~0n/0");
        assert_eq!(parse_pointer("/a~1b/m~0n/0").unwrap(), path);
        assert_eq!(parse_pointer("").unwrap(), Path::new());
        assert!(parse_pointer("outputs/0").is_err());
        // RFC 6901: "~01" is "~1", not "/".
        assert_eq!(parse_pointer("/~01").unwrap(), vec!["~1".to_string()]);
    }
}
