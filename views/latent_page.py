"""Latent: walk one dimension, interpolate between two tracks, see which dimensions carry information."""

import numpy as np
import pandas as pd
import streamlit as st

from core import explore
from core.blocks import column_names, decoded_columns
from core.config import SAMPLE_RATE
from core.corpus import FEATURE_NAMES
from core.errors import BadInputError
from core.information import MAX_ROWS as INFORMATION_ROWS
from core.latents import mel_params_of
from core.reconstruction import reconstructs_mel
from ui import caches, figures, scale, state
from ui.listen import play

st.title("Latent space")
corpus, entry = state.active()
specs = state.current_specs()
ids, Z = state.encoded(entry, specs, part="all")  # every dimension, as decoding reads them; stops with a clear message when the checkpoint cannot load or encode
model = state.loaded_model(entry)
found = model.latent_blocks()

kl = getattr(model, "kl_per_dim_", None)
if kl is not None and len(kl):
    st.plotly_chart(figures.kl_bars(kl, title="KL per latent dimension (validation)",
                                    names=column_names(found)), key="latent_kl")
    used = int((np.asarray(kl) > 0.01).sum())
    t_steps = getattr(getattr(model, "module_", None), "t_steps", 0)  # > 0: the network has a temporal latent
    steps = (f" Each temporal channel is a sequence, {t_steps} steps per crop: its KL is summed over "
             "them." if t_steps else "")
    st.caption(f"{used} of {len(kl)} dimensions carry information (KL > 0.01 nats). A larger β switches more "
               "dimensions off and spreads the factors of variation over fewer of them: the Beta-VAE story." + steps)
else:
    st.caption(f"The {model.name} model has no KL term (not a VAE).")


def what_each_dimension_knows() -> None:
    """Mutual information between every latent dimension and every label column, and the gap per label."""
    st.subheader("Which dimensions know what")
    table, gaps, by_block = caches.latent_information(str(entry.path), entry.stamp, specs)
    if table.empty:
        st.caption("This corpus has no label column with two classes or more, so there is nothing to measure "
                   "the dimensions against.")
        return
    st.plotly_chart(figures.information_heatmap(table, blocks=found), key="latent_information")
    summary = pd.DataFrame({"best dimension": table.idxmax(), "its share": table.max(), "gap to the next (MIG)": gaps})
    if len(by_block) > 1:
        summary = summary.join(by_block.T.add_prefix("best in "))
    st.dataframe(summary.style.format(precision=3), key="latent_information_table")
    sampled = (f" Estimated on a fixed uniform random sample of {INFORMATION_ROWS:,} of the {len(ids):,} tracks "
               "(seed 0): the estimator's cost grows with the tracks, its precision hardly." if len(ids) > INFORMATION_ROWS
               else "")
    st.caption("Each cell: the share of a label's entropy that one dimension alone carries, I(z; label) / H(label), "
               "estimated with nearest neighbours (values under about 0.03 are noise at a few hundred tracks). "
               "The gap (MIG) is high when one dimension holds a label alone, a factorised code; near 0 when the "
               "label is spread over many dimensions or held by none. Labels are used only for this measure, "
               "never in training." + sampled)


def reconstruction_quality() -> None:
    """Self-retrieval, the onset-envelope correlation, the frame-to-frame change and the RMS dB distances of the
    model's reconstructions of the corpus."""
    st.subheader("Reconstruction quality")
    if not reconstructs_mel(model):
        st.caption(f"The {model.name} model does not reconstruct a mel spectrogram (it reads "
                   f"{', '.join(sorted(model.needs))}), so there is no spectrogram reconstruction to measure.")
        return
    try:
        q = caches.reconstruction_quality(str(entry.path), entry.stamp, specs)
    except BadInputError as exc:
        st.caption(f"Reconstruction quality cannot be measured on this corpus: {exc}")
        return
    c = st.columns(3)
    c[0].metric("self-retrieval", f"{q['self_retrieval']:.1%}",
                help="share of tracks whose reconstruction is nearer to their own spectrogram than to any other")
    c[1].metric("onset-envelope correlation", f"{q['onset_r']:.3f}",
                help="Pearson r between the onsets (positive spectral flux per frame) of each track and of its "
                     "reconstruction, mean over tracks: 1 = the same rhythm, 0 = none in common")
    c[2].metric("frame-to-frame change", f"{q['frame_change_ratio']:.2f}×",
                help=f"how much the reconstruction changes between adjacent frames ({q['frame_change_db']:.2f} dB "
                     f"on average) over how much the original does ({q['frame_change_original_db']:.2f} dB): "
                     "1× = as lively as the original, near 0 = it stands still")
    c = st.columns(3)
    c[0].metric("chance", f"{q['chance']:.1%}", help="1 / number of tracks")
    c[1].metric("track → reconstruction", f"{q['dist_recon_db']:.2f} dB", help="RMS difference, mean over tracks")
    c[2].metric("track → corpus mean", f"{q['dist_corpus_mean_db']:.2f} dB",
                help="RMS difference between each track and the corpus-mean spectrogram")
    measured = (f"On a fixed uniform random sample of {q['n']:,} of the {q['of']:,} tracks of this corpus (seed 0)"
                if q.get("of", q["n"]) > q["n"] else f"On the {q['n']} tracks of this corpus")
    st.caption(f"{measured}: a reconstruction that is no nearer to its track than the "
               "corpus-mean spectrogram, or self-retrieval near chance, means the model gives every track the "
               "same smooth envelope. Self-retrieval and the distances read the timbre; the onset correlation "
               "and the frame-to-frame change read time: near 0, the reconstruction keeps no rhythm or notes. "
               "Log-mel in dB of the excerpt each model rebuilds; labels play no part.")


