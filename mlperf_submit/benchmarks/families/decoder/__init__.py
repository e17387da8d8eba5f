"""The decoder-only transformer family (Llama 3.1, and the variants the LLM benchmarks plug in).

config.py        DecoderConfig + the part configs that choose a variant (GQAConfig,
                 SwiGLUConfig; new variants add their own part config and module)
model.py         Decoder (embedding, pre-norm blocks, head), RMSNorm, next_token_loss
attention.py     grouped-query attention over SDPA, optional sliding window
feed_forward.py  SwiGLU
rope.py          rotary embeddings with the Llama 3.1 frequency scaling, or YaRN
flops.py         model FLOPs per token (for MFU), from the parts
hf_names.py      our parameter names <-> the Hugging Face Llama checkpoint's
qk_norm_attention.py  QKNormGQAConfig: GQA with RMSNorm'd q/k heads, O(T W) local attention
                 (GPT-OSS as the MLPerf reference builds it)
mla.py           MLAConfig: multi-head latent attention (DeepSeek-V3)
moe_config.py    MoEConfig: the mixture-of-experts feed-forward part (GPT-OSS, DeepSeekMoE)
moe.py           MoE: router, top-k, balancing losses, capacity, grouped experts, all-to-all
moe_parallel.py  expert parallelism: groups, experts kept out of DDP, clipping, routing bias
hf_names_deepseek.py  our parameter names <-> the Hugging Face DeepSeek-V3 checkpoint's
"""
