"""Data: choose the corpus, extract features, see what is in it, play any track."""

import dataclasses

import pandas as pd
import plotly.express as px
import streamlit as st

from core import workspace
from core.audio import load_audio
from core.config import SAMPLE_RATE
from core.corpus import language_name
from core.corpus.roots import ENV, is_local_address, root_choices
from core.errors import BadInputError, SongscapeError
from core.features.extract import extract
from core.features.mel import CLIP_PARAMS, MelParams, clip_log_mel, log_mel
from core.lyrics import in_bengali_script
from ui import caches, distributed, figures, markdown, real_music, scale, state, tables
from ui.listen import play

st.title("Data")

# --- which corpus ----------------------------------------------------------------------------
specs = state.current_specs()
using_demo = specs == ("demo",)
with st.container(border=True):
    kind = st.radio("Corpus", ["Demo corpus", "My data"], index=0 if using_demo else 1, horizontal=True,
                    help="The demo corpus is synthetic English and Bangla music made on this machine.")
    if kind == "Demo corpus":
        if not using_demo and st.button("Use the demo corpus"):
            st.session_state[state.SPECS] = ("demo",)
            st.rerun()
    else:
        st.markdown(
            "One source per line, `[kind:]PATH[@language]`. Kinds: `gtzan`, `banglabeats`, `merge`, `features`, "
            "`manifest`, `folder` (detected when left out). Several lines combine into one corpus, e.g.\n\n"
            "```\ngtzan:/data/GTZAN@eng\nbanglabeats:/data/BanglaBeats@bng\n```")
        roots = workspace.allowed_roots()
        st.caption("Sources must lie under the data roots: " + ", ".join(f"`{r}`" for r in roots)
                   + f" (set `{ENV}` to change them).")
        if is_local_address(st.get_option("server.address")):
            text = st.text_area("Sources", "\n".join(s for s in specs if s != "demo"), height=110,
                                placeholder="gtzan:/data/GTZAN@eng\nbanglabeats:/data/BanglaBeats@bng")
        else:  # reachable from the network: offer only what lies in the data roots, no free paths
            picked = st.multiselect("Sources (the dashboard is reachable from the network: only the data roots "
                                    "are offered)", root_choices(roots), key="root_sources")
            text = "\n".join(picked)
        if st.button("Load these sources", type="primary"):
            new = tuple(line.strip() for line in text.splitlines() if line.strip())
            try:
                caches.corpus(new)
            except Exception as exc:
                st.error(f"Could not load: {exc}")
            else:
                st.session_state[state.SPECS] = new
                st.rerun()

try:
    corpus = state.current_corpus()
except Exception as exc:
    st.error(f"Could not load the corpus: {exc}")
    st.stop()

# --- what is in it ------------------------------------------------------------------------------
n_lyrics = int((corpus.tracks["lyrics"].str.strip() != "").sum())
m = st.columns(5)
m[0].metric("tracks", len(corpus))
m[1].metric("genres", corpus.tracks["genre"].replace("", pd.NA).nunique())
m[2].metric("languages", corpus.tracks["language"].replace("", pd.NA).nunique())
m[3].metric("with lyrics", n_lyrics)
m[4].metric("skipped files", len(corpus.skipped))

counts = corpus.counts()
counts["language"] = [f"{language_name(t)} ({t})" if t else "unknown" for t in counts["language"]]
st.plotly_chart(px.bar(counts, x="genre", y="tracks", color="language", barmode="group", height=300,
                       title="Tracks by genre and language"), key="counts")
if corpus.skipped:
    with st.expander(f"{len(corpus.skipped)} skipped files and why", expanded=False):
        st.dataframe(pd.DataFrame([{"file": s.path, "reason": s.reason} for s in corpus.skipped]),
                     hide_index=True, width="stretch")

real_music.offer(corpus, key="data")  # a collection of one's own: the real-music model, no training

# --- features -------------------------------------------------------------------------------------
with st.container(border=True):
    st.markdown("**Features** — cached on disk by file content; a second run is near-instant.")
    cluster = distributed.cluster_setting()
    if st.button("Extract features (57-value vector and log-mel)", disabled=not corpus.has_audio and corpus.features57 is not None):
        for kind_ in ("gtzan57", "mel"):
            if kind_ == "mel" and not corpus.has_audio:
                continue
            bar = st.progress(0.0, text=kind_)
            try:
                fs = extract(corpus, kind=kind_, cluster=cluster,
                             progress=lambda d, t, msg="", k=kind_: bar.progress(d / max(t, 1), text=f"{k}: {d}/{t}"))
            except SongscapeError as exc:  # an unreachable cluster, a cache that cannot be written...
                bar.empty()
                st.error(f"Features not extracted: {markdown.plain(exc)}")
                break
            bar.progress(1.0, text=f"{kind_}: {len(fs.track_ids)} tracks, {len(fs.skipped)} skipped")
            for s in fs.skipped:
                st.caption(f"skipped {s}")
    distributed.encode_button(corpus, state.current_checkpoint(), cluster)
    if not corpus.has_audio:
        st.caption("This corpus is a feature table: it has no audio, so only the Basic VAE, PCA, the autoencoder "
                   "and the raw features apply.")

