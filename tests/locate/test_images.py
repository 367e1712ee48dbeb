"""Snapshot images: interpolation matrices reproduce constants, hit stations, one-matmul images."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.locate.images import build_interpolation_matrix, pixel_axes, snapshots

RNG = np.random.default_rng(3)
SX, SY = RNG.uniform(-10, 10, 12), RNG.uniform(-10, 10, 12)


@pytest.mark.parametrize("method", ["idw", "linear", "nearest"])
def test_rows_sum_to_one_and_constant_is_kept(method: str) -> None:
    gx, gy = pixel_axes(-10, 10, -10, 10, 8, 6)
    matrix = build_interpolation_matrix(SX, SY, gx, gy, method=method)
    assert matrix.shape == (48, 12)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(matrix >= -1e-6)


def test_linear_reproduces_a_plane_inside_the_hull() -> None:
    gx, gy = np.array([0.0]), np.array([0.0])
    sx, sy = np.array([-1.0, 1.0, 0.0, 0.0]), np.array([-1.0, -1.0, 2.0, -3.0])
    matrix = build_interpolation_matrix(sx, sy, gx, gy, method="linear")
    plane = 2 * sx - 3 * sy + 1
    assert (matrix @ plane)[0] == pytest.approx(1.0, abs=1e-5)


def test_pixel_on_a_station_takes_its_value() -> None:
    matrix = build_interpolation_matrix(SX, SY, SX[:1], SY[:1], method="idw")
    assert matrix[0, 0] == pytest.approx(1.0)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 7))
def test_snapshots_equal_per_frame_products(n_events: int, n_t: int) -> None:
    gx, gy = pixel_axes(-10, 10, -10, 10, 4, 5)
    matrix = build_interpolation_matrix(SX, SY, gx, gy)
    values = RNG.normal(size=(n_events, 12, n_t)).astype(np.float32)
    images = snapshots(values, matrix, 4, 5)
    assert images.shape == (n_events, n_t, 4, 5)
    expected = (matrix @ values[0, :, -1]).reshape(4, 5)
    np.testing.assert_allclose(images[0, -1], expected, rtol=1e-5, atol=1e-6)


def test_cutout_station_no_longer_contributes() -> None:
    gx, gy = pixel_axes(-10, 10, -10, 10, 4, 4)
    matrix = build_interpolation_matrix(SX, SY, gx, gy, method="idw")
    values = np.ones((12, 1), np.float32)
    values[0] = 0.0
    image = snapshots(values, matrix, 4, 4)[0].ravel()
    np.testing.assert_allclose(image, 1.0 - matrix[:, 0], rtol=1e-5)
    assert image.min() < 1.0


def test_wrong_matrix_shape_is_an_input_error() -> None:
    with pytest.raises(InputError, match="matrix shape"):
        snapshots(np.zeros((5, 3)), np.zeros((16, 4)), 4, 4)
