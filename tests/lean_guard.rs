//! The static half of the Lean soundness ladder, tried as an adversarial policy would: for each
//! class of hole (quoted names, elaboration-time code, re-indentation, lexer disagreements,
//! meaning-changing commands in file mode, plain mode) several variants are refused at the
//! guard, the reason naming the construct and its line and column in the user's own text, and
//! the near-identical honest text is still accepted. Then robustness (no panic on odd
//! references, byte-order marks, a size cap) and a fuzz test of the guard and assembler on
//! Lean-like text (no panic; work linear in the input, on a step counter, not a clock).
use proptest::prelude::*;
use prover::verify::lean::{
    assemble, guard_proof_body, guard_proof_body_with, guard_steps, plan_file, GuardConfig,
};

const HEADER: &str =
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n";
const STMT: &str = "theorem t (a : ℝ) : a * (2 - a) ≤ 1 := by sorry";

/// 1-based line and 0-based column (in characters) of the first `needle` in `text`.
fn pos(text: &str, needle: &str) -> (usize, usize) {
    let b = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {text:?}"));
    let before = &text[..b];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count();
    (line, col)
}

/// `proof` is refused by the body guard, the reason naming `construct` and where `at` starts.
fn refused(proof: &str, construct: &str, at: &str) {
    let e = guard_proof_body(proof).expect_err(proof);
    let (l, c) = pos(proof, at);
    assert!(
        e.contains(construct),
        "{proof:?}: reason {e:?} should name {construct:?}"
    );
    assert!(
        e.contains(&format!("line {l}, column {c}")),
        "{proof:?}: reason {e:?} should point at line {l}, column {c}"
    );
    assert!(assemble(HEADER, STMT, proof).is_err());
}

fn accepted(proof: &str) {
    guard_proof_body(proof).unwrap_or_else(|e| panic!("{proof:?} must pass: {e}"));
    assemble(HEADER, STMT, proof).unwrap();
}

#[test]
fn class1_quoted_names_are_resolved_before_the_option_allow_list() {
    refused(
        "set_option «debug».skipKernelTC true in\nhave h : False := by decide +kernel\nexact h.elim",
        "debug.skipKernelTC",
        "«debug»",
    );
    refused(
        "  nlinarith [sq_nonneg (a - 1)]\n  set_option debug.«skipKernelTC» true in\n  simp",
        "debug.skipKernelTC",
        "debug.«",
    );
    refused("set_option «pp».«all» true in\nsimp", "pp.all", "«pp»");
    refused(
        "set_option «debug.skipKernelTC» true in\nsimp",
        "debug.skipKernelTC",
        "«debug",
    );
    refused(
        "exact «Lean».«ofReduceBool» _ _ rfl",
        "ofReduceBool",
        "«Lean»",
    );
    refused("exact _root_.«Lean».Elab.x", "Lean", "_root_");
    // an allowed option is fine, quoted or not; its value must be a number
    accepted("set_option «maxRecDepth» 10000 in\nnlinarith [sq_nonneg (a - 1)]");
    accepted("set_option maxHeartbeats 400000 in\nnlinarith [sq_nonneg (a - 1)]");
    refused(
        "set_option maxHeartbeats true in\nsimp",
        "maxHeartbeats",
        "maxHeartbeats",
    );
}

#[test]
fn class2_elaboration_time_code_is_refused() {
    refused(
        "exact by_elab fun _ => do return Lean.mkConst ``True.intro",
        "by_elab",
        "by_elab",
    );
    refused(
        "run_tac do Lean.Elab.Tactic.closeMainGoal",
        "run_tac",
        "run_tac",
    );
    refused("  simp\n  #eval (1 : Nat)", "#eval", "#eval");
    // Lean reads the longest `#…` token: `#evalx` is `#eval x`
    refused("simp\n#evalx 1", "#evalx", "#evalx");
    refused("exact eval% (2 + 2 : ℕ)", "eval%", "eval%");
    refused("exact eval%(2 + 2 : ℕ)", "eval%", "eval%");
    refused("exact foo% x", "foo%", "foo%");
    accepted("have h : ∀ n : ℕ, n%2 = n%2 := fun n => rfl\nnlinarith [sq_nonneg (a - 1)]");
    refused("exact (IO.println \"x\" |> fun _ => trivial)", "IO", "IO.");
    refused("have := `(tactic| sorry)\nsimp", "`(", "`(");
    refused("have := `True.intro\nsimp", "`True.intro", "`True");
    refused(
        "nlinarith [sq_nonneg (a - 1)]\nrun_meta pure ()",
        "run_meta",
        "run_meta",
    );
    refused("exact Meta.foo", "Meta", "Meta");
    refused(
        "simp\nexact dbg_trace \"x\"; trivial",
        "dbg_trace",
        "dbg_trace",
    );
    refused(
        "simp [include_str \"/etc/passwd\"]",
        "include_str",
        "include_str",
    );
    // the same shapes, honest
    accepted("nlinarith [sq_nonneg (a - 1), sq_nonneg (a + 1)]");
    accepted("exact (by norm_num : (2:ℕ) + 2 = 4) ▸ le_refl _");
    accepted("have h : (Finset.range 3).card = 3 := by simp\nnlinarith [sq_nonneg (a - 1)]");
}

