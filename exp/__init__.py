"""Issue 9 research: spectrogram VAEs that learn music from real recordings.

Self-contained experiment package (numpy + torch only at training time, so it runs on the
bare GPU machine). ``prep.py`` (needs librosa, runs here) caches whole-clip log-mels;
``model.py`` holds the network and loss to port into core/models; ``train.py`` the loop;
``score.py`` a numpy K-Means / NMI so scores can be computed without sklearn.
"""
