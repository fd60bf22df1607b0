//! Soundness without Lean: the reward-hacking fixtures (../shared/fixtures/cheats) are
//! rejected by the static checks where they can be caught before Lean and by the post-checks
//! (given the replies a real Lean gives, in the REPL's documented format) otherwise; the
//! published miniF2F proofs (../shared/fixtures/minif2f-proofs) pass every static check and are
//! accepted through the pool (the two `native_decide` ones only with allow_native_decide).
mod common;

use common::shared;
use std::path::PathBuf;
use std::time::Duration;

use prover::verify::lean::{
    assemble, decide_from_repl_replies, guard_proof_body, plan_file, statement_without_sorry,
    AxiomPolicy, Job, Pool, PoolConfig, Status,
};
use serde_json::Value;

fn cheats() -> Option<Vec<Value>> {
    let p = shared("fixtures/cheats/fixtures.jsonl")?;
    Some(
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// The proof body after the first `:= by` of `code`.
fn body_after_by(code: &str) -> Option<&str> {
    code.find(":= by").map(|i| &code[i + 5..])
}

const FALSE_STMT: &str = "theorem t : (2:ℕ) + 2 = 5 := by sorry";

fn reference_for(id: &str, code: &str) -> String {
    match id {
        "statement_swap" => "theorem mathd_algebra_304 : 91 ^ 2 = 8281 := by sorry".into(),
        "native_decide_true" => {
            let i = code.find(":= by").unwrap();
            format!("{} := by sorry", &code[..i].trim_end())
        }
        _ => FALSE_STMT.into(),
    }
}

#[test]
fn cheats_are_rejected_statically_where_possible() {
    let Some(cases) = cheats() else { return };
    assert_eq!(cases.len(), 7);
    for c in &cases {
        let id = c["id"].as_str().unwrap();
        let header = c["header"].as_str().unwrap();
        let code = c["code"].as_str().unwrap();
        let file = format!("{header}{code}\n");
        let reference = format!("{header}{}\n", reference_for(id, code));
        let whole_file = plan_file(&file, Some(&reference));
        let want_static = !matches!(id, "native_decide_true");
        assert_eq!(
            whole_file.is_err(),
            want_static,
            "{id} (--against): {whole_file:?}"
        );
        // RL mode: the policy only writes the body; prover writes the statement.
        if let Some(body) = body_after_by(code) {
            let rl = assemble(header, &reference_for(id, code), body);
            let want = matches!(id, "sorry" | "admit");
            assert_eq!(rl.is_err(), want, "{id} (RL body {body:?}): {rl:?}");
        }
    }
}

fn reply(messages: &[(&str, u64, &str)], sorries: usize, env: u64) -> String {
    let msgs: Vec<Value> = messages
        .iter()
        .map(|(sev, line, data)| {
            serde_json::json!({"severity": sev, "pos": {"line": line, "column": 0},
                "endPos": {"line": line, "column": 7}, "data": data})
        })
        .collect();
    let sorries: Vec<Value> = (0..sorries)
        .map(|k| serde_json::json!({"proofState": k, "pos": {"line": 1, "column": 32}, "goal": "⊢ 2 + 2 = 5", "endPos": {"line": 1, "column": 37}}))
        .collect();
    let mut o = serde_json::Map::new();
    if !sorries.is_empty() {
        o.insert("sorries".into(), Value::Array(sorries));
    }
    if !msgs.is_empty() {
        o.insert("messages".into(), Value::Array(msgs));
    }
    o.insert("env".into(), env.into());
    serde_json::to_string_pretty(&Value::Object(o)).unwrap()
}

fn axioms_reply(name: &str, axioms: &[&str]) -> String {
    let data = if axioms.is_empty() {
        format!("'{name}' does not depend on any axioms")
    } else {
        format!("'{name}' depends on axioms: [{}]", axioms.join(", "))
    };
    reply(&[("info", 1, &data)], 0, 2)
}

#[test]
fn post_checks_reject_every_cheat_given_real_lean_replies() {
    let Some(cases) = cheats() else { return };
    let std_axioms = ["propext", "Classical.choice", "Quot.sound"];
    let t = vec!["t".to_string()];
    for c in &cases {
        let id = c["id"].as_str().unwrap();
        // What Lean (REPL format) answers for the cheat with the static guard switched off.
        let (body, axioms, theorems): (String, String, Vec<String>) = match id {
            "sorry" | "admit" => (
                reply(&[("warning", 1, "declaration uses `sorry`")], 1, 1),
                axioms_reply("t", &["sorryAx"]),
                t.clone(),
            ),
            "sorry_macro" => (
                reply(&[("warning", 2, "declaration uses 'sorry'")], 1, 1),
                axioms_reply("t", &["sorryAx"]),
                t.clone(),
            ),
            "custom_axiom" => (reply(&[], 0, 1), axioms_reply("t", &["cheat"]), t.clone()),
            "statement_swap" => (
                // assembled by prover: the swapped statement never reaches Lean; if the policy's
                // whole file were run, the reference theorem would be missing from the env
                reply(&[], 0, 1),
                reply(
                    &[("error", 1, "unknown constant 'mathd_algebra_304'")],
                    0,
                    2,
                ),
                vec!["mathd_algebra_304".to_string()],
            ),
            "exit_before_theorem" => (
                reply(&[], 0, 1),
                reply(&[("error", 1, "unknown constant 't'")], 0, 2),
                t.clone(),
            ),
            "native_decide_true" => (
                reply(&[], 0, 1),
                axioms_reply(
                    "t",
                    &[
                        "propext",
                        "Classical.choice",
                        "Lean.ofReduceBool",
                        "Quot.sound",
                    ],
                ),
                t.clone(),
            ),
            other => panic!("new cheat {other}: add its Lean replies here"),
        };
        let pairs = vec![(theorems[0].clone(), axioms)];
        let v = decide_from_repl_replies(&body, &pairs, &theorems, AxiomPolicy::default()).unwrap();
        assert!(matches!(v.status, Status::Rejected { .. }), "{id}: {v:?}");
        if id == "native_decide_true" {
            let ok = decide_from_repl_replies(
                &body,
                &pairs,
                &theorems,
                AxiomPolicy {
                    allow_native_decide: true,
                },
            )
            .unwrap();
            assert!(ok.is_accepted(), "{ok:?}");
        }
    }
    // and an honest proof passes the same checks
    let v = decide_from_repl_replies(
        &reply(&[], 0, 1),
        &[("t".into(), axioms_reply("t", &std_axioms))],
        &t,
        AxiomPolicy::default(),
    )
    .unwrap();
    assert!(v.is_accepted());
    // no axiom report at all is a rejection
    let v = decide_from_repl_replies(&reply(&[], 0, 1), &[], &t, AxiomPolicy::default()).unwrap();
    assert!(matches!(v.status, Status::Rejected { .. }));
    // an error with no sorry is a rejection even with a clean axiom report
    let v = decide_from_repl_replies(
        &reply(&[("error", 2, "linarith failed")], 0, 1),
        &[("t".into(), axioms_reply("t", &std_axioms))],
        &t,
        AxiomPolicy::default(),
    )
    .unwrap();
    assert!(matches!(v.status, Status::Rejected { .. }));
}

struct Published {
    name: String,
    text: String,
    native: bool,
}

fn published() -> Option<Vec<Published>> {
    let root = shared("fixtures/minif2f-proofs")?;
    let mut out = Vec::new();
    for sub in ["kimina-prover-preview", "deepseek-prover-v2"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "lean"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let stem = f.file_stem().unwrap().to_str().unwrap();
            let name = stem
                .trim_start_matches("test_")
                .trim_start_matches("valid_")
                .to_string();
            let native = text.contains("native_decide");
            out.push(Published { name, text, native });
        }
    }
    Some(out)
}

fn split_published(p: &Published) -> (String, String, String) {
    let i = p.text.find("\ntheorem ").unwrap() + 1;
    let docstart = p.text[..i]
        .rfind("/--")
        .filter(|&d| !p.text[d..i].contains("-/\n\n"));
    let header = p.text[..docstart.unwrap_or(i)].to_string();
    let j = i + p.text[i..].find(":= by").unwrap();
    let statement = format!("{} := by sorry", p.text[i..j].trim_end());
    let body = p.text[j + 5..].to_string();
    (header, statement, body)
}

#[test]
fn published_proofs_pass_every_static_check() {
    let Some(proofs) = published() else { return };
    assert_eq!(proofs.len(), 18);
    assert_eq!(proofs.iter().filter(|p| p.native).count(), 2);
    for p in &proofs {
        let plan = plan_file(&p.text, None).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(plan.theorems, std::slice::from_ref(&p.name));
        let (header, statement, body) = split_published(p);
        let reference = format!("{header}{statement}\n");
        let against = plan_file(&p.text, Some(&reference));
        assert!(against.is_ok(), "{} --against: {against:?}", p.name);
        guard_proof_body(&body).unwrap_or_else(|e| panic!("{} body: {e}", p.name));
        let a = assemble(&header, &statement, &body).unwrap();
        assert!(a
            .body
            .starts_with(&statement[..statement.len() - " sorry".len()]));
    }
}

/// Plumbing, not Lean: the stand-in REPL (`--sim`) accepts what it is sent, so this checks
/// that published proofs pass the static checks, are assembled as `Job::Proof` and
/// `Job::File`, reach the workers, and that the native_decide axiom policy is applied to the
/// axioms reported back. Whether real Lean accepts them is `lean_real.rs`.
#[tokio::test]
async fn published_proofs_pass_the_pool_plumbing_to_the_stand_in_repl() {
    let Some(proofs) = published() else { return };
    let standin = common::repl_standin(&["--sim"]);
    for allow in [false, true] {
        let mut cfg = PoolConfig::new(standin.clone());
        cfg.workers = 2;
        cfg.timeout = Duration::from_secs(10);
        cfg.axioms = AxiomPolicy {
            allow_native_decide: allow,
        };
        let pool = Pool::new(cfg);
        let jobs: Vec<Job> = proofs
            .iter()
            .flat_map(|p| {
                let (header, statement, body) = split_published(p);
                [
                    Job::Proof {
                        header,
                        formal_statement: statement,
                        proof: body,
                    },
                    Job::File {
                        text: p.text.clone(),
                        reference: None,
                    },
                ]
            })
            .collect();
        let verdicts = pool.verify_batch(jobs).await;
        for (k, v) in verdicts.iter().enumerate() {
            let p = &proofs[k / 2];
            let want = !p.native || allow;
            assert_eq!(
                v.is_accepted(),
                want,
                "{} (allow_native_decide={allow}): {v:?}",
                p.name
            );
        }
    }
}

#[test]
fn every_minif2f_statement_can_be_assembled() {
    let Some(p) = shared("datasets/minif2f/minif2f-lean4-v4.24.0.jsonl") else {
        return;
    };
    let mut n = 0;
    for line in std::fs::read_to_string(p).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let name = row["name"].as_str().unwrap();
        let (stmt, thm) = statement_without_sorry(row["formal_statement"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(thm, name);
        assert!(stmt.ends_with(":= by"));
        let a = assemble(
            row["header"].as_str().unwrap(),
            row["formal_statement"].as_str().unwrap(),
            "norm_num",
        )
        .unwrap();
        assert!(a.body.ends_with(":= by\n  norm_num\n"));
        // the full reference file checks against itself
        let reference = format!(
            "{}{}\n",
            row["header"].as_str().unwrap(),
            row["formal_statement"].as_str().unwrap()
        );
        let file = reference.replace(":= by sorry", ":= by\n  norm_num");
        plan_file(&file, Some(&reference)).unwrap_or_else(|e| panic!("{name}: {e}"));
        n += 1;
    }
    assert_eq!(n, 488);
}

const REF: &str = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\ntheorem t (f : ℕ → ℕ) (h : f 1 = 2) : f 1 + 0 = 2 := by sorry\n";

#[test]
fn against_mode_rejects_meaning_changes_and_accepts_honest_files() {
    let honest = REF.replace(":= by sorry", ":= by\n  simpa using h");
    assert!(plan_file(&honest, Some(REF)).is_ok());
    let spaced = honest.replace("(f : ℕ → ℕ) (h", "(f : ℕ → ℕ)\n    (h");
    assert!(
        plan_file(&spaced, Some(REF)).is_ok(),
        "whitespace is normalized"
    );
    let with_helper = honest.replace(
        "theorem t",
        "lemma helper (n : ℕ) : n + 0 = n := by simp\n\ntheorem t",
    );
    assert!(plan_file(&with_helper, Some(REF)).is_ok());
    let pre = "\ntheorem t";
    let bad = [
        ("instance", "instance : Add ℕ := ⟨fun _ _ => 0⟩\n"),
        ("notation", "notation \"ℕ\" => ℤ\n"),
        (
            "local instance",
            "attribute [local instance] Classical.propDecidable\n",
        ),
        ("macro", "macro \"simp\" : tactic => `(tactic| sorry)\n"),
        ("option", "set_option pp.all true\n"),
        ("variable", "variable (x : ℕ)\n"),
        ("namespace", "namespace Foo\n"),
        ("shadowing helper", "def f (n : ℕ) : ℕ := 2\n"),
        ("open", "open Classical\n"),
        ("axiom", "axiom cheat : False\n"),
        ("exit", "#exit\n"),
        ("debug", "set_option debug.skipKernelTC true in\n"),
        ("eval", "#eval 1\n"),
        ("guard_msgs", "#guard_msgs in\n"),
        (
            "indented instance after a helper",
            "lemma h0 : True := by\n  trivial\n  instance : Add ℕ := ⟨fun _ _ => 0⟩\n",
        ),
        (
            "indented open",
            "lemma h0 : True := by\n  trivial\n  open Classical\n",
        ),
    ];
    for (what, insert) in bad {
        let f = honest.replace(pre, &format!("\n{insert}theorem t"));
        assert!(
            plan_file(&f, Some(REF)).is_err(),
            "{what} must be rejected:\n{f}"
        );
    }
    let swapped = honest.replace("f 1 + 0 = 2", "True");
    assert!(plan_file(&swapped, Some(REF))
        .unwrap_err()
        .contains("differs"));
    let missing = honest.replace("theorem t", "theorem u");
    assert!(plan_file(&missing, Some(REF)).is_err());
    let twice = format!(
        "{honest}\ntheorem t (f : ℕ → ℕ) (h : f 1 = 2) : f 1 + 0 = 2 := by simpa using h\n"
    );
    assert!(plan_file(&twice, Some(REF)).is_err());
}

#[test]
fn the_body_guard_sees_through_comments_strings_and_indentation() {
    let ok = [
        "nlinarith [sq_nonneg (a - 1)]",
        "  -- sorry is only a comment here\n  simp",
        "/- admit -/ simp",
        "have h : 1 = 1 := by\n  rfl\nexact h",
        "\n\n    intro x\n    simp",
        "set_option maxRecDepth 10000 in\nsimp",
        "simp [Finset.sum_range_succ]\n<;> linarith",
    ];
    for b in ok {
        assert!(
            guard_proof_body(b).is_ok(),
            "{b:?}: {:?}",
            guard_proof_body(b)
        );
    }
    let bad = [
        "sorry",
        "admit",
        "exact sorryAx _ false",
        "  simp\nlinarith",
        "simp\n  theorem x : False := sorry",
        "simp\n  #exit",
        "simp\n  axiom c : False",
        "set_option debug.skipKernelTC true in\nsimp",
        "simp\n  local instance : Add ℕ := ⟨fun _ _ => 0⟩",
        "simp\n  attribute [simp] foo",
        "run_tac Lean.Elab.Tactic.closeMainGoal",
        "simp\n  elab \"x\" : tactic => pure ()",
        "simp\n  @[implemented_by x] def y := 1",
        "trace s!\"{sorry}\"",
        "simp /- unterminated",
        "simp\n\tlinarith",
        "simp\n  unsafe def x := 1",
        "-- only a comment",
        "simp\n  #eval 1",
        "simp\nend",
        "exact «sorry»",
    ];
    for b in bad {
        assert!(guard_proof_body(b).is_err(), "{b:?} must be rejected");
    }
}
