#!/usr/bin/env python3
"""Build the summarization model the seed's Summarization examples serve, and store it.

    python examples/make_summarizer.py                        # a tiny local model, no network
    python examples/make_summarizer.py --hub sshleifer/distilbart-cnn-12-6   # a real one, downloaded

No weights can be downloaded here, so by default this builds a real (tiny) Transformers model
on the spot: a BPE tokenizer trained with the ``tokenizers`` library on the short texts below, a
one-layer BART with random weights, then ~150 quick training steps (a few seconds on a CPU) so
that it learns to answer with the leading sentence of a text it has seen. That is a toy
summarizer, but a real ``transformers.pipeline("summarization")``: the examples run the same code
path a downloaded model takes. ``--hub`` stores ``pipeline("summarization", model=NAME)`` instead.
Either way the pipeline is saved with ``runners.transformers.save_model`` as ``summarizer``, into
``$TIFFIN_HOME`` (default ``~/.tiffin``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from summarizer import EXAMPLE_INPUT, MODEL_NAME  # noqa: E402

TEXTS = [
    EXAMPLE_INPUT,
    "One sentence here. Another one there.",
    "Short news. More words follow.",
    "The river rose overnight after three days of rain. Residents moved their cars to higher ground "
    "and the school closed early.",
    "A new library opened downtown on Monday. It holds forty thousand books and a reading room for children.",
    "The storm closed the harbour for a week. Fishing boats stayed home and the ferry was cancelled.",
]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
SEED = 0
STEPS = 150


def tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))  # noqa: S106 - a token, not a password
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    names = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token", "mask_token"), specials, strict=True))
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512, **names)


def tiny_pipeline(steps: int = STEPS) -> Any:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, pipeline

    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # a model this small trains no faster on more threads, and never stalls on them
    tok = tokenizer()
    config = BartConfig(
        vocab_size=len(tok),
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
    )
    model = BartForConditionalGeneration(config)
    inputs = tok(TEXTS, padding=True, return_tensors="pt", return_token_type_ids=False)
    labels = tok([_SENTENCE.split(t)[0] for t in TEXTS], padding=True, return_tensors="pt")["input_ids"]
    labels[labels == tok.pad_token_id] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        model(**inputs, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    generation = model.generation_config
    generation.max_length, generation.num_beams, generation.do_sample = 64, 1, False
    return pipeline("summarization", model=model, tokenizer=tok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub", metavar="NAME", help="download this Hugging Face model instead of building one")
    args = parser.parse_args(argv)

    import runners

    if args.hub:
        from transformers import pipeline

        built = pipeline("summarization", model=args.hub)
    else:
        built = tiny_pipeline()
    source = args.hub or "built by examples/make_summarizer.py"
    stored = runners.transformers.save_model(MODEL_NAME, built, metadata={"source": source})
    print(stored.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
