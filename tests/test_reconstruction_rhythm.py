"""The time-axis measures of reconstructions (core.reconstruction): the onset envelope, its correlation
between a track and its reconstruction, and the frame-to-frame change ratio."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import BadInputError
from core.reconstruction import (
    frame_change_db, frame_change_ratio, onset_envelope, onset_envelope_correlation, reconstruction_measures,
    rhythm_measures,
)


def _beats(n=6, F=12, T=64, seed=0, period=8):
    """Spectrograms (dB): each track its own timbre (a band profile) with a loud attack every ``period``
    frames (each track its own phase), over noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(-60.0, 1.0, size=(n, F, T)) + rng.normal(0.0, 10.0, size=(n, F, 1))
    for i in range(n):
        X[i, :, (i % period)::period] += 30.0
    return X


def test_the_onset_envelope_sums_only_the_rises_over_bands():
    X = np.array([[[0.0, 3.0, 1.0, 4.0],
                   [5.0, 5.0, 7.0, 6.0]]])  # one track, two bands, four frames
    # band 1 rises 3, falls 2, rises 3; band 2 stays, rises 2, falls 1: falls count as nothing
    np.testing.assert_allclose(onset_envelope(spectrogram=X), [[3.0, 2.0, 3.0]])


def test_values_worked_by_hand():
    orig = np.array([[[0.0, 3.0, 1.0, 4.0]]])   # flux 3, 0, 3; changes 3, 2, 3 dB
    R = np.array([[[0.0, 1.0, 1.0, 2.0]]])   # flux 1, 0, 1; changes 1, 0, 1 dB
    assert onset_envelope_correlation(original=orig, reconstruction=R) == pytest.approx(1.0)
    assert frame_change_db(spectrogram=orig) == pytest.approx(8 / 3)
    assert frame_change_ratio(original=orig, reconstruction=R) == pytest.approx((2 / 3) / (8 / 3))
    m = rhythm_measures(original=orig, reconstruction=R)
    assert (m["frame_change_db"], m["frame_change_original_db"]) == pytest.approx((2 / 3, 8 / 3))


def test_a_perfect_reconstruction_keeps_the_rhythm_and_the_movement():
    orig = _beats()
    assert onset_envelope_correlation(original=orig, reconstruction=orig.copy()) == pytest.approx(1.0)
    assert frame_change_ratio(original=orig, reconstruction=orig.copy()) == pytest.approx(1.0)
    quieter = orig * 0.5  # the same rhythm at half the contrast moves half as much
    assert onset_envelope_correlation(original=orig, reconstruction=quieter) == pytest.approx(1.0)
    assert frame_change_ratio(original=orig, reconstruction=quieter) == pytest.approx(0.5)


def test_a_smear_that_stands_still_scores_zero_though_self_retrieval_is_perfect():
    orig = _beats()
    smear = np.repeat(orig.mean(axis=2, keepdims=True), orig.shape[2], axis=2)  # each track's mean spectrum held
    assert reconstruction_measures(orig, smear)["self_retrieval"] == 1.0  # the timbre measure is fooled
    assert onset_envelope_correlation(original=orig, reconstruction=smear) == 0.0
    assert frame_change_ratio(original=orig, reconstruction=smear) == 0.0


def test_beats_out_of_phase_correlate_below_beats_in_phase():
    orig = _beats(period=8)
    shifted = np.roll(orig, 4, axis=2)  # the same attacks, half a period late
    late = onset_envelope_correlation(original=orig, reconstruction=shifted)
    assert late < 0.2 < onset_envelope_correlation(original=orig, reconstruction=orig + 0.1 * _beats(seed=1))
    # moving as much in the wrong places: the change ratio does not see timing, the correlation does
    assert frame_change_ratio(original=orig, reconstruction=shifted) == pytest.approx(1.0, abs=0.02)  # wrap: 1 pair


def test_tracks_with_nothing_to_follow_are_left_out_and_all_flat_is_nan():
    orig = _beats(n=3)
    orig[1] = -50.0  # a silent-ish track: a flat onset envelope
    R = orig.copy()
    R[1] = np.random.default_rng(2).normal(-50.0, 3.0, R[1].shape)
    assert onset_envelope_correlation(original=orig, reconstruction=R) == pytest.approx(1.0)  # tracks 0 and 2 only
    flat = np.full((2, 4, 10), -30.0)
    assert np.isnan(onset_envelope_correlation(original=flat, reconstruction=_beats(n=2, F=4, T=10)))
    assert np.isnan(frame_change_ratio(original=flat, reconstruction=flat))


@pytest.mark.parametrize("original, reconstruction, message", [
    (np.zeros((2, 4, 8)), np.zeros((2, 4, 7)), "reconstruction.*has shape"),
    (np.zeros((2, 32)), np.zeros((2, 32)), "original.*shape \\(n, n_mels, n_frames\\)"),
    (np.zeros((2, 4, 2)), np.zeros((2, 4, 2)), "at least 3 frames"),
    (np.zeros((2, 4, 8)), np.full((2, 4, 8), np.nan), "reconstruction.*NaN"),
])
def test_shapes_and_values_it_cannot_measure_are_refused_naming_the_array(original, reconstruction, message):
    with pytest.raises(BadInputError, match=message):
        onset_envelope_correlation(original=original, reconstruction=reconstruction)