#[test]
fn class3_the_guard_sees_every_line_that_reaches_lean() {
    refused(
        "/-\n  exact (by sorry) -- -/ simp",
        "comment opened above the first tactic",
        "simp",
    );
    refused(
        "/- a\n/- b -/ -/   nlinarith [sq_nonneg (a - 1)]",
        "comment opened above the first tactic",
        "nlinarith",
    );
    refused(
        "-- fine\n  /- x\n  -/ norm_num",
        "comment opened above the first tactic",
        "norm_num",
    );
    // lines above the first tactic are sent, not dropped
    assert_eq!(
        guard_proof_body("-- hint /-\n  simp").unwrap(),
        "  -- hint /-\n    simp\n"
    );
    assert_eq!(
        guard_proof_body("/- a -/\n\n    simp\n    linarith").unwrap(),
        "  /- a -/\n\n      simp\n      linarith\n"
    );
    accepted("/- a comment -/\nnlinarith [sq_nonneg (a - 1)]");
    // positions are in the user's text, not the re-indented one
    refused("    simp\n    exact sorry", "sorry", "sorry");
}

#[test]
fn class4_lexer_disagreements_resolve_as_lean_reads() {
    // raw strings have no escapes: the quote after `\` ends it, the rest is code
    refused(
        "trivial <;> exact r\"\\\" <;> sorry <;> \"\\\"\"",
        "sorry",
        "sorry",
    );
    refused("have := r#\"a \"# ++ s!\"{sorry}\"\nsimp", "sorry", "sorry");
    // `//` (subtype) before `-`
    refused(
        "have h : { x : ℤ //-x = x } := ⟨0, by simp⟩\nexact absurd sorry -- -/",
        "sorry",
        "sorry",
    );
    // `\/` (ASCII ∨) before `-`
    refused(
        "have : True \\/-False := Or.inl trivial\nexact sorry -- -/",
        "sorry",
        "sorry",
    );
    // interpolated string: `{…}` is code, a quote inside it does not end the string
    refused(
        "have := s!\"{ \"}\" }\"\nexact sorry -- \"",
        "sorry",
        "sorry",
    );
    // without a known keyword before it, a string whose readings end at different quotes
    refused(
        "exact (foo \"{ \"}\" }\" : True)",
        "ambiguous string",
        "\"{",
    );
    // `/-` glued to a symbol that could be longer in Mathlib
    refused("exact (/- x -/ trivial)", "ambiguous", "/-");
    // honest neighbours
    accepted("have h : { x : ℤ // -x = x } := ⟨0, by simp⟩\nnlinarith [sq_nonneg (a - 1)]");
    accepted("have : True \\/ False := Or.inl trivial\nnlinarith [sq_nonneg (a - 1)]");
    accepted("have h' : 'a' ≠ 'b' := by decide\nnlinarith [sq_nonneg (a - 1)]");
}

const REF: &str = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\ntheorem t (f : ℕ → ℕ) (h : f 1 = 2) : f 1 + 0 = 2 := by sorry\n";

fn file_refused(file: &str, reference: Option<&str>, construct: &str, at: &str) {
    let e = plan_file(file, reference).expect_err(file);
    let (l, c) = pos(file, at);
    assert!(
        e.contains(construct),
        "{file}\nreason {e:?} should name {construct:?}"
    );
    assert!(
        e.contains(&format!("line {l}, column {c}")),
        "{file}\nreason {e:?} should point at line {l}, column {c}"
    );
}

