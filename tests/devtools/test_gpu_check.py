"""The GPU check runs end to end on a CPU with --tiny (its numbers are not asserted)."""

from devtools import gpu_check


def test_gpu_check_tiny_prints_generation_and_learner_steps(capsys):
    gpu_check.main(
        ["--tiny", "--steps", "1", "--batches", "3", "--max-new-tokens", "4", "--peak-tflops", "1"]
    )
    out = capsys.readouterr().out.split("all together:")[-1]
    assert "generate 3 x 4: hf engine" in out and "generate 3 x 4: transformers generate" in out
    assert "grpo step (2 x G=2)" in out and "sd step (2 x G=2)" in out
    assert out.count("- generation") == 2 and out.count("- training") == 2
    assert "%" in out  # model-FLOPs utilisation against the peak given


def test_word_level_tokenizer_decodes_every_id_and_renders_chat():
    tok = gpu_check.build_tokenizer(64)
    assert len(tok) == 64 and tok.decode([5, 7, 60]) == "t5 t7 t60"
    ids = tok.apply_chat_template([{"role": "user", "content": "t3 t4"}], tokenize=False)
    assert tok(ids, add_special_tokens=False)["input_ids"][-3:-1] == [3, 4]
