//! Chat templates rendered as HF (Jinja2 with trim_blocks / lstrip_blocks) renders them.
mod common;

use common::tiny_model as tiny;

use prover::policy::chat_template::{strftime_utc, ChatMessage, ChatTemplate};
use prover::policy::tokenizer::SpecialTokens;

fn smol_special() -> SpecialTokens {
    SpecialTokens {
        bos: Some("<|im_start|>".into()),
        eos: Some("<|im_end|>".into()),
        pad: Some("<|im_end|>".into()),
        unk: Some("<|endoftext|>".into()),
    }
}

const DEFAULT_SYSTEM: &str =
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n";

#[test]
fn smollm2_chatml_from_the_tiny_models() {
    for name in ["tiny-llama", "tiny-qwen2"] {
        let Some(dir) = tiny(name) else { return };
        let t = ChatTemplate::from_hf_dir(&dir)
            .unwrap()
            .expect("template present");
        assert!(t.origin().ends_with("chat_template.jinja"));
        let sp = smol_special();
        // With a system message: no default system, ChatML turns, generation prompt.
        let got = t
            .render(
                &[
                    ChatMessage::new("system", "Be brief."),
                    ChatMessage::new("user", "What is 2+2?"),
                ],
                true,
                &sp,
            )
            .unwrap();
        assert_eq!(
            got,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
        // Without one: the template injects SmolLM's default system message.
        let got = t
            .render(&[ChatMessage::new("user", "Hi")], true, &sp)
            .unwrap();
        assert_eq!(
            got,
            format!("{DEFAULT_SYSTEM}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        );
        // No generation prompt; a multi-turn conversation.
        let got = t
            .render(
                &[
                    ChatMessage::new("user", "Hi"),
                    ChatMessage::new("assistant", "Hello!"),
                    ChatMessage::new("user", "Bye\n"),
                ],
                false,
                &sp,
            )
            .unwrap();
        assert_eq!(
            got,
            format!(
                "{DEFAULT_SYSTEM}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye\n<|im_end|>\n"
            )
        );
    }
}

#[test]
fn template_from_tokenizer_config_string_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tokenizer_config.json");
    std::fs::write(
        &cfg,
        r#"{"bos_token": {"content": "<s>"}, "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"}"#,
    )
    .unwrap();
    let t = ChatTemplate::from_hf_dir(dir.path()).unwrap().unwrap();
    let sp = SpecialTokens {
        bos: Some("<s>".into()),
        ..Default::default()
    };
    assert_eq!(
        t.render(&[ChatMessage::new("user", "x")], false, &sp)
            .unwrap(),
        "<s>[user]x"
    );
    std::fs::write(
        &cfg,
        r#"{"chat_template": [{"name": "tool_use", "template": "TOOL"}, {"name": "default", "template": "DEFAULT {{ messages|length }}"}]}"#,
    )
    .unwrap();
    let t = ChatTemplate::from_hf_dir(dir.path()).unwrap().unwrap();
    assert_eq!(
        t.render(&[ChatMessage::new("user", "x")], false, &sp)
            .unwrap(),
        "DEFAULT 1"
    );
    std::fs::write(&cfg, r#"{"bos_token": "<s>"}"#).unwrap();
    assert!(ChatTemplate::from_hf_dir(dir.path()).unwrap().is_none());
    // chat_template.jinja takes precedence over tokenizer_config.json.
    std::fs::write(dir.path().join("chat_template.jinja"), "JINJA\n").unwrap();
    let t = ChatTemplate::from_hf_dir(dir.path()).unwrap().unwrap();
    assert_eq!(
        t.render(&[], false, &sp).unwrap(),
        "JINJA",
        "trailing newline dropped as Jinja2 does"
    );
}

#[test]
fn jinja2_whitespace_control_and_python_methods() {
    // trim_blocks drops the newline after a block tag; lstrip_blocks strips indentation before it.
    let src = "{% for m in messages %}\n    {% if m.role == 'user' %}\nU:{{ m.content.strip() }}|{{ m.role.upper() }}\n    {% endif %}\n{% endfor %}";
    let t = ChatTemplate::new(src, "test").unwrap();
    let out = t
        .render(
            &[
                ChatMessage::new("user", "  hi  "),
                ChatMessage::new("assistant", "no"),
            ],
            false,
            &SpecialTokens::default(),
        )
        .unwrap();
    assert_eq!(out, "U:hi|USER\n");
    // Python string methods used by real templates.
    let src = "{{ messages[0].content.split(',')|join('+') }} {{ messages[0].content.startswith('a') }} {{ messages[0].content.replace('a', 'A') }} {{ '  x '.lstrip() }}.";
    let t = ChatTemplate::new(src, "test").unwrap();
    let out = t
        .render(
            &[ChatMessage::new("user", "a,b,c")],
            false,
            &SpecialTokens::default(),
        )
        .unwrap();
    assert_eq!(
        out, "a+b+c True A,b,c x .",
        "Python booleans print as in Jinja2"
    );
    // loop controls
    let src = "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.content }}{% endfor %}";
    let t = ChatTemplate::new(src, "test").unwrap();
    let out = t
        .render(
            &[
                ChatMessage::new("user", "one"),
                ChatMessage::new("user", "two"),
            ],
            false,
            &SpecialTokens::default(),
        )
        .unwrap();
    assert_eq!(out, "one");
}

#[test]
fn raise_exception_and_syntax_errors_are_reported() {
    let src = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('Conversation must start with a system message') }}{% endif %}ok";
    let t = ChatTemplate::new(src, "my-template").unwrap();
    let e = t
        .render(
            &[ChatMessage::new("user", "x")],
            false,
            &SpecialTokens::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Conversation must start with a system message"),
        "{e}"
    );
    assert!(e.contains("my-template"), "{e}");
    assert_eq!(
        t.render(
            &[ChatMessage::new("system", "x")],
            false,
            &SpecialTokens::default()
        )
        .unwrap(),
        "ok"
    );
    let e = ChatTemplate::new("{% for m in messages %}", "broken.jinja")
        .unwrap_err()
        .to_string();
    assert!(e.contains("broken.jinja") && e.contains("syntax"), "{e}");
}

#[test]
fn tojson_writes_python_json_dumps() {
    let t = ChatTemplate::new(
        "{{ tools|tojson }}|{{ tools[0]|tojson(indent=2) }}|{{ 'é\"<'|tojson }}",
        "t",
    )
    .unwrap();
    let vars = serde_json::json!({
        "messages": [],
        "tools": [{"name": "add", "parameters": {"a": [1.5, true, null], "b": 1}}]
    });
    let out = t
        .render_with(vars, false, &SpecialTokens::default())
        .unwrap();
    // json.dumps(..., ensure_ascii=False): ", " / ": " separators, no HTML escaping. (Keys come
    // out in the order of the variables' map; serde_json::Value maps are sorted.)
    assert_eq!(
        out,
        "[{\"name\": \"add\", \"parameters\": {\"a\": [1.5, true, null], \"b\": 1}}]|{\n  \"name\": \"add\",\n  \"parameters\": {\n    \"a\": [\n      1.5,\n      true,\n      null\n    ],\n    \"b\": 1\n  }\n}|\"é\\\"<\""
    );
}

#[test]
fn generation_tags_and_strftime() {
    let t = ChatTemplate::new("{% generation %}A{%- endgeneration %}B", "t").unwrap();
    assert_eq!(
        t.render(&[], false, &SpecialTokens::default()).unwrap(),
        "AB"
    );
    // 2024-02-29 13:05:09 UTC (a Thursday, day 60 of a leap year)
    let ts = 1_709_211_909;
    assert_eq!(strftime_utc("%Y-%m-%d %H:%M:%S", ts), "2024-02-29 13:05:09");
    assert_eq!(
        strftime_utc("%d %b %Y, %A %B %j %I%p %%", ts),
        "29 Feb 2024, Thursday February 060 01PM %"
    );
    assert_eq!(strftime_utc("%Y-%m-%d", 0), "1970-01-01");
    let t = ChatTemplate::new("{{ strftime_now('%Y') }}", "t").unwrap();
    let year: i32 = t
        .render(&[], false, &SpecialTokens::default())
        .unwrap()
        .parse()
        .unwrap();
    assert!(year >= 2024);
}
