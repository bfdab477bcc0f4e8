"""The attention family for transformers: Rollout, TAM, Generic Attention and Bidirectional
explanations, one module per method, sharing the math and the capture of :mod:`._core`."""
