"""The `elastic3d` backend: deepwave 3-D elastic finite differences with reciprocity.

By reciprocity, the n-component displacement at station s from a moment tensor M at x is
`u_n(s, t) = M_pq d_q G_pn(x, s; t) * m(t)`, where G_pn(x, s) is the p-displacement at x from a
unit force along n at the station. So three force simulations per station (n = z, y, x) give,
recorded around every hypocentre node, the strain Green's tensors eps_pq = sym(d_q G_pn); any
number of events at those nodes then costs one tensor contraction and a convolution with the
event's moment-rate function each. The cost grows with stations, not events.

Implementation notes (deepwave 0.1.0 has 3-D elastic propagation; it records particle velocity,
not strain): each velocity component is recorded at the 10 cells of its strain stencil around
each hypocentre cell (`strain_receivers`), differenced to strain rate consistently with the
staggered grid (`strain_rate`) and integrated in time to strain, all in torch on the run's
device; the three force directions of a station are three shots of one deepwave call. The
force time function is a Gaussian; it is removed by a regularised (Wiener) deconvolution
combined with the causal Butterworth high-cut, so the stored Green's tensors are band-limited
impulse responses. The free surface is a vacuum layer above the
model top (deepwave's improved vacuum method; vacuum cells could also carry topography, which is
not wired here), the other faces are PMLs. The model is elastic (no Q) and its surface is flat:
station elevations are not represented in this backend. The time step is checked against the
CFL limit and the grid against dispersion (cells per shortest S wavelength) before anything runs.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from quakesense.core.errors import InputError
from quakesense.locate.seismograms import (
    Events,
    WaveParameters,
    brune_corner_frequency_hz,
    highcut_response,
    moment_from_mw,
    moment_tensors,
    noise,
)
from quakesense.locate.velocity import GridModel, density_g_cm3

# Sum of |coefficients| of the staggered first-derivative stencils (orders 2 and 4): the CFL
# limit of the velocity-stress scheme in 3-D is dt <= h / (vp_max * sqrt(3) * sum).
STENCIL_SUM = {2: 1.0, 4: 9.0 / 8.0 + 1.0 / 24.0}
MIN_POINTS_PER_WAVELENGTH = 5.0
FORCE_N = 1e12
CHANNELS = ("z", "y", "x")
VACUUM_CELLS = 2
PROCESS_BYTES = 2**30
"""Working memory (bytes) of the on-device strain processing of one deepwave call."""


@dataclass
class FDGrid:
    """The finite-difference grid: deepwave axis order (z down, y north, x east), SI units."""

    z_km: np.ndarray
    y_km: np.ndarray
    x_km: np.ndarray
    vp_m_s: np.ndarray
    vs_m_s: np.ndarray
    rho_kg_m3: np.ndarray
    spacing_m: float
    n_vacuum: int = 0

    def cell(self, x_km: np.ndarray, y_km: np.ndarray, z_km: np.ndarray) -> np.ndarray:
        """Nearest cell indices (n, 3) in (z, y, x) order."""
        index = [
            np.clip(
                np.rint((np.asarray(v, float) - axis[0]) / (axis[1] - axis[0])), 0, len(axis) - 1
            )
            for axis, v in ((self.z_km, z_km), (self.y_km, y_km), (self.x_km, x_km))
        ]
        return np.stack(index, axis=-1).astype(np.int64)


def fd_grid(model: GridModel, spacing_km: float) -> FDGrid:
    """Resample the velocity model onto a cubic FD grid of `spacing_km` (trilinear).

    `VACUUM_CELLS` rows of vacuum (zero velocities and density) are put above the model top:
    deepwave's elastic propagator makes the free surface from them.
    """
    axes = []
    for axis in (model.z_km, model.y_km, model.x_km):
        n = int(np.floor((axis[-1] - axis[0]) / spacing_km + 1e-9)) + 1
        if n < 5:
            raise InputError(
                f"grid spacing {spacing_km} km leaves fewer than 5 cells along an axis",
                field="elastic.spacing_km",
            )
        axes.append(axis[0] + np.arange(n) * spacing_km)
    gz, gy, gx = np.meshgrid(*axes, indexing="ij")
    vp = model.sample("P", gx, gy, gz) * 1000.0
    vs = model.sample("S", gx, gy, gz) * 1000.0
    rho = density_g_cm3(vp / 1000.0) * 1000.0
    pad = ((VACUUM_CELLS, 0), (0, 0), (0, 0))
    z_km = axes[0][0] + np.arange(-VACUUM_CELLS, len(axes[0])) * spacing_km
    return FDGrid(
        z_km,
        axes[1],
        axes[2],
        np.pad(vp, pad),
        np.pad(vs, pad),
        np.pad(rho, pad),
        spacing_km * 1000.0,
        VACUUM_CELLS,
    )


def check_discretisation(
    grid: FDGrid, time_step_s: float, accuracy: int, highcut_hz: float, sampling_interval_s: float
) -> int:
    """Raise `InputError` for an unstable step or a too coarse grid; return output decimation."""
    limit_s = grid.spacing_m / (grid.vp_m_s.max() * np.sqrt(3.0) * STENCIL_SUM[accuracy])
    if time_step_s > limit_s:
        raise InputError(
            f"time step {time_step_s} s is unstable (CFL limit {limit_s:.4f} s for "
            f"vp_max {grid.vp_m_s.max():.0f} m/s, spacing {grid.spacing_m:.0f} m, "
            f"accuracy {accuracy}); reduce it",
            field="elastic.time_step_s",
        )
    points = grid.vs_m_s[grid.n_vacuum :].min() / highcut_hz / grid.spacing_m
    if points < MIN_POINTS_PER_WAVELENGTH:
        raise InputError(
            f"grid too coarse: {points:.1f} cells per shortest S wavelength at the "
            f"{highcut_hz} Hz high-cut (need >= {MIN_POINTS_PER_WAVELENGTH:.0f}); reduce "
            "elastic.spacing_km or elastic.highcut_hz",
            field="elastic.spacing_km",
        )
    ratio = sampling_interval_s / time_step_s
    if abs(ratio - round(ratio)) > 1e-6:
        raise InputError(
            f"sampling interval {sampling_interval_s} s must be a whole multiple of the "
            f"time step {time_step_s} s",
            field="elastic.time_step_s",
        )
    return round(ratio)


def choose_device(device: str) -> str:
    """`cuda` when asked for (or `auto`) and available, else `cpu`."""
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but no CUDA device is present", field="device")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def gaussian_force(n_steps: int, time_step_s: float, highcut_hz: float) -> tuple[np.ndarray, float]:
    """Force time function (Gaussian, half power at the high-cut) and its centre time."""
    sigma_s = np.sqrt(np.log(2.0)) / (np.pi * highcut_hz)
    centre_s = 4.0 * sigma_s
    t = np.arange(n_steps) * time_step_s
    return np.exp(-(((t - centre_s) / sigma_s) ** 2)), centre_s


def run_forces(
    grid: FDGrid,
    force_channel: str | Sequence[str],
    source_cells: np.ndarray,
    receiver_cells: np.ndarray | Mapping[str, np.ndarray],
    amplitudes: np.ndarray,
    time_step_s: float,
    pml_cells: int,
    accuracy: int,
    device: str,
    highcut_hz: float,
) -> dict[str, torch.Tensor]:
    """One deepwave run: shot i is a force at `source_cells[i]`.

    Args:
        force_channel: The force direction (z, y, x) of every shot, or one per shot: shots of
            other directions get zero amplitude in a channel's source, which adds exactly
            nothing, so the three directions of a station run as three shots of one call.
        receiver_cells: Cells (n, 3) recorded by every velocity channel, or a mapping channel ->
            cells (channels left out are not recorded).
        amplitudes: Force time functions (n_shots, 1, nt), per unit cell volume.

    Returns:
        Each recorded velocity channel, contiguous on `device`: (n_shots, n_receivers, nt).
    """
    import deepwave

    model = [
        torch.as_tensor(a, dtype=torch.float32, device=device)
        for a in (grid.vp_m_s, grid.vs_m_s, grid.rho_kg_m3)
    ]
    lamb, mu, buoyancy = deepwave.vpvsrho_to_lambmubuoyancy(*model)
    # The free surface is the vacuum layer; the face above it is left rigid (no waves reach it).
    boundary, pml_width = deepwave.boundaries(3, top="rigid", width=pml_cells)
    n_shots = len(source_cells)
    shot_channels = np.broadcast_to(np.asarray(force_channel), (n_shots,))
    force = torch.tensor(amplitudes, dtype=torch.float32, device=device)
    locations = torch.as_tensor(source_cells, device=device)[:, None]
    kwargs: dict[str, Any] = {}
    for channel in CHANNELS:
        along = shot_channels == channel
        if along.any():
            weight = torch.as_tensor(along, dtype=torch.float32, device=device)
            kwargs[f"source_amplitudes_{channel}"] = force * weight[:, None, None]
            kwargs[f"source_locations_{channel}"] = locations
    if not isinstance(receiver_cells, Mapping):
        receiver_cells = dict.fromkeys(CHANNELS, receiver_cells)
    for channel, cells in receiver_cells.items():
        kwargs[f"receiver_locations_{channel}"] = torch.as_tensor(cells, device=device)[
            None
        ].expand(n_shots, -1, -1)
    with warnings.catch_warnings():
        # The band is set by us (pml_freq); deepwave's dispersion hint refers to the force pulse's
        # inferred frequency, which we check ourselves against the high-cut.
        warnings.simplefilter("ignore", UserWarning)
        out = deepwave.elastic(
            lamb,
            mu,
            buoyancy,
            grid.spacing_m,
            time_step_s,
            boundary=boundary,
            pml_width=pml_width,
            pml_freq=highcut_hz,
            accuracy=accuracy,
            **kwargs,
        )
    # deepwave may hand back a (nt, shot, receiver) buffer seen as (shot, receiver, nt); one
    # copy here spares every later per-shot product a strided read of all the traces.
    return {c: getattr(out, f"receiver_amplitudes_{c}").contiguous() for c in receiver_cells}


def _strain_stencil() -> tuple[np.ndarray, np.ndarray]:
    """Receiver offsets (3 p, 10, 3) and weights (3 p, 3 q, 10) of d v_p / d x_q times spacing.

    On deepwave's staggered grid component p of cell i sits half a cell along +p from the cell
    centre (where the normal stresses live), so d v_p / d x_p is the one-cell difference
    (i) - (i - e_p) and a shear term d v_p / d x_q averages the central differences along q at
    cells i and i - e_p: both centred on the cell centre. So component p needs 10 cells, never
    i + e_p (where deepwave's staggered p-grid may end).
    """
    unit = np.eye(3, dtype=np.int64)
    offsets = np.zeros((3, 10, 3), dtype=np.int64)
    weights = np.zeros((3, 3, 10))
    for p in range(3):
        rows = [np.zeros(3, dtype=np.int64), -unit[p]]
        weights[p, p, :2] = (1.0, -1.0)
        for q in (q for q in range(3) if q != p):
            weights[p, q, len(rows) : len(rows) + 4] = (0.25, -0.25, 0.25, -0.25)
            rows += [unit[q], -unit[q], unit[q] - unit[p], -unit[q] - unit[p]]
        offsets[p] = rows
    return offsets, weights


STRAIN_OFFSETS, STRAIN_WEIGHTS = _strain_stencil()
STRAIN_PAIRS = np.array([(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)])
"""The six independent strain components (p, q), p <= q, in (z, y, x) order."""
SYMMETRIC_INDEX = np.array([[0, 1, 2], [1, 3, 4], [2, 4, 5]])
"""Position in `STRAIN_PAIRS` of each (p, q) of the full 3 x 3 tensor."""


def strain_receivers(
    hypocentre_cells: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per velocity channel: the unique receiver cells (n, 3) and each stencil's rows (n_hyp, 10).

    Stencils of neighbouring hypocentres overlap; deepwave needs unique receiver cells.
    """
    cells, index = {}, {}
    for p, channel in enumerate(CHANNELS):
        stencils = (hypocentre_cells[:, None, :] + STRAIN_OFFSETS[p][None]).reshape(-1, 3)
        cells[channel], inverse = np.unique(stencils, axis=0, return_inverse=True)
        index[channel] = inverse.reshape(len(hypocentre_cells), -1)
    return cells, index


def strain_operators(
    index: Mapping[str, np.ndarray],
    n_receivers: Mapping[str, int],
    spacing_m: float,
    device: str | torch.device,
) -> dict[str, torch.Tensor]:
    """Per velocity channel, the sparse (CSR) map from its receivers to strain rate.

    Row 6 h + k of each matrix (n_hyp * 6 rows) is the channel's share of strain pair k
    (`STRAIN_PAIRS`) at hypocentre h: eps_pq = (d v_p / d x_q + d v_q / d x_p) / 2, with the
    `STRAIN_WEIGHTS` of each derivative. The strain rate is the sum over channels of matrix
    times velocities: 30 nonzeros per hypocentre, and no copy of the recorded velocities.
    """
    n_hyp = len(index[CHANNELS[0]])
    parts: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {0: [], 1: [], 2: []}
    for k, (p, q) in enumerate(STRAIN_PAIRS):
        for a, b in {(p, q), (q, p)}:
            weights = STRAIN_WEIGHTS[a, b] / spacing_m * (1.0 if p == q else 0.5)
            used = np.flatnonzero(weights)
            rows = np.repeat(np.arange(n_hyp) * 6 + k, len(used))
            cols = index[CHANNELS[a]][:, used].ravel()
            parts[a].append((rows, cols, np.tile(weights[used], n_hyp)))
    operators = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta state"
        for a, channel in enumerate(CHANNELS):
            rows, cols, values = (np.concatenate(v) for v in zip(*parts[a], strict=True))
            operators[channel] = (
                torch.sparse_coo_tensor(
                    torch.as_tensor(np.stack([rows, cols])),
                    torch.as_tensor(values, dtype=torch.float32),
                    (6 * n_hyp, n_receivers[channel]),
                    check_invariants=True,
                )
                .coalesce()
                .to_sparse_csr()
                .to(device)
            )
    return operators


def strain_rate(
    velocity: Mapping[str, torch.Tensor], index: Mapping[str, np.ndarray], spacing_m: float
) -> torch.Tensor:
    """Strain rate (n_shots, n_hyp, 6 `STRAIN_PAIRS`, nt) at the hypocentre cells, on their device.

    Args:
        velocity: Velocity channel c at its receivers (n_shots, n_receivers, nt), from
            `run_forces`.
        index: Each hypocentre's stencil rows into those receivers (n_hyp, 10), from
            `strain_receivers`.
        spacing_m: Grid spacing.
    """
    first = velocity[CHANNELS[0]]
    n_shots, _, n_steps = first.shape
    operators = strain_operators(
        index, {c: v.shape[1] for c, v in velocity.items()}, spacing_m, first.device
    )
    rate = torch.zeros(n_shots, 6 * len(index[CHANNELS[0]]), n_steps, device=first.device)
    for shot in range(n_shots):
        for channel in CHANNELS:
            rate[shot] += operators[channel] @ velocity[channel][shot]
    return rate.reshape(n_shots, -1, 6, n_steps)


def deconvolution_response(n_steps: int, time_step_s: float, highcut_hz: float) -> np.ndarray:
    """Spectrum (n_steps + 1) that turns a response to `gaussian_force` x FORCE_N into Green's.

    A regularised (Wiener, 1 % water level) division by the force spectrum times the causal
    high-cut, per newton, on an FFT of 2 n_steps (no wrap-around).
    """
    force, _ = gaussian_force(n_steps, time_step_s, highcut_hz)
    n_fft = 2 * n_steps
    frequency_hz = np.fft.rfftfreq(n_fft, time_step_s)
    force_spectrum = np.fft.rfft(force, n=n_fft) * time_step_s
    wiener = np.conj(force_spectrum) / (
        np.abs(force_spectrum) ** 2 + (0.01 * np.abs(force_spectrum).max()) ** 2
    )
    return highcut_response(frequency_hz, highcut_hz) * wiener / FORCE_N


def band_limited_strain(
    rate: torch.Tensor, response: torch.Tensor, time_step_s: float, decimation: int
) -> torch.Tensor:
    """Strain impulse response at the output sampling from the strain rate of a force run.

    Velocity is recorded at half steps, so its running sum gives displacement at whole steps
    (midpoint rule); then the force pulse is deconvolved (`deconvolution_response`) and every
    `decimation`-th sample kept (the high-cut is the anti-alias filter).
    """
    n_steps = rate.shape[-1]
    strain = torch.cumsum(rate, dim=-1) * time_step_s
    spectrum = torch.fft.rfft(strain, n=2 * n_steps, dim=-1) * response
    return torch.fft.irfft(spectrum, n=2 * n_steps, dim=-1)[..., :n_steps:decimation]


def hypocentre_chunk(n_shots: int, n_steps: int) -> int:
    """Hypocentres processed at once so that their intermediates stay near `PROCESS_BYTES`."""
    # Per shot, hypocentre and step: 6 strain rates, 6 strains, their complex spectra over
    # 2 n_steps (24) and the inverse FFT (12): about 50 float32 values; 60 leaves a margin.
    return max(1, PROCESS_BYTES // (n_shots * n_steps * 60 * 4))


@dataclass
class PhaseClock:
    """Wall seconds per phase of `strain_green_tensors`, for benchmarks.

    The device is synchronised at each phase boundary, so asynchronous CUDA work is charged to
    the phase that launched it (production runs pass no clock and never synchronise).
    """

    device: str
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the wall time of the `with` body to `seconds[name]`."""
        self._synchronise()
        start = time.perf_counter()
        yield
        self._synchronise()
        self.seconds[name] += time.perf_counter() - start

    def _synchronise(self) -> None:
        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize(self.device)


@contextmanager
def _untimed(name: str) -> Iterator[None]:
    yield


def strain_green_tensors(
    grid: FDGrid,
    station_cells: np.ndarray,
    hypocentre_cells: np.ndarray,
    params: WaveParameters,
    time_step_s: float,
    pml_cells: int,
    accuracy: int,
    device: str,
    highcut_hz: float,
    stations_per_run: int = 4,
    clock: PhaseClock | None = None,
) -> np.ndarray:
    """Strain Green's tensors (n_hyp, n_stations, 3 force [z,y,x], 3, 3, n_samples), float32.

    Band-limited impulse responses per newton, at the output sampling interval. The three force
    directions of `stations_per_run` stations run as the shots of one deepwave call (this bounds
    memory). Each velocity channel is recorded only at the cells its strain stencil needs; the
    differencing, integration and deconvolution run in torch on `device`, a block of
    hypocentres at a time, and only the decimated Green's tensors are copied to the host.
    `clock` (benchmarks) collects the wall time of each phase.
    """
    phase = _untimed if clock is None else clock.phase
    decimation = check_discretisation(
        grid, time_step_s, accuracy, highcut_hz, params.sampling_interval_s
    )
    n_steps = params.n_samples * decimation
    force, _ = gaussian_force(n_steps, time_step_s, highcut_hz)
    response = torch.as_tensor(
        deconvolution_response(n_steps, time_step_s, highcut_hz),
        dtype=torch.complex64,
        device=device,
    )
    receivers, index = strain_receivers(hypocentre_cells)
    n_hyp, n_st = len(hypocentre_cells), len(station_cells)
    green = np.zeros((n_hyp, n_st, 3, 3, 3, params.n_samples), dtype=np.float32)
    for first in range(0, n_st, stations_per_run):
        block = slice(first, min(first + stations_per_run, n_st))
        n_block = block.stop - block.start
        with phase("propagation"):
            velocity = run_forces(
                grid,
                CHANNELS * n_block,
                np.repeat(station_cells[block], len(CHANNELS), axis=0),
                receivers,
                np.broadcast_to(force * FORCE_N / grid.spacing_m**3, (3 * n_block, 1, n_steps)),
                time_step_s,
                pml_cells,
                accuracy,
                device,
                highcut_hz,
            )
        step = hypocentre_chunk(3 * n_block, n_steps)
        for start in range(0, n_hyp, step):
            part = slice(start, min(start + step, n_hyp))
            with phase("strain differencing"):
                rows = {c: i[part] for c, i in index.items()}
                rate = strain_rate(velocity, rows, grid.spacing_m)
            with phase("integration + deconvolution"):
                impulse = band_limited_strain(rate, response, time_step_s, decimation)
            with phase("device -> host copy"):
                impulse = impulse.cpu().numpy()
            with phase("host assembly"):
                # (station, force, hyp, pair, t) -> (hyp, station, force, p, q, t)
                full = impulse.reshape(n_block, 3, *impulse.shape[1:])[:, :, :, SYMMETRIC_INDEX]
                green[part, block] = np.moveaxis(full, 2, 0)
        del velocity
    return green


def contract_events(
    green: np.ndarray, events: Events, vs_km_s: np.ndarray, params: WaveParameters
) -> np.ndarray:
    """Noise-free velocity (n_events, n_stations, 3 [Z, N, E], n_samples) from Green's tensors.

    Args:
        green: Each event's strain Green's tensors (n_events, n_stations, 3, 3, 3, n_samples).
        events: Source parameters (mechanism, Mw, origin time).
        vs_km_s: S velocity at each hypocentre (for the Brune corner frequency).
        params: Sampling and stress drop.
    """
    tensor_eng = moment_tensors(events)
    order = [2, 1, 0]  # (east, north, down) -> deepwave's (z down, y north, x east)
    moment = moment_from_mw(events.magnitude)
    tensor = tensor_eng[:, order][:, :, order] * moment[:, None, None]
    n_fft = 2 * params.n_samples
    frequency_hz = np.fft.rfftfreq(n_fft, params.sampling_interval_s)
    corner_hz = brune_corner_frequency_hz(moment, vs_km_s, params.stress_drop_mpa)
    rate = 1.0 / (1.0 + 1j * frequency_hz[None] / corner_hz[:, None]) ** 2
    shift = np.exp(-2j * np.pi * frequency_hz[None] * events.origin_time_s[:, None])
    # Contract first (linear, sample by sample), then one FFT per trace instead of nine.
    strain = np.einsum("epq,esnpqt->esnt", tensor, green)
    spectrum = np.fft.rfft(strain, n=n_fft, axis=-1) * (rate * shift)[:, None, None]
    motion = np.fft.irfft(spectrum, n=n_fft, axis=-1)[..., : params.n_samples]
    # force channel order (z down, y north, x east) -> (Z up, N, E)
    return np.stack([-motion[:, :, 0], motion[:, :, 1], motion[:, :, 2]], axis=2)


def model_cells(
    grid: FDGrid, station_xyz_km: np.ndarray, events: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Station cells (on the flat free surface), unique hypocentre cells, each event's row.

    Args:
        grid: The FD grid.
        station_xyz_km: Station positions (n, 3: x, y, z).
        events: Table or mapping with x_km, y_km, depth_km.

    Raises:
        InputError: a hypocentre within one cell of the grid edge (or in the vacuum layer).
    """
    station_cells = grid.cell(station_xyz_km[:, 0], station_xyz_km[:, 1], station_xyz_km[:, 2])
    station_cells[:, 0] = grid.n_vacuum  # on the flat free surface at the model top
    cells = grid.cell(events["x_km"], events["y_km"], events["depth_km"])
    shape = np.array(grid.vp_m_s.shape)
    if np.any(cells[:, 0] <= grid.n_vacuum) or np.any(cells < 1) or np.any(cells > shape - 2):
        raise InputError(
            "a hypocentre lies within one cell of the finite-difference grid edge", field="grid"
        )
    unique, row = np.unique(cells, axis=0, return_inverse=True)
    return station_cells, unique, row.ravel()


class ElasticBackend:
    """Reciprocal elastic Green's tensors at the hypocentre cells, contracted per event.

    Args:
        network: Stations and model (`quakesense.locate.simulate.Network`).
        params: Output sampling, noise and source settings.
        settings: `ElasticSettings` (spacing, time step, PML, accuracy, device, high-cut).
        events: The run's events table (x_km, y_km, depth_km), to know the hypocentre cells.
    """

    name = "elastic3d"

    def __init__(self, network: Any, params: WaveParameters, settings: Any, events: Any) -> None:
        self.params = params
        self.settings = settings
        self.device_ = choose_device(settings.device)
        self.grid_ = fd_grid(network.model, settings.spacing_km)
        station_cells, self.cells_, self.event_cell_ = model_cells(
            self.grid_, network.station_xyz_km, events
        )
        self._lookup = {tuple(c): i for i, c in enumerate(self.cells_)}
        start = time.perf_counter()
        self.green_ = strain_green_tensors(
            self.grid_,
            station_cells,
            self.cells_,
            params,
            settings.time_step_s,
            settings.pml_cells,
            settings.accuracy,
            self.device_,
            settings.highcut_hz,
            settings.stations_per_run,
        )
        self.simulation_seconds_ = time.perf_counter() - start

    def synthesize(self, events: Events, rngs: list[np.random.Generator]) -> np.ndarray:
        """Velocity seismograms (n_events, n_stations, 3 [Z, N, E], n_samples), float32."""
        cells = self.grid_.cell(events.x_km, events.y_km, events.depth_km)
        index = np.array([self._lookup[tuple(c)] for c in cells])
        vs_km_s = self.grid_.vs_m_s[tuple(cells.T)] / 1000.0
        waves = contract_events(self.green_[index], events, vs_km_s, self.params)
        n_fft = 2 * self.params.n_samples
        frequency_hz = np.fft.rfftfreq(n_fft, self.params.sampling_interval_s)
        waves += noise(waves.shape[1], self.params, frequency_hz, n_fft, rngs)
        return waves.astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """What the backend did, for dataset.json."""
        return {
            "name": self.name,
            "method": "deepwave 3-D elastic FD, 3 force simulations per station (reciprocity), "
            "strain Green's tensors at hypocentre cells contracted with each moment tensor",
            "grid_shape_zyx": list(self.grid_.vp_m_s.shape),
            "spacing_m": self.grid_.spacing_m,
            "time_step_s": self.settings.time_step_s,
            "highcut_hz": self.settings.highcut_hz,
            "device": self.device_,
            "n_hypocentre_cells": len(self.cells_),
            "simulation_seconds": round(self.simulation_seconds_, 2),
            "limitations": "elastic (no Q), flat free surface at the model top",
        }
