"""Training-data explanations: which training samples are easy, ambiguous, hard or mislabelled.

Not per-input explanation methods (so not in the method table of :mod:`..registry`): they read
training dynamics recorded while the user's own loop trains (:mod:`.recorder`) and return a
per-sample table (:class:`.result.TrainingDataResult`).

* :mod:`.recorder` - :class:`TrainingDynamicsRecorder`, :class:`TrainingDynamicsCallback`
  (``paddle.Model.fit``), :func:`record_checkpoints`, :func:`load_dynamics`, :func:`merge_recordings`
  (data-parallel training: one recording per rank, joined afterwards)
* :mod:`.data_map` - confidence / variability / correctness (Swayamdipta et al. 2020)
* :mod:`.forgetting` - forgetting events (Toneva et al. 2019)
* :mod:`.aum` - area under the margin (Pleiss et al. 2020), with the threshold-sample cut-off
* :mod:`.bhdf` - the learned LSTM detector (Jia et al. 2022)
* :mod:`.tidy` - one combined suspicion ranking
* :mod:`.sgd_noise` - GD vs SGD vs Bernoulli-masked GD
"""
from .aum import ThresholdSamples, aum, aum_threshold_samples, aum_with_threshold, load_threshold_samples
from .bhdf import BHDFDetector, bhdf
from .data_map import data_map, data_map_statistics
from .forgetting import count_forgetting_events, forgetting_events
from .recorder import (RecordingBatchSampler, TrainingDynamics, TrainingDynamicsCallback, TrainingDynamicsRecorder,
                       load_dynamics, merge_recordings, rank_folder, record_checkpoints)
from .result import TrainingDataResult, load_training_data_result
from .sgd_noise import SGDNoiseResult, sgd_noise
from .tidy import tidy

METHODS = {"data_map": data_map, "forgetting": forgetting_events, "aum": aum, "bhdf": bhdf, "tidy": tidy}

__all__ = ["TrainingDynamicsRecorder", "TrainingDynamicsCallback", "TrainingDynamics", "RecordingBatchSampler",
           "record_checkpoints", "load_dynamics", "rank_folder", "merge_recordings", "data_map", "data_map_statistics", "forgetting_events",
           "count_forgetting_events", "aum", "aum_threshold_samples", "aum_with_threshold", "ThresholdSamples",
           "load_threshold_samples", "bhdf", "BHDFDetector", "tidy", "sgd_noise", "SGDNoiseResult",
           "TrainingDataResult", "load_training_data_result", "METHODS"]
