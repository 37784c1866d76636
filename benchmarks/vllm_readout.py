"""Two ways to read P(A) off vLLM, side by side on the same pairs and token ids (docs/BENCHMARKS.md):

- logprobs (what gram uses): the generate runner writes one token per prompt and returns the two label
  tokens' log-probabilities (`SamplingParams(logprob_token_ids=[A, B])`); P(A) = 1 / (1 + exp(l_B - l_A));
- classifier: the pooling runner with vLLM's two-token classifier adapter (`convert="classify"`,
  `hf_overrides={"classifier_from_token": ["B", "A"], "method": "from_2_way_softmax"}`): the LM head's
  rows A and B become one score w = W_A - W_B at the last position, and `classify` returns sigmoid(w . h)
  = P(A), without the full-vocabulary head.

    python benchmarks/vllm_readout.py --pairs 32            # 32 JudgeBench + 32 RMB pairs, both orders

Each engine reads gram's own ids (`encode_orders`, the reference evaluation prompt); each run starts from a
cold prefix cache; engine start is reported apart. Agreement: largest P(A) difference against gram's
transformers judge in fp32 on the same ids.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import cpu_name, pick_pairs  # noqa: E402


def classifier_engine(vllm, path: str, dtype: str, max_len: int):
    from gram.scoring.vllm_start import CPU_KV_CACHE_BYTES

    return vllm.LLM(model=path, dtype=dtype, runner="pooling", convert="classify", seed=0, max_model_len=max_len,
                    enable_prefix_caching=True, kv_cache_memory_bytes=CPU_KV_CACHE_BYTES, disable_log_stats=True,
                    hf_overrides={"classifier_from_token": ["B", "A"], "method": "from_2_way_softmax"})


def classifier_p_a(llm, sequences):
    outputs = llm.classify([{"prompt_token_ids": ids} for ids in sequences], use_tqdm=False)
    return [o.outputs.probs[0] for o in outputs]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--pairs", type=int, default=32, help="pairs per set (JudgeBench, RMB)")
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = ap.parse_args(argv)

    from gram.model import backbone
    from gram.scoring import load_judge
    from gram.scoring.judge import encode_orders, two_way_p_a
    from gram.scoring.vllm_judge import VLLMJudge
    from gram.scoring.vllm_start import import_vllm

    vllm = import_vllm()
    reference = load_judge(args.model, device="cpu", dtype="float32", max_length=None, template="gram-eval-exact")
    pairs = [p for name in ("judgebench", "rmb") for p in pick_pairs(reference.tokenizer, name, args.pairs,
                                                                    args.max_tokens)]
    sequences, _, _ = encode_orders(reference.tokenizer, pairs, "both", None, "gram-eval-exact")
    want = [p for s in reference.compare_many(pairs) for p in (s.p_a_ab, s.p_a_ba)]
    path, max_len = backbone.resolve(args.model), max(map(len, sequences)) + 1
    print(f"CPU: {cpu_name()}; {len(pairs)} pairs, {len(sequences)} prompts, {sum(map(len, sequences))} prompt tokens")
    print("| read-out | dtype | engine start s | s | prompts/s | largest P(A) difference vs transformers fp32 |")
    print("|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        for readout in ("logprobs", "classifier"):
            start = time.perf_counter()
            if readout == "logprobs":
                judge = VLLMJudge.load(args.model, dtype=dtype, max_length=max_len - 1, template="gram-eval-exact")
                llm = judge.llm
                run = lambda seqs, judge=judge: two_way_p_a(judge.engine.label_scores(seqs, judge.label_ids))  # noqa: E731
            else:
                llm = classifier_engine(vllm, path, dtype, max_len)
                run = lambda seqs, llm=llm: classifier_p_a(llm, seqs)  # noqa: E731
            started = time.perf_counter() - start
            llm.reset_prefix_cache()
            start = time.perf_counter()
            got = run(sequences)
            seconds = time.perf_counter() - start
            diff = max(abs(a - b) for a, b in zip(got, want))
            print(f"| {readout} | {dtype} | {started:.0f} | {seconds:.1f} | {len(sequences) / seconds:.2f} | {diff:.1e} |",
                  flush=True)
            llm.llm_engine.engine_core.shutdown()


if __name__ == "__main__":
    main()
