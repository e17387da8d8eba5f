"""What the submission README says about llama31_405b (Llama 3.1 405B continued pretraining on
C4); the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="LLM pre-training: Llama 3.1 405B",
    problem="Continued causal language-model pre-training of Llama 3.1 405B, from the published "
    "checkpoint, to a target validation log-perplexity.",
    dataset="Tokenised C4 (Llama 3.1 tokenizer) in the Megatron/NeMo indexed format (.bin + .idx, "
    "MMIDIDX header) with sequences of 8,192 tokens and a fixed validation set; the Llama 3.1 "
    "405B weights as a Hugging Face safetensors checkpoint.",
    preprocessing="None at run time beyond reading fixed-length token sequences from the "
    "memory-mapped indexed dataset.",
    data_order="A deterministic permutation of the training sequences from the run seed, "
    "sharded by rank; validation sequences in a fixed order.",
    model="Llama 3.1 405B written in this package (the shared decoder family): RMSNorm, rotary "
    "embeddings with the llama3 frequency scaling, grouped-query attention, SwiGLU, untied "
    "embeddings; weights loaded shard by shard from the Hugging Face checkpoint.",
    layers="Token embedding (vocabulary 128,256), 126 decoder layers (hidden 16,384, 128 heads, "
    "8 KV heads, FFN 53,248), final RMSNorm, output projection: 405.9B parameters.",
    init="The Llama 3.1 405B checkpoint (weights only; no optimizer state).",
    loss="Next-token cross entropy.",
    optimizer="AdamW (beta1 0.9, beta2 0.95, epsilon 1e-5, weight decay 0.1), gradient "
    "clipping at norm 1.0; cosine schedule with linear warm-up whose peak LR (8e-5 * GBS / "
    "1152), warm-up (ceil(8000 * 1152 / GBS) steps) and length (ceil(1,200,000 * 1152 / GBS) "
    "steps) follow the global batch size, to 8e-7.",
    metric="Validation log-perplexity (eval_accuracy), lower is better.",
    eval_frequency="Every 46,080 sequences, rounded up to a multiple of the global batch.",
    eval_thoroughness="5,760 validation sequences (eval_samples) per evaluation.",
    references=("Llama Team, The Llama 3 Herd of Models, 2024",),
)
