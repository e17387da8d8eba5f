"""Model and data families that several benchmarks share (a benchmark imports, never copies).

decoder/          the decoder-only transformer with pluggable attention / feed-forward parts
megatron_c4/      C4 in the Megatron indexed format: reader, writer, windows, synthetic data
lm_pretraining/   the LLM pretraining benchmark (decoder + C4 + AdamW/cosine) as a base class
hf_checkpoint.py  Hugging Face safetensors checkpoint directories: load shard by shard into
                  (sharded) parameters with name maps and shape/dtype checks; write tiny ones
"""
