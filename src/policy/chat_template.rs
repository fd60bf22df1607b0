//! HF chat templates rendered with `minijinja` the way transformers renders them with Jinja2:
//! `trim_blocks` and `lstrip_blocks` on, the trailing newline of the template dropped,
//! `loopcontrols` (`break`/`continue`), python string/dict methods (`.strip()`, `.items()`, ...
//! via `minijinja-contrib` pycompat), and the globals `raise_exception(msg)` and
//! `strftime_now(fmt)`, and a `tojson` filter that writes what Python's
//! `json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys)` writes.
//! Variables: `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `pad_token`,
//! `unk_token` (+ anything passed to [`ChatTemplate::render_with`], e.g. `tools`).
//!
//! Sources, in HF's order of precedence: `chat_template.jinja` in the model directory, then
//! `chat_template` in `tokenizer_config.json` (a string, or a list of `{name, template}` of which
//! `default` is used), or the GGUF metadata key `tokenizer.chat_template`.
use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;
use thiserror::Error as ThisError;

use super::tokenizer::SpecialTokens;

/// Errors of loading or rendering a chat template.
#[derive(Debug, ThisError)]
pub enum ChatTemplateError {
    /// A template file could not be read or parsed.
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The template source does not compile.
    #[error("chat template from {origin}: syntax error: {msg}")]
    Syntax {
        /// Where the template came from.
        origin: String,
        /// The minijinja error (with line).
        msg: String,
    },
    /// Rendering failed (including `raise_exception` called by the template).
    #[error("chat template from {origin}: {msg}")]
    Render {
        /// Where the template came from.
        origin: String,
        /// The minijinja error (with line).
        msg: String,
    },
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role.
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    origin: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("origin", &self.origin)
            .finish()
    }
}

fn full_error(e: &Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// Removes `{% generation %}` / `{% endgeneration %}` tags (transformers' assistant-mask
/// extension, which has no effect on the rendered text).
fn strip_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let Some(len) = rest[start..].find("%}") else {
            break;
        };
        let tag = &rest[start..start + len + 2];
        let inner =
            tag[2..tag.len() - 2].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        out.push_str(&rest[..start]);
        if inner != "generation" && inner != "endgeneration" {
            out.push_str(tag);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn raise_exception(msg: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, msg))
}

/// Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `strftime` of a UTC time for the specifiers chat templates use
/// (`%Y %m %d %H %M %S %b %B %a %A %y %j %p %I %%`).
pub fn strftime_utc(fmt: &str, unix_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{hh:02}")),
            Some('I') => out.push_str(&format!("{:02}", (hh + 11) % 12 + 1)),
            Some('p') => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            Some('M') => out.push_str(&format!("{mm:02}")),
            Some('S') => out.push_str(&format!("{ss:02}")),
            Some('b') => out.push_str(&month[..3]),
            Some('B') => out.push_str(month),
            Some('a') => out.push_str(&weekday[..3]),
            Some('A') => out.push_str(weekday),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn strftime_now(fmt: String) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    strftime_utc(&fmt, now)
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_py_json(
    out: &mut String,
    v: &Value,
    indent: Option<usize>,
    depth: usize,
    sort_keys: bool,
) -> Result<(), Error> {
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if let Some(i) = v.as_i64() {
                if v.to_string().contains('.') {
                    out.push_str(&format!("{:?}", i as f64));
                } else {
                    out.push_str(&i.to_string());
                }
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                if f.is_nan() {
                    out.push_str("NaN");
                } else if f.is_infinite() {
                    out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
                } else {
                    out.push_str(&format!("{f:?}"));
                }
            }
        }
        ValueKind::String => write_json_string(out, v.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                write_py_json(out, item, indent, depth + 1, sort_keys)?;
            }
            newline(out, depth);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter()?.collect();
            if sort_keys {
                keys.sort();
            }
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                match k.as_str() {
                    Some(s) => write_json_string(out, s),
                    None => write_json_string(out, &k.to_string()),
                }
                out.push_str(": ");
                write_py_json(out, &v.get_item(k)?, indent, depth + 1, sort_keys)?;
            }
            newline(out, depth);
            out.push('}');
        }
        _ => write_json_string(out, &v.to_string()),
    }
    Ok(())
}

/// `tojson` as transformers defines it: `json.dumps(x, ensure_ascii=False, indent=indent,
/// sort_keys=sort_keys)` (separators `", "`/`": "`, or `","`/`": "` with an indent).
fn py_tojson(v: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let _: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    write_py_json(&mut out, v, indent, 0, sort_keys.unwrap_or(false))?;
    Ok(Value::from_safe_string(out))
}

