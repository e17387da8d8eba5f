"""Tiny T5 / CLIP / VAE checkpoints of the real classes, for the raw-image path on a CPU.

    paths = write_tiny_encoders(Path("/tmp/enc"), t5_dim=32, clip_dim=16)
    # {"encoders.t5": ".../t5", "encoders.clip": ".../clip", "encoders.vae": ".../vae"}

``T5EncoderModel``, ``CLIPTextModel`` (transformers) and ``AutoencoderKL`` (diffusers, the Flux
VAE's layout: 16 latent channels, 8x down-sampling, no quant convs, its shift and scale) with
tiny configs and random weights, saved with ``save_pretrained``, and word-level tokenizers over
the synthetic captions' vocabulary (``synthetic.vocabulary``) saved beside them as
``tokenizer.json``: the directories load exactly as the real FLUX.1-schnell / T5-XXL / CLIP-L
checkpoints do (``encoders.py``). Writing them is data preparation (tests, benches, a smoke run),
never part of a run.
"""

from __future__ import annotations

from pathlib import Path

from mlperf_submit.benchmarks.flux1.synthetic import vocabulary


def _word_tokenizer(specials: list[str], single: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {s: i for i, s in enumerate(specials)}
    for word in vocabulary():
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    marks = [s for s in specials if s in single]
    tok.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[(s, vocab[s]) for s in marks]
    )
    return tok, len(vocab)


def write_tiny_encoders(
    out: Path, *, t5_dim: int = 32, clip_dim: int = 16, latent_channels: int = 16, seed: int = 0
) -> dict[str, str]:
    """Write t5/, clip/ and vae/ under the (new) directory ``out``; the config keys -> paths."""
    import torch
    from diffusers import AutoencoderKL
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        PreTrainedTokenizerFast,
        T5Config,
        T5EncoderModel,
    )

    out.mkdir(parents=True)
    torch.manual_seed(seed)
    # T5: pad 0, eos 1 appended (as T5's sentencepiece tokenizer does).
    tok, n = _word_tokenizer(["<pad>", "</s>", "<unk>"], "$A </s>")
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=n, d_model=t5_dim, d_kv=8, d_ff=2 * t5_dim, num_layers=1, num_heads=2,
            pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        )
    )  # fmt: skip
    t5.save_pretrained(out / "t5")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(out / "t5")
    # CLIP: <|startoftext|> caption <|endoftext|>, padded with <|endoftext|> (as openai/clip's);
    # the pooled output is the hidden state at the first end-of-text token.
    tok, n = _word_tokenizer(
        ["<|endoftext|>", "<|startoftext|>", "<unk>"], "<|startoftext|> $A <|endoftext|>"
    )
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=n, hidden_size=clip_dim, intermediate_size=2 * clip_dim,
            num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
            bos_token_id=1, eos_token_id=0, pad_token_id=0,
        )
    )  # fmt: skip
    clip.save_pretrained(out / "clip")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        bos_token="<|startoftext|>",
        unk_token="<unk>",
    )
    fast.save_pretrained(out / "clip")
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        use_quant_conv=False,
        use_post_quant_conv=False,
        scaling_factor=0.3611,
        shift_factor=0.1159,
    )
    vae.save_pretrained(out / "vae")
    return {f"encoders.{k}": str(out / k) for k in ("t5", "clip", "vae")}


def main(argv: list[str] | None = None) -> int:
    """``python -m mlperf_submit.benchmarks.flux1.tiny_encoders DIR [T5_DIM CLIP_DIM]``: prints
    the ``encoders.*=`` overrides of a tiny_raw run."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or Path(args[0]).exists():
        print("usage: tiny_encoders NEW_DIR [T5_DIM CLIP_DIM]  (the directory must not exist)")
        return 2
    dims = [int(x) for x in args[1:3]] or [32, 16]
    paths = write_tiny_encoders(Path(args[0]), t5_dim=dims[0], clip_dim=dims[1])
    print(" ".join(f"{k}={v}" for k, v in paths.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
