"""What the submission README says about llama2_70b_lora; the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="LLM fine-tuning: Llama 2 70B with LoRA on SCROLLS GovReport",
    problem="Parameter-efficient fine-tuning (LoRA) of Llama 2 70B for long-document "
    "summarisation, to a target evaluation loss.",
    dataset="SCROLLS GovReport (Shaham et al., 2022), each sample written as '### Summarize the "
    "following text: {report} ### Summary: {summary}</s>', tokenised with the Llama 2 tokenizer "
    "and packed into rows of 8,192 tokens: train-00000-of-00001.parquet (3,901 rows) and "
    "validation-00000-of-00001.parquet (173 rows), columns input_ids, attention_mask, labels.",
    preprocessing="None at run time: the rows are read as packed; a position with label -100 "
    "(the validation prompts and final </s>) carries no loss.",
    data_order="A permutation of the training rows per epoch from the run seed, the same on "
    "every rank; each global batch is split over the ranks. Validation rows in file order.",
    model="Llama 2 70B (Touvron et al., 2023) written in this package with q/k/v fused into one "
    "projection as in the MLPerf checkpoint, base weights loaded from the Hugging Face "
    "checkpoint and frozen (bf16), LoRA adapters injected by peft.",
    layers="Token embedding (vocabulary 32,000), 80 decoder layers (hidden 8,192, 64 heads, 8 "
    "KV heads, FFN 28,672, RoPE theta 10,000), final RMSNorm, output projection; LoRA rank 16, "
    "alpha 32, dropout 0.1 on the fused qkv projection and the attention output projection.",
    init="Base weights from the pretrained checkpoint; LoRA A Kaiming-uniform, B zero (the "
    "adapted model starts equal to the base model).",
    loss="Next-token cross entropy on the label tokens, averaged per sequence.",
    optimizer="AdamW on the adapters only (beta1 0.9, beta2 0.999, epsilon 1e-8, weight decay "
    "1e-4), gradient clipping at norm 0.3, cosine schedule to 0 over "
    "opt_learning_rate_training_steps (transformers' get_cosine_schedule_with_warmup).",
    metric="Evaluation loss (eval_accuracy): cross entropy on the summary tokens, averaged per "
    "validation sequence; lower is better.",
    eval_frequency="Every 384 sequences, rounded up to a multiple of the global batch, skipping "
    "the first FLOOR(0.125 * global batch + 2) evaluations.",
    eval_thoroughness="All 173 validation sequences per evaluation.",
    references=(
        "Hu et al., LoRA: Low-Rank Adaptation of Large Language Models, 2021",
        "Touvron et al., Llama 2: Open Foundation and Fine-Tuned Chat Models, 2023",
        "Shaham et al., SCROLLS: Standardized CompaRison Over Long Language Sequences, 2022",
    ),
)