impl ChatTemplate {
    /// Compiles a template source; `origin` names where it came from, for messages.
    pub fn new(source: &str, origin: &str) -> Result<Self, ChatTemplateError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", py_tojson);
        env.add_template_owned("chat", strip_generation_tags(source))
            .map_err(|e| ChatTemplateError::Syntax {
                origin: origin.to_owned(),
                msg: full_error(&e),
            })?;
        Ok(Self {
            env,
            source: source.to_owned(),
            origin: origin.to_owned(),
        })
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the template came from (file or GGUF key).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Loads the template of an HF model directory: `chat_template.jinja`, else
    /// `tokenizer_config.json`'s `chat_template`. `Ok(None)` when the model has none.
    pub fn from_hf_dir(dir: &Path) -> Result<Option<Self>, ChatTemplateError> {
        let jinja = dir.join("chat_template.jinja");
        if jinja.exists() {
            return Self::from_file(&jinja).map(Some);
        }
        let cfg = dir.join("tokenizer_config.json");
        if cfg.exists() {
            return Self::from_tokenizer_config(&cfg);
        }
        Ok(None)
    }

    /// Loads a template file (`chat_template.jinja`).
    pub fn from_file(path: &Path) -> Result<Self, ChatTemplateError> {
        let src = std::fs::read_to_string(path).map_err(|e| ChatTemplateError::File {
            path: path.to_owned(),
            msg: format!("cannot read: {e}"),
        })?;
        Self::new(&src, &path.display().to_string())
    }

    /// Reads `chat_template` from a `tokenizer_config.json`. `Ok(None)` when absent.
    pub fn from_tokenizer_config(path: &Path) -> Result<Option<Self>, ChatTemplateError> {
        let file_err = |msg: String| ChatTemplateError::File {
            path: path.to_owned(),
            msg,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| file_err(format!("cannot read: {e}")))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| file_err(format!("invalid JSON: {e}")))?;
        let origin = format!("{} (chat_template)", path.display());
        match json.get("chat_template") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Self::new(s, &origin).map(Some),
            Some(serde_json::Value::Array(list)) => {
                let named = |name: &str| {
                    list.iter()
                        .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
                };
                let entry = named("default").or_else(|| list.first());
                match entry
                    .and_then(|t| t.get("template"))
                    .and_then(|t| t.as_str())
                {
                    Some(s) => Self::new(s, &origin).map(Some),
                    None => Err(file_err(
                        "chat_template is a list without a {name, template} entry".into(),
                    )),
                }
            }
            Some(other) => Err(file_err(format!(
                "chat_template must be a string or a list, found {other}"
            ))),
        }
    }

    /// The template stored in GGUF metadata (`tokenizer.chat_template`), if any.
    pub fn from_gguf(
        content: &candle_core::quantized::gguf_file::Content,
    ) -> Result<Option<Self>, ChatTemplateError> {
        match super::gguf_tokenizer::gguf_string(content, "tokenizer.chat_template") {
            Some(src) => Self::new(src, "GGUF metadata tokenizer.chat_template").map(Some),
            None => Ok(None),
        }
    }

    /// Renders `messages` with the special tokens as template variables.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        special: &SpecialTokens,
    ) -> Result<String, ChatTemplateError> {
        let messages = serde_json::to_value(messages).map_err(|e| ChatTemplateError::Render {
            origin: self.origin.clone(),
            msg: e.to_string(),
        })?;
        self.render_with(
            serde_json::json!({ "messages": messages }),
            add_generation_prompt,
            special,
        )
    }

    /// Renders with arbitrary variables (`messages` with tool calls, `tools`, `documents`, ...):
    /// `vars` must be a JSON object; `add_generation_prompt` and the special tokens are added.
    pub fn render_with(
        &self,
        vars: serde_json::Value,
        add_generation_prompt: bool,
        special: &SpecialTokens,
    ) -> Result<String, ChatTemplateError> {
        let err = |msg: String| ChatTemplateError::Render {
            origin: self.origin.clone(),
            msg,
        };
        let serde_json::Value::Object(mut map) = vars else {
            return Err(err("template variables must be a JSON object".into()));
        };
        map.insert(
            "add_generation_prompt".into(),
            serde_json::Value::Bool(add_generation_prompt),
        );
        for (name, tok) in [
            ("bos_token", &special.bos),
            ("eos_token", &special.eos),
            ("pad_token", &special.pad),
            ("unk_token", &special.unk),
        ] {
            if let Some(t) = tok {
                map.entry(name.to_owned())
                    .or_insert_with(|| serde_json::Value::String(t.clone()));
            }
        }
        let tmpl = self
            .env
            .get_template("chat")
            .map_err(|e| err(full_error(&e)))?;
        tmpl.render(Value::from_serialize(&map))
            .map_err(|e| err(full_error(&e)))
    }
}
