"""The decoder-only transformer family (Llama 3.1, and the variants the LLM benchmarks plug in).

config.py        DecoderConfig + the part configs that choose a variant (GQAConfig,
                 SwiGLUConfig; new variants add their own part config and module)
model.py         Decoder (embedding, pre-norm blocks, head), RMSNorm, next_token_loss
attention.py     grouped-query attention over SDPA, optional sliding window
feed_forward.py  SwiGLU
rope.py          rotary embeddings with the Llama 3.1 frequency scaling
flops.py         model FLOPs per token (for MFU), from the parts
hf_names.py      our parameter names <-> the Hugging Face Llama checkpoint's
"""
