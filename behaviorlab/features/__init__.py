"""Features: per-frame features, window summaries, wavelet spectrograms and the session feature chain."""
