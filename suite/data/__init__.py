"""Layer 1: text and batches — vocabularies and batchers, natural-text corpora and tokenizers, the generated
grammar and its corpus."""