#[test]
fn class5_file_mode_allows_only_theorems_and_the_references_opens() {
    let honest = REF.replace(":= by sorry", ":= by\n  simpa using h");
    plan_file(&honest, Some(REF)).unwrap();
    let with_lemma = honest.replace(
        "theorem t",
        "/-- helper -/\nlemma helper (n : ℕ) : n + 0 = n := by simp\n\ntheorem t",
    );
    plan_file(&with_lemma, Some(REF)).unwrap();
    let insert = |what: &str| honest.replace("\ntheorem t", &format!("\n{what}theorem t"));
    for (what, construct, at) in [
        (
            "lemma h0 : True := by\n  trivial\n  notation3 \"ℕ\" => ℤ\n",
            "notation3",
            "notation3",
        ),
        (
            "lemma h0 : True := by\n  trivial\n  variable? [h : Fact False]\n",
            "variable?",
            "variable?",
        ),
        (
            "lemma h0 : True := by\n  trivial\n  include h\n",
            "include",
            "include",
        ),
        (
            "lemma h0 : True := by\n  trivial\n  omit h\n",
            "omit",
            "omit",
        ),
        (
            "example : True := by\n  trivial\n  instance : Add ℕ := ⟨fun _ _ => 0⟩\n",
            "instance",
            "instance",
        ),
        ("variable (x : ℕ)\n", "variable", "variable"),
        ("def f (n : ℕ) : ℕ := 2\n", "def", "def f"),
        ("section\n", "section", "section"),
        ("open Classical in\n", "open", "open Classical"),
        ("attribute [-simp] Nat.add_zero\n", "attribute", "attribute"),
        ("universe u\n", "universe", "universe"),
    ] {
        file_refused(&insert(what), Some(REF), construct, at);
    }
}

#[test]
fn class7_plain_mode_refuses_meaning_changing_commands() {
    let plain = |body: &str| format!("{HEADER}{body}");
    for (body, construct, at) in [
        (
            "variable (h : False)\ninclude h\ntheorem t : (1:ℕ) = 2 := h.elim\n",
            "variable",
            "variable",
        ),
        (
            "instance : OfNat ℕ 2 := ⟨1⟩\ntheorem t : (1:ℕ) = 2 := rfl\n",
            "instance",
            "instance",
        ),
        (
            "notation \"two\" => 1\ntheorem t : (1:ℕ) = two := rfl\n",
            "notation",
            "notation",
        ),
        (
            "theorem s : True := trivial\nomit h\ntheorem t : True := trivial\n",
            "omit",
            "omit",
        ),
        (
            "theorem s : True := trivial\nopen Classical\ntheorem t : True := trivial\n",
            "open",
            "open Classical",
        ),
    ] {
        file_refused(&plain(body), None, construct, at);
    }
    let e = plan_file(
        &plain("variable (h : False)\ntheorem t : False := h\n"),
        None,
    )
    .unwrap_err();
    assert!(e.contains("--against"), "the reason says what to do: {e}");
    // honest plain files, namespaces and helper defs included
    let ok = plan_file(
        &plain("namespace Foo\n\ndef two : ℕ := 2\n\ntheorem t : two = 2 := rfl\n\nend Foo\n"),
        None,
    )
    .unwrap();
    assert_eq!(ok.theorems, ["Foo.t"]);
}

#[test]
fn odd_references_and_inputs_never_panic() {
    let file = REF.replace(":= by sorry", ":= by\n  simpa using h");
    for r in [
        "theorem := sorry",
        "theorem",
        "lemma x",
        "theorem t :=",
        "",
        "/-",
        "import Mathlib\ntheorem t : := sorry",
        "\u{feff}",
    ] {
        assert!(plan_file(&file, Some(r)).is_err(), "{r:?}");
        // statement-shaped references assemble (Lean then rejects them); none panics
        let rl = assemble(HEADER, r, "simp");
        assert_eq!(rl.is_ok(), r.contains("theorem t"), "{r:?}: {rl:?}");
    }
    for f in [
        "theorem := sorry",
        "theorem",
        "set_option",
        "set_option x",
        "#",
        "`",
        "«",
        "r#\"",
    ] {
        assert!(plan_file(f, None).is_err(), "{f:?}");
        if f != "#" {
            assert!(guard_proof_body(f).is_err(), "{f:?}");
        }
    }
}

