"""The helpers behind the Explore and Clusters pages: chart selections and frames (ui.frames),
cluster members and latent paths (core.explore)."""

import numpy as np
import pandas as pd
import pytest

from core import explore
from ui import frames


def _event(points):
    return {"selection": {"points": points, "point_indices": [p.get("point_index", 0) for p in points]}}


def test_selection_maps_through_customdata_not_per_trace_indices():
    # Colouring by language splits the points into two traces; plotly numbers points per trace,
    # so both selected points have point_index 0. Only customdata tells them apart.
    event = _event([
        {"curve_number": 0, "point_index": 0, "customdata": ["eng:rock-01"]},
        {"curve_number": 1, "point_index": 0, "customdata": ["bng:baul-07"]},
    ])
    assert frames.selected_track_ids(event) == ["eng:rock-01", "bng:baul-07"]


def test_selection_handles_scalar_customdata_duplicates_and_empty_events():
    event = _event([{"customdata": "a"}, {"customdata": ["b", 3]}, {"customdata": ["a"]}, {"x": 1}])
    assert frames.selected_track_ids(event) == ["a", "b"]
    assert frames.selected_track_ids(None) == []
    assert frames.selected_track_ids({"selection": {"points": []}}) == []


def test_scatter_frame_aligns_metadata_with_points_by_track_id():
    tracks = pd.DataFrame({"track_id": ["t1", "t2", "t3"], "genre": ["rock", "jazz", "baul"],
                           "language": ["eng", "eng", "bng"], "path": ["", "", ""], "lyrics": ["", "", ""]})
    frame = frames.scatter_frame(["t3", "t1"], np.array([[0.0, 1.0], [2.0, 3.0]]), tracks,
                                  clusters=np.array([-1, 4]))
    assert frame["track_id"].tolist() == ["t3", "t1"]
    assert frame["genre"].tolist() == ["baul", "rock"]
    assert frame["cluster"].tolist() == ["noise", "c4"]
    assert "lyrics" not in frame and "path" not in frame
    with pytest.raises(ValueError):
        frames.scatter_frame(["t1"], np.zeros((2, 2)), tracks)


def test_cluster_members_nearest_the_centre_come_first():
    Z = np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0], [0.2, 0.0], [50.0, 50.0]])
    labels = np.array([0, 0, 0, 0, 1])
    # cluster 0 mean is (2.8, 0): nearest are 1.0, then 0.2, then 0.0, then 10
    assert explore.cluster_members(Z, labels, 0, n=3).tolist() == [2, 3, 0]
    random_pick = explore.cluster_members(Z, labels, 0, n=2, how="random", random_state=1)
    assert set(random_pick) <= {0, 1, 2, 3} and len(random_pick) == 2
    assert explore.cluster_members(Z, labels, 7).size == 0


def test_traverse_and_interpolate():
    z = np.array([0.5, -1.0, 2.0])
    path = explore.traverse(z, dim=1, values=[-2, 0, 2])
    assert path.shape == (3, 3)
    assert path[:, 1].tolist() == [-2, 0, 2] and (path[:, [0, 2]] == [0.5, 2.0]).all()
    line = explore.interpolate(np.zeros(2), np.ones(2), steps=5)
    assert line[0].tolist() == [0, 0] and line[-1].tolist() == [1, 1] and line[2].tolist() == [0.5, 0.5]


def test_assignments_csv_puts_ids_and_clusters_first():
    frame = pd.DataFrame({"x": [1.0], "y": [2.0], "genre": ["rock"], "cluster": ["c0"], "track_id": ["t"]})
    header = frames.assignments_csv(frame).decode().splitlines()[0].split(",")
    assert header[:3] == ["track_id", "cluster", "genre"]
