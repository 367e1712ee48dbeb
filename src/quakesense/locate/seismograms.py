"""Three-component velocity seismograms from travel-time tables (the `traveltime` backend).

Each event radiates one P and one S pulse. A pulse is built in the frequency domain for all
events and stations at once: causal Brune moment-rate spectrum (corner frequency from the
stress drop), far-field double-couple radiation pattern, 1/r geometric spreading, an impedance
correction between source and receiver, attenuation exp(-pi f T / Q), a delay as a phase shift
exp(-2 pi i f (t0 + T)) and a causal Butterworth high-cut; one inverse FFT gives the waveform.
Ray directions come from the travel-time gradient at the hypocentre (reciprocity: the table of
station k is the time field of a source at k), so they follow the 3-D model; the incidence
angle at the station follows from the horizontal slowness and the velocity under the station
(Snell's law). Coloured noise with a microseism peak is added per station and component.

This is a ray-theory approximation: no coda, scattering, surface waves or near-field terms. The
`elastic3d` backend (`quakesense.locate.elastic3d`) gives full waveforms at far higher cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quakesense.locate.traveltime import TravelTimeTables
from quakesense.locate.velocity import GridModel, density_g_cm3

COMPONENTS: tuple[str, str, str] = ("Z", "N", "E")


@dataclass(frozen=True)
class WaveParameters:
    """Physical and signal settings of the seismogram synthesis.

    Attributes:
        sampling_interval_s: Time step of the output.
        n_samples: Samples per record.
        stress_drop_mpa: Brune stress drop (sets the corner frequency).
        q_p, q_s: Quality factors.
        free_surface_factor: Amplification at the free surface (2 at vertical incidence).
        highcut_hz: Corner of a causal 4-pole Butterworth low-pass (limits the band, as the
            papers' SEM runs were accurate only to periods of about 5.6 s and longer).
        noise_rms_min_m_s, noise_rms_max_m_s: Range (log-uniform) of each station's noise level;
            zero disables noise.
        microseism_hz: Centre frequency of the microseism peak of the noise spectrum.
        p_site_sigma_log10: Each station's P amplitude in each event is scaled by 10^N(0, this)
            (drawn from the event's generator after its noise); 0 leaves P as the ray theory
            gives it. Real P/S ratios differ from station to station (site response, near-source
            structure); randomising them keeps a network from reading position from them.
    """

    sampling_interval_s: float = 0.1
    n_samples: int = 300
    stress_drop_mpa: float = 3.0
    q_p: float = 200.0
    q_s: float = 100.0
    free_surface_factor: float = 2.0
    highcut_hz: float = 2.0
    noise_rms_min_m_s: float = 2e-7
    noise_rms_max_m_s: float = 2e-6
    microseism_hz: float = 0.2
    p_site_sigma_log10: float = 0.0


@dataclass
class Events:
    """Source parameters of a batch of events (arrays of equal length)."""

    x_km: np.ndarray
    y_km: np.ndarray
    depth_km: np.ndarray
    magnitude: np.ndarray
    strike_deg: np.ndarray
    dip_deg: np.ndarray
    rake_deg: np.ndarray
    origin_time_s: np.ndarray
    velocity_factor: np.ndarray | None = None
    """Per event, the model's velocities times this (domain randomisation); None: all 1."""
    isotropic: np.ndarray | None = None
    """Per event, an isotropic part added to the double couple (`moment_tensors`); None: 0."""

    def __len__(self) -> int:
        return len(self.x_km)


def moment_from_mw(magnitude: np.ndarray) -> np.ndarray:
    """Scalar seismic moment (N m) of moment magnitude Mw (Hanks and Kanamori)."""
    return 10.0 ** (1.5 * np.asarray(magnitude, float) + 9.1)


def brune_corner_frequency_hz(
    moment_n_m: np.ndarray, vs_km_s: np.ndarray, stress_drop_mpa: float
) -> np.ndarray:
    """Brune (1970) corner frequency fc = 0.4906 beta (stress_drop / M0)^(1/3)."""
    beta_m_s = np.asarray(vs_km_s, float) * 1000.0
    return 0.4906 * beta_m_s * (stress_drop_mpa * 1e6 / np.asarray(moment_n_m, float)) ** (1 / 3)


def double_couple(strike_deg: np.ndarray, dip_deg: np.ndarray, rake_deg: np.ndarray) -> np.ndarray:
    """Unit double-couple moment tensors (n, 3, 3) in (east, north, down) coordinates.

    Aki and Richards (2002, Box 4.4) give the tensor in (north, east, down); the two horizontal
    axes are swapped here to match the x-east, y-north, z-down model axes.
    """
    phi, delta, lam = (np.radians(np.asarray(a, float)) for a in (strike_deg, dip_deg, rake_deg))
    sd, cd, s2d, c2d = np.sin(delta), np.cos(delta), np.sin(2 * delta), np.cos(2 * delta)
    sl, cl = np.sin(lam), np.cos(lam)
    m_nn = -(sd * cl * np.sin(2 * phi) + s2d * sl * np.sin(phi) ** 2)
    m_ne = sd * cl * np.cos(2 * phi) + 0.5 * s2d * sl * np.sin(2 * phi)
    m_nd = -(cd * cl * np.cos(phi) + c2d * sl * np.sin(phi))
    m_ee = sd * cl * np.sin(2 * phi) - s2d * sl * np.cos(phi) ** 2
    m_ed = -(cd * cl * np.sin(phi) - c2d * sl * np.cos(phi))
    m_dd = s2d * sl
    return np.stack(
        [
            np.stack([m_ee, m_ne, m_ed], axis=-1),
            np.stack([m_ne, m_nn, m_nd], axis=-1),
            np.stack([m_ed, m_nd, m_dd], axis=-1),
        ],
        axis=-2,
    )


def moment_tensors(events: Events) -> np.ndarray:
    """Unit moment tensors (n, 3, 3), (east, north, down): the double couple plus `isotropic`
    times the identity.

    The identity radiates P alike in every direction and no S, with the amplitude of the
    double couple's strongest P lobe: `isotropic` 1 adds that much P at every station
    (tensile opening or closing of cracks, common in geothermal and mining events, whose P
    stands higher against S than a pure shear source's). The scalar moment stays the double
    couple's.
    """
    tensor = double_couple(events.strike_deg, events.dip_deg, events.rake_deg)
    if events.isotropic is None:
        return tensor
    return tensor + np.asarray(events.isotropic, float)[:, None, None] * np.eye(3)


def _ray_geometry(
    tables: TravelTimeTables, phase: str, source_xyz_km: np.ndarray, step_km: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Travel time (n_e, n_s), takeoff direction (n_e, n_s, 3) and horizontal slowness (s/km).

    The take-off direction is minus the normalised gradient of the station's time field at the
    source (central differences of the trilinear table).
    """
    offsets = np.concatenate([np.zeros((1, 3)), np.eye(3) * step_km, -np.eye(3) * step_km])
    points = source_xyz_km[:, None, :] + offsets[None, :, :]
    times = tables.at(phase, points[..., 0], points[..., 1], points[..., 2])
    times = times.reshape(len(source_xyz_km), 7, -1).astype(np.float64)
    gradient = (times[:, 1:4] - times[:, 4:7]) / (2 * step_km)
    gradient = np.moveaxis(gradient, 1, -1)
    norm = np.linalg.norm(gradient, axis=-1, keepdims=True)
    direction = -gradient / np.maximum(norm, 1e-12)
    slowness_h = np.linalg.norm(gradient[..., :2], axis=-1)
    return times[:, 0], direction, slowness_h


def highcut_response(frequency_hz: np.ndarray, highcut_hz: float) -> np.ndarray:
    """Response of a causal 4-pole Butterworth low-pass (scipy), so pulses have no precursors."""
    from scipy.signal import butter, freqs

    b, a = butter(4, 2 * np.pi * highcut_hz, btype="low", analog=True)
    return freqs(b, a, 2 * np.pi * frequency_hz)[1]


def synthesize(
    events: Events,
    tables: TravelTimeTables,
    model: GridModel,
    station_xyz_km: np.ndarray,
    params: WaveParameters,
    noise_rngs: list[np.random.Generator],
) -> np.ndarray:
    """Velocity seismograms (n_events, n_stations, 3 [Z, N, E], n_samples) in m/s, float32.

    Args:
        events: Source parameters; depth_km is z (positive down, km from sea level).
        tables: P and S travel-time tables of the stations.
        model: The velocity model (source and receiver velocities, densities).
        station_xyz_km: (n_stations, 3) station positions.
        params: Signal settings.
        noise_rngs: One generator per event (noise is drawn per event, so a chunk's result does
            not depend on how events are grouped into chunks).
    """
    source = np.column_stack([events.x_km, events.y_km, events.depth_km]).astype(float)
    stations = np.asarray(station_xyz_km, float)
    n_fft = 2 * params.n_samples
    frequency_hz = np.fft.rfftfreq(n_fft, params.sampling_interval_s)
    moment = moment_from_mw(events.magnitude)
    vs_source = model.sample("S", *source.T)
    corner_hz = brune_corner_frequency_hz(moment, vs_source, params.stress_drop_mpa)
    # Causal Brune pulse: moment rate M0 (t / tau^2) exp(-t / tau), tau = 1 / (2 pi fc).
    moment_rate = moment[:, None] / (1.0 + 1j * frequency_hz[None, :] / corner_hz[:, None]) ** 2
    tensor = moment_tensors(events)

    offset = stations[None, :, :2] - source[:, None, :2]
    horizontal_km = np.linalg.norm(offset, axis=-1)
    e_r = np.where(
        horizontal_km[..., None] > 1e-9,
        offset / np.maximum(horizontal_km, 1e-9)[..., None],
        [1.0, 0.0],
    )
    e_r3 = np.concatenate([e_r, np.zeros_like(e_r[..., :1])], axis=-1)
    e_t3 = np.stack([-e_r[..., 1], e_r[..., 0], np.zeros_like(e_r[..., 0])], axis=-1)
    down = np.array([0.0, 0.0, 1.0])
    distance_m = np.linalg.norm(stations[None] - source[:, None], axis=-1) * 1000.0
    distance_m = np.maximum(distance_m, 100.0)
    rho_source = density_g_cm3(model.sample("P", *source.T)) * 1000.0

    # Noise is drawn before the P factors, so each event's noise is the same whatever the sigma.
    background = noise(len(stations), params, frequency_hz, n_fft, noise_rngs)
    p_factor = p_site_factors(len(stations), params.p_site_sigma_log10, noise_rngs)
    waves = np.zeros((len(events), len(stations), 3, params.n_samples))
    step_km = 0.25 * min(model.spacing_km)
    for phase, q in (("P", params.q_p), ("S", params.q_s)):
        time_s, gamma, slowness_h = _ray_geometry(tables, phase, source, step_km)
        if events.velocity_factor is not None:
            time_s = time_s / events.velocity_factor[:, None]
        v_source = model.sample(phase, *source.T)
        v_station = model.sample(phase, *stations.T)
        rho_station = density_g_cm3(model.sample("P", *stations.T)) * 1000.0
        cos_h = np.clip(gamma[..., 2], -1.0, 1.0)
        sin_h = np.sqrt(1.0 - cos_h**2)
        m_gamma = np.einsum("eij,esj->esi", tensor, gamma)
        sin_i = np.clip(slowness_h * v_station[None, :], 0.0, 1.0)
        cos_i = np.sqrt(1.0 - sin_i**2)
        if phase == "P":
            pattern = np.einsum("esi,esi->es", gamma, m_gamma)
            motion = pattern[..., None] * (sin_i[..., None] * e_r3 - cos_i[..., None] * down)
        else:
            e_sv = cos_h[..., None] * e_r3 - sin_h[..., None] * down
            a_sv = np.einsum("esi,esi->es", e_sv, m_gamma)
            a_sh = np.einsum("esi,esi->es", e_t3, m_gamma)
            e_sv_station = -cos_i[..., None] * e_r3 - sin_i[..., None] * down
            motion = a_sv[..., None] * e_sv_station + a_sh[..., None] * e_t3
        velocity_m_s = v_source[:, None] * 1000.0
        impedance = np.sqrt(
            (rho_source[:, None] * v_source[:, None]) / (rho_station[None, :] * v_station[None, :])
        )
        scale = impedance / (4 * np.pi * rho_source[:, None] * velocity_m_s**3 * distance_m)
        delay_s = events.origin_time_s[:, None] + time_s
        spectrum = (
            (2j * np.pi * frequency_hz)
            * moment_rate[:, None, :]
            * np.exp(-np.pi * frequency_hz * time_s[..., None] / q)
            * np.exp(-2j * np.pi * frequency_hz * delay_s[..., None])
            * highcut_response(frequency_hz, params.highcut_hz)
        )
        # irfft / dt samples the continuous inverse Fourier transform of the spectrum.
        pulse = np.fft.irfft(spectrum, n=n_fft, axis=-1)[..., : params.n_samples]
        pulse /= params.sampling_interval_s
        pulse *= (scale * params.free_surface_factor * (p_factor if phase == "P" else 1.0))[
            ..., None
        ]
        # (east, north, down) motion -> (Z up, N, E) components.
        components = np.stack([-motion[..., 2], motion[..., 1], motion[..., 0]], axis=-1)
        waves += components[..., None] * pulse[:, :, None, :]
    waves += background
    return waves.astype(np.float32)


def p_site_factors(
    n_stations: int, sigma_log10: float, rngs: list[np.random.Generator]
) -> np.ndarray:
    """Per event and station, the factor on P: 10^N(0, sigma_log10), or 1 without drawing."""
    if not sigma_log10:
        return np.ones((len(rngs), n_stations))
    return 10.0 ** np.stack([rng.normal(0.0, sigma_log10, n_stations) for rng in rngs])


def noise(
    n_stations: int,
    params: WaveParameters,
    frequency_hz: np.ndarray,
    n_fft: int,
    rngs: list[np.random.Generator],
) -> np.ndarray:
    """Coloured noise (n_events, n_stations, 3, n_samples): flat floor plus a microseism peak."""
    shape = 1.0 + 4.0 * np.exp(-0.5 * ((frequency_hz - params.microseism_hz) / 0.08) ** 2)
    shape *= np.abs(highcut_response(frequency_hz, params.highcut_hz))
    out = np.zeros((len(rngs), n_stations, 3, params.n_samples))
    if params.noise_rms_max_m_s <= 0:
        return out
    low = np.log(max(params.noise_rms_min_m_s, 1e-30))
    high = np.log(params.noise_rms_max_m_s)
    for index, rng in enumerate(rngs):
        rms = np.exp(rng.uniform(low, high, n_stations))
        white = rng.standard_normal((n_stations, 3, n_fft))
        coloured = np.fft.irfft(np.fft.rfft(white, axis=-1) * shape, n=n_fft, axis=-1)
        coloured = coloured[..., : params.n_samples]
        coloured /= np.maximum(coloured.std(axis=-1, keepdims=True), 1e-30)
        out[index] = coloured * rms[:, None, None]
    return out
