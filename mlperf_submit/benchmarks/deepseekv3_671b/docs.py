"""What the submission README says about deepseekv3_671b (DeepSeek-V3 671B continued
pretraining on C4); the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="MoE LLM pre-training: DeepSeek-V3 671B",
    problem="Continued causal language-model pre-training of DeepSeek-V3 671B from the "
    "benchmark's checkpoint to a target validation log-perplexity.",
    dataset="Tokenised C4 (Llama 3.1 tokenizer, the llama31_8b data) in the Megatron/NeMo "
    "indexed format with sequences of 4,096 tokens and a fixed validation set; the starting "
    "weights as a Hugging Face safetensors checkpoint (DeepSeek-V3 adapted to the Llama 3.1 "
    "vocabulary by the reference).",
    preprocessing="None at run time beyond reading fixed-length token sequences from the "
    "memory-mapped indexed dataset.",
    data_order="A deterministic permutation of the training sequences from the run seed, "
    "sharded by rank; validation sequences in a fixed order.",
    model="DeepSeek-V3 written in this package (the shared decoder family): multi-head latent "
    "attention with YaRN RoPE, DeepSeekMoE feed-forward layers (one shared and 256 routed "
    "SwiGLU experts, 8 active per token, sigmoid routing limited to 4 of 8 expert groups, "
    "auxiliary-loss-free routing bias plus the sequence-wise balancing loss), RMSNorm, untied "
    "embeddings. The reference also trains a one-layer multi-token-prediction head (loss "
    "weight 0.1), which is not implemented here.",
    layers="Token embedding (vocabulary 128,256), 61 decoder layers (hidden 7,168, 128 heads; "
    "the first 3 dense with FFN 18,432, then 58 MoE layers), final RMSNorm, output "
    "projection: 671B parameters, 37B active per token.",
    init="The benchmark's DeepSeek-V3 checkpoint (weights and routing biases; no optimizer state).",
    loss="Next-token cross entropy plus 0.01 x the sequence-wise balancing loss of each MoE layer.",
    optimizer="AdamW (beta1 0.9, beta2 0.95, epsilon 1e-8, weight decay 0.1), gradient "
    "clipping at norm 1.0; cosine schedule with 4 linear warm-up steps over 12,000 steps to "
    "1e-8 from 2.4e-5 * sqrt(GBS / 16384).",
    metric="Validation log-perplexity (eval_accuracy), lower is better.",
    eval_frequency="After every step, from step floor(42 + 24576 / GBS) on.",
    eval_thoroughness="1,024 validation sequences (eval_samples) per evaluation.",
    references=("DeepSeek-AI, DeepSeek-V3 Technical Report, 2024",),
)
