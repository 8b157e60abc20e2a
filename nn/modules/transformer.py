"""torch.nn.modules.transformer: the classes live in tinygrad_lstm/nn/transformer.py."""

from tinygrad_lstm.nn.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                                          TransformerEncoder, TransformerEncoderLayer)

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]
