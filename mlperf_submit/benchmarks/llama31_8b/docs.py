"""What the submission README says about llama31_8b (Llama 3.1 8B pretraining on C4); the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="LLM pre-training: Llama 3.1 8B",
    problem="Causal language-model pre-training of Llama 3.1 8B to a target validation "
    "log-perplexity.",
    dataset="Tokenised C4 in the Megatron/NeMo indexed format (.bin + .idx, MMIDIDX header) "
    "with sequences of 8,192 tokens and a fixed validation set.",
    preprocessing="None at run time beyond reading fixed-length token sequences from the "
    "memory-mapped indexed dataset.",
    data_order="A deterministic permutation of the training sequences from the run seed, "
    "sharded by rank; validation sequences in a fixed order.",
    model="Llama 3.1 8B written in this package: RMSNorm, rotary embeddings with the "
    "llama3 frequency scaling, grouped-query attention, SwiGLU, untied embeddings.",
    layers="Token embedding (vocabulary 128,256), 32 decoder layers (hidden 4,096, 32 heads, "
    "8 KV heads, FFN 14,336), final RMSNorm, output projection.",
    init="Normal(0, 0.02) for linear and embedding weights, RMSNorm weights 1.",
    loss="Next-token cross entropy.",
    optimizer="AdamW (beta1 0.9, beta2 0.95, epsilon 1e-5, weight decay 0.1), gradient "
    "clipping at norm 1.0, cosine schedule with linear warm-up.",
    metric="Validation log-perplexity (eval_accuracy), lower is better.",
    eval_frequency="Every 12,288 sequences, rounded up to a multiple of the global batch.",
    eval_thoroughness="1,024 validation sequences (eval_samples) per evaluation.",
    references=("Llama Team, The Llama 3 Herd of Models, 2024",),
)
