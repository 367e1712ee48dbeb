"""deepwave elastic backend: numerical reciprocity on a tiny grid, CFL and dispersion checks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from quakesense.core.errors import InputError
from quakesense.locate.elastic3d import (
    CHANNELS,
    STENCIL,
    FDGrid,
    check_discretisation,
    gaussian_force,
    run_forces,
    strain_from_stencil,
)

TIME_STEP_S = 0.02
N_STEPS = 160


def _grid() -> FDGrid:
    nz, ny, nx = 13, 14, 14
    vp = np.full((nz, ny, nx), 4500.0) + np.linspace(0.0, 1000.0, nz)[:, None, None]
    vs, rho = vp / 1.75, np.full_like(vp, 2500.0)
    for values in (vp, vs, rho):
        values[:2] = 0.0  # vacuum layer: the free surface
    axis = np.arange(14) * 0.25
    return FDGrid(axis[:nz], axis, axis, vp, vs, rho, 250.0, n_vacuum=2)


def _force() -> np.ndarray:
    return gaussian_force(N_STEPS, TIME_STEP_S, 2.0)[0][None, None] * 1e9


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@pytest.fixture(scope="module")
def grid() -> Iterator[FDGrid]:
    import torch

    pytest.importorskip("deepwave")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield _grid()
    torch.set_num_threads(threads)


def test_force_reciprocity(grid: FDGrid) -> None:
    source, station = np.array([[8, 5, 6]]), np.array([[2, 10, 9]])
    forward = run_forces(grid, "x", source, station, _force(), TIME_STEP_S, 5, 4, "cpu", 2.0)
    reverse = run_forces(grid, "z", station, source, _force(), TIME_STEP_S, 5, 4, "cpu", 2.0)
    a, b = forward["z"][0, 0], reverse["x"][0, 0]
    assert np.abs(a).max() > 0
    assert _correlation(a, b) > 0.99
    assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=0.01)


def test_explosion_matches_reciprocal_strain(grid: FDGrid) -> None:
    """Forward isotropic source vs the reciprocal strain trace (the backend's contraction path)."""
    import deepwave
    import torch

    hypocentre, station = np.array([8, 6, 7]), np.array([[2, 10, 10]])
    tensors = [
        torch.as_tensor(a, dtype=torch.float32) for a in (grid.vp_m_s, grid.vs_m_s, grid.rho_kg_m3)
    ]
    boundary, pml_width = deepwave.boundaries(3, top="rigid", width=5)
    forward = deepwave.elastic(
        *deepwave.vpvsrho_to_lambmubuoyancy(*tensors),
        grid.spacing_m,
        TIME_STEP_S,
        boundary=boundary,
        pml_width=pml_width,
        pml_freq=2.0,
        source_amplitudes_pressure_rate=torch.as_tensor(_force(), dtype=torch.float32),
        source_locations_pressure_rate=torch.as_tensor(hypocentre[None, None]),
        receiver_locations_z=torch.as_tensor(station[None]),
    ).receiver_amplitudes_z.numpy()[0, 0]
    recorded = run_forces(
        grid, "z", station, hypocentre + STENCIL, _force(), TIME_STEP_S, 5, 4, "cpu", 2.0
    )
    displacement = {c: np.cumsum(recorded[c][0], axis=-1) * TIME_STEP_S for c in CHANNELS}
    trace = np.trace(strain_from_stencil(displacement, grid.spacing_m), axis1=0, axis2=1)
    # deepwave applies pressure sources half a step after force sources: delay the reciprocal.
    frequency = np.fft.rfftfreq(2 * N_STEPS, TIME_STEP_S)
    delayed = np.fft.irfft(
        np.fft.rfft(trace, 2 * N_STEPS) * np.exp(-1j * np.pi * frequency * TIME_STEP_S),
        2 * N_STEPS,
    )[:N_STEPS]
    assert _correlation(forward, delayed) > 0.99


def test_unstable_time_step_is_named() -> None:
    with pytest.raises(InputError, match=r"elastic.time_step_s.*unstable"):
        check_discretisation(_grid(), 0.05, 4, 1.0, 0.1)


def test_too_coarse_grid_is_named() -> None:
    with pytest.raises(InputError, match=r"elastic.spacing_km.*too coarse"):
        check_discretisation(_grid(), 0.02, 4, 5.0, 0.1)


def test_sampling_must_be_a_multiple_of_the_step() -> None:
    with pytest.raises(InputError, match="whole multiple"):
        check_discretisation(_grid(), 0.015, 4, 1.0, 0.1)
    assert check_discretisation(_grid(), 0.02, 4, 1.0, 0.1) == 5


@pytest.mark.parametrize(("channel", "minimum"), [("z", 0.99), ("x", 0.99)])
def test_double_couple_matches_reciprocal_contraction(
    grid: FDGrid, channel: str, minimum: float
) -> None:
    """A forward double couple (two force couples, M_xy = M_yx) vs the reciprocal strain path."""
    import deepwave
    import torch

    hypocentre, station = np.array([8, 6, 7]), np.array([[2, 11, 9]])
    tensors = [
        torch.as_tensor(a, dtype=torch.float32) for a in (grid.vp_m_s, grid.vs_m_s, grid.rho_kg_m3)
    ]
    boundary, pml_width = deepwave.boundaries(3, top="rigid", width=5)
    force = torch.as_tensor(_force(), dtype=torch.float32)
    couple = torch.cat([force, -force], dim=1)
    y_step, x_step = np.array([0, 1, 0]), np.array([0, 0, 1])
    forward = deepwave.elastic(
        *deepwave.vpvsrho_to_lambmubuoyancy(*tensors),
        grid.spacing_m,
        TIME_STEP_S,
        boundary=boundary,
        pml_width=pml_width,
        pml_freq=2.0,
        source_amplitudes_x=couple,
        source_locations_x=torch.as_tensor(np.array([[hypocentre + y_step, hypocentre - y_step]])),
        source_amplitudes_y=couple,
        source_locations_y=torch.as_tensor(np.array([[hypocentre + x_step, hypocentre - x_step]])),
        **{f"receiver_locations_{channel}": torch.as_tensor(station[None])},
    )
    observed = getattr(forward, f"receiver_amplitudes_{channel}").numpy()[0, 0]
    recorded = run_forces(
        grid, channel, station, hypocentre + STENCIL, _force(), TIME_STEP_S, 5, 4, "cpu", 2.0
    )
    displacement = {c: np.cumsum(recorded[c][0], axis=-1) * TIME_STEP_S for c in CHANNELS}
    strain = strain_from_stencil(displacement, grid.spacing_m)
    contraction = strain[1, 2] + strain[2, 1]  # M_yx = M_xy = 1
    # The forward run records velocity, the reciprocal path gives displacement: differentiate.
    assert _correlation(observed, np.gradient(contraction)) > minimum