#[test]
fn byte_order_marks_are_stripped() {
    let file = format!(
        "\u{feff}{}",
        REF.replace(":= by sorry", ":= by\n  simpa using h")
    );
    let plan = plan_file(&file, Some(REF)).unwrap();
    assert!(
        plan.header.starts_with("import Mathlib"),
        "{:?}",
        plan.header
    );
    plan_file(&file, Some(&format!("\u{feff}{REF}"))).unwrap();
    assert_eq!(guard_proof_body("\u{feff}simp").unwrap(), "  simp\n");
    // CRLF is LF to Lean
    assert_eq!(
        guard_proof_body("simp\r\nlinarith").unwrap(),
        "  simp\n  linarith\n"
    );
}

#[test]
fn proofs_over_the_size_cap_are_refused_with_the_setting_named() {
    let big = "simp\n".repeat(64 * 1024 / 5 + 1);
    assert!(big.len() > 64 * 1024);
    let e = guard_proof_body(&big).unwrap_err();
    assert!(e.contains("max_proof_bytes") && e.contains("65536"), "{e}");
    let cfg = GuardConfig {
        max_proof_bytes: 1 << 20,
    };
    guard_proof_body_with(&big, &cfg).unwrap();
    let e = guard_proof_body_with("simp", &GuardConfig { max_proof_bytes: 3 }).unwrap_err();
    assert!(e.contains("max_proof_bytes"), "{e}");
}

/// Lean-like fragments, including every construct the lexer treats specially.
const FRAGMENTS: &[&str] = &[
    "simp",
    " ",
    "\n",
    "  ",
    "h₀",
    "«a.b»",
    "«x",
    "»",
    ".",
    "-",
    "/",
    "--",
    "/-",
    "-/",
    "/--",
    "\"",
    "\\",
    "{",
    "}",
    "s!",
    "m!",
    "r",
    "#",
    "r#\"",
    "\"#",
    "'",
    "'a'",
    "''",
    "0x",
    "1.5e",
    "3",
    "e",
    "`",
    "`(",
    ":=",
    "//",
    "\\/",
    "<-",
    "sorry",
    "set_option",
    "maxHeartbeats",
    "debug",
    "by",
    "(",
    ")",
    "⟨",
    "⟩",
    "α",
    "λ",
    "\u{feff}",
    "\r",
    "\t",
    "_root_",
    "Lean",
    "#eval",
    "%",
    "eval",
    "theorem",
    "import",
    "open",
    "in",
    "@[",
    "!",
    "?",
    ",",
];

fn lean_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..200).prop_map(|v| v.concat())
}

/// Steps the guard and assembler spend on `text` (as a body and as a file).
fn work(text: &str) -> u64 {
    let before = guard_steps();
    let _ = guard_proof_body(text);
    let _ = assemble(HEADER, STMT, text);
    let _ = plan_file(text, None);
    let _ = plan_file(text, Some(REF));
    guard_steps() - before
}

/// Linear bound: a constant per input byte (the symbol table is scanned once per symbol) plus
/// the fixed cost of lexing the reference.
const STEPS_PER_BYTE: u64 = 600;
const STEPS_FIXED: u64 = 20_000;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn guard_and_assembler_never_panic_and_work_linearly(text in lean_like()) {
        let w = work(&text);
        prop_assert!(w <= STEPS_PER_BYTE * text.len() as u64 + STEPS_FIXED, "{w} steps for {} bytes", text.len());
    }

    #[test]
    fn repeating_the_input_repeats_the_work(text in lean_like()) {
        // k copies cost at most about k times one copy (no quadratic blow-up)
        let one = work(&text);
        let many = work(&text.repeat(16));
        prop_assert!(many <= 16 * one + STEPS_PER_BYTE * 16 * text.len() as u64 + STEPS_FIXED,
            "{many} steps for 16 copies vs {one} for one");
    }
}

#[test]
fn pathological_nesting_stays_linear() {
    for unit in [
        "s!\"{",
        "/-",
        "«",
        "\"{",
        "r#\"",
        "(",
        "{ x : ℤ //-x ",
        "-- \n",
        "a.",
        "'",
    ] {
        let small = unit.repeat(1000);
        let large = unit.repeat(16_000);
        let (ws, wl) = (work(&small), work(&large));
        assert!(
            wl <= 20 * ws.max(1) + STEPS_FIXED,
            "{unit:?}: {ws} steps for 1,000 copies, {wl} for 16,000"
        );
    }
}