# --- tracks -----------------------------------------------------------------------------------------
st.subheader("Tracks")
listed = scale.table_rows(len(corpus))  # above scale.TABLE_MAX tracks, a fixed sample of the rows
shown = corpus.tracks.drop(columns=["path"])
if listed is not None:
    shown = shown.iloc[listed]
    st.info(f"The table lists a fixed sample of {len(shown):,} of the {len(corpus):,} tracks (every row is sent to "
            "the browser on every run); the download has all of them, and the box below plays any track.",
            icon=":material/grain:")
shown = shown.assign(lyrics=shown["lyrics"].str.slice(0, 60))
event = st.dataframe(shown, hide_index=True, width="stretch", height=300, on_select="rerun",
                     selection_mode=["single-row", "single-cell"], key="tracks_table")
st.download_button("Download the track table (CSV)", lambda: corpus.tracks.to_csv(index=False).encode("utf-8"),
                   "tracks.csv", "text/csv", on_click="ignore")  # made on click: a million rows are ~1 GB
rows = tables.picked_rows(event)  # a click on any cell of a row, or its row marker
clicked = str(shown["track_id"].iloc[rows[0]]) if rows else None
if clicked != st.session_state.get("data_clicked"):  # a new row click chooses the track; the box follows it
    st.session_state["data_clicked"] = clicked
    if clicked is not None:
        st.session_state["data_track"] = clicked
all_ids = corpus.tracks["track_id"]
box_ids = all_ids.tolist() if listed is None else shown["track_id"].tolist()  # a large corpus: the table's sample
chosen = st.selectbox("Track", box_ids, index=None, key="data_track", accept_new_options=listed is not None,
                      placeholder="Select a row above, or choose a track here, to play it and see its mel spectrogram"
                      + (" (or type any track id)" if listed is not None else ""))
if chosen is None:
    st.stop()
is_chosen = (all_ids == chosen).to_numpy()
if listed is not None and not is_chosen.any():
    st.warning(f"No track {chosen!r} in this corpus.")
    st.stop()
track = corpus.tracks.loc[is_chosen].iloc[0]
st.markdown(f"**{track.track_id}** · {track.genre} · {language_name(track.language) if track.language else ''}")
if not track.path:
    st.caption("No audio for this track (feature table).")
    st.stop()
try:
    y = load_audio(track.path, sr=SAMPLE_RATE)
except BadInputError as exc:
    st.error(str(exc))
    st.stop()
#: Said under Bangla text: the dashboard serves no font, and a browser without a Bengali one draws boxes.
BENGALI_FONT_NOTE = ("Bangla shown as boxes? This browser has no Bengali font: install Noto Sans Bengali "
                     "(Debian and Ubuntu: `sudo apt-get install fonts-noto-core`; Windows, macOS, Android and "
                     "iOS include a Bengali font), then reload the page.")
#: The two log-mels of the project (MelParams.reference): what the spectrogram VAEs read, and the
#: peak-normalised centre window of the 57-feature era (PCA / autoencoder on mel).
MEL_VIEWS = {"power": "whole clip · dB re. full scale (ConvVAE, Beta-VAE)",
             "peak": "centre 5.9 s · dB re. its loudest bin (PCA / AE on mel)"}
left, right = st.columns(2)
with left:
    play(y, SAMPLE_RATE)
    if track.lyrics.strip():
        st.text(track.lyrics)
        if in_bengali_script(track.lyrics):
            st.caption(BENGALI_FONT_NOTE)
    else:
        st.caption("instrumental (no lyrics)")
with right:
    reference = st.radio("Spectrogram", list(MEL_VIEWS), format_func=MEL_VIEWS.get, horizontal=True,
                         key="data_mel_reference")
    if reference == "power":
        params = dataclasses.replace(CLIP_PARAMS, sr=SAMPLE_RATE)
        mel = clip_log_mel(y=y, params=params)
    else:
        params = MelParams(sr=SAMPLE_RATE)
        mel = log_mel(y=y, params=params)
    st.plotly_chart(figures.spectrogram(mel, params=params, title=f"log-mel ({mel.shape[0]} bands × "
                                        f"{mel.shape[1]} frames, {mel.shape[1] * params.hop_length / params.sr:.1f} s)"),
                    key="track_mel", theme=None)
