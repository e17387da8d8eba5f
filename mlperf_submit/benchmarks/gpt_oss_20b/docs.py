"""What the submission README says about gpt_oss_20b (GPT-OSS 20B pretraining on C4); the
target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="Small MoE LLM pre-training: GPT-OSS 20B",
    problem="Causal language-model pre-training of the GPT-OSS 20B mixture of experts from "
    "scratch to a target validation log-perplexity.",
    dataset="Tokenised C4 (Llama 3.1 tokenizer, the llama31_8b data) in the Megatron/NeMo "
    "indexed format (.bin + .idx) with sequences of 8,192 tokens and a fixed validation set.",
    preprocessing="None at run time beyond reading fixed-length token sequences from the "
    "memory-mapped indexed dataset.",
    data_order="A deterministic permutation of the training sequences from the run seed, "
    "sharded by rank; validation sequences in a fixed order.",
    model="GPT-OSS 20B as the MLPerf reference (Primus / Megatron-Core) builds it, written in "
    "this package (the shared decoder family): RMSNorm, RoPE (theta 150,000), grouped-query "
    "attention with RMS-normalised query/key heads, 128-token sliding windows on alternate "
    "layers, a mixture of 32 SwiGLU experts with 4 active per token (softmax over the top-4 "
    "router logits, no balancing loss, no token dropping), untied embeddings.",
    layers="Token embedding (vocabulary 128,256), 24 decoder layers (hidden 2,880, 64 query "
    "heads and 8 KV heads of 64, 32 experts of hidden 2,880), final RMSNorm, output "
    "projection: 20.5B parameters, 3.4B active per token (20.9B / 3.6B with GPT-OSS's own "
    "201,088-token vocabulary).",
    init="Normal(0, 0.008) weights, residual-branch output projections (attention output, "
    "expert down projections) scaled by 1/sqrt(2 * 24), RMSNorm weights 1.",
    loss="Next-token cross entropy.",
    optimizer="AdamW (beta1 0.9, beta2 0.95, epsilon 1e-5, weight decay 0.1), gradient "
    "clipping at norm 1.0, cosine schedule with linear warm-up over 1,200,000 steps.",
    metric="Validation log-perplexity (eval_accuracy), lower is better.",
    eval_frequency="Every 12,288 sequences, rounded up to a multiple of the global batch.",
    eval_thoroughness="1,024 validation sequences (eval_samples) per evaluation.",
    references=("OpenAI, gpt-oss-120b & gpt-oss-20b Model Card, 2025",),
)