what_each_dimension_knows()
reconstruction_quality()

if not hasattr(model, "decode"):
    st.info(f"The {model.name} model cannot decode a latent point. Choose a VAE checkpoint in the sidebar.")
    st.stop()


def show(z: np.ndarray, key: str) -> None:
    decoded, audio = caches.decoded(str(entry.path), entry.stamp, specs, tuple(float(v) for v in z))
    if audio is not None:
        st.plotly_chart(figures.spectrogram(decoded, title="decoded log-mel", params=mel_params_of(model)),
                        key=f"{key}_mel", theme=None)
        play(audio, SAMPLE_RATE)
    else:
        st.bar_chart(pd.Series(decoded, index=FEATURE_NAMES), height=240)


# label -> track id (a fixed sample above scale.CHOICES_MAX), made once per checkpoint and corpus
by_label, choices_note = caches.track_choices(str(entry.path), entry.stamp, specs, "all")
labels = list(by_label)
position = caches.track_rows(str(entry.path), entry.stamp, specs, "all")  # track id -> row, hashed once
if choices_note:
    st.info(choices_note, icon=":material/grain:")


def track_box(container, label: str, *, key: str, index: int = 0) -> str:
    """A track box: a listed track, or (large corpora) any track id typed in; the first listed otherwise."""
    value = container.selectbox(label, labels, index=index, key=key, accept_new_options=bool(choices_note),
                                help="Type a track id to choose a track that is not listed." if choices_note else None)
    track = scale.chosen_track(value, by_label, position)
    if track is None:
        container.warning(f"No track {value!r} in this corpus: showing {labels[index]}.")
        track = by_label[labels[index]]
    return track


traverse_tab, interpolate_tab = st.tabs(["Traverse a dimension", "Interpolate between two tracks"])
with traverse_tab:
    c1, c2 = st.columns([3, 1])
    start = track_box(c1, "Start from track", key="trav_track")
    order = np.argsort(-np.asarray(kl)) if kl is not None and len(kl) else np.arange(Z.shape[1])
    decoded = set(decoded_columns(found, Z.shape[1]))
    held = (" The temporal channels are not listed: a point decodes with its sequence held still, so they change "
            "nothing heard." if len(decoded) < Z.shape[1] else "")
    dim = c2.selectbox("Dimension", [int(d) for d in order if d in decoded], format_func=lambda d: f"z{d}",
                       key="trav_dim", help="Sorted by KL: the most informative dimension first." + held)
    z0 = Z[position.get_loc(start)]
    lo, hi = float(Z[:, dim].min()), float(Z[:, dim].max())
    pad = 0.5 * (hi - lo + 1e-6)
    value = st.slider(f"z{dim}", round(lo - pad, 2), round(hi + pad, 2), round(float(z0[dim]), 2), key="trav_value",
                      help="The other dimensions stay at the start track's values.")
    show(explore.traverse(z0, dim=dim, values=[value])[0], "trav")

with interpolate_tab:
    c1, c2 = st.columns(2)
    a = track_box(c1, "Track A", key="interp_a")
    b = track_box(c2, "Track B", key="interp_b", index=min(len(labels) - 1, len(labels) // 2))
    t = st.slider("A → B", 0.0, 1.0, 0.5, 0.1, key="interp_t")
    path = explore.interpolate(Z[position.get_loc(a)], Z[position.get_loc(b)], steps=11)
    show(path[int(round(t * 10))], "interp")
