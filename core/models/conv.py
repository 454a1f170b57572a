"""The spectrogram VAE (``conv``) on crops of whole-clip log-mels, with a lyrics block; β-VAE is the same net.

Inputs (:class:`~core.models.preprocessing.ClipPrep`): the WHOLE clip's log-mel in dB re.
full-scale power (no peak normalisation), each mel band standardised with the training corpus'
mean and std; training draws a crop of ``T = crop_frames`` (128, 5.9 s) frames at a uniformly
random position of every clip at every step. ``F`` = 128 mel bands, ``C`` = ``width``,
``d_a`` = ``latent_dim``, ``d_l`` = ``lyrics_latent_dim``::

    AudioEncoder   x (B, F, T), mel bands as channels, 1-D convolutions over time
                     Conv1d(F→C, k3) + GroupNorm + GELU
                     3 × [Conv1d(C→C, k4, stride 2) + GroupNorm + GELU]      T → T/8
                     2 × [Conv1d(C→C, k3) + GroupNorm + GELU]
                     pooling over time: [mean_t, std_t] (B, 2C)              time-invariant
                     Linear(2C → 2·d_a) → q(z_a | x) = N(mu_a, var_a),  z_a = [z_track (d_t), z_crop (d_c)]
                   (+ temporal head on the time axis before pooling → q(z_seq | x), (B, c, T/h); see below)
    AudioDecoder   z_a → static envelope Linear(d_a → F), broadcast over time
                       + Linear(d_a → C·T/8) → 3 × [upsample ×2 + Conv1d + GroupNorm + GELU] → Conv1d(C→F, k1)
                   = mean of the standardised crop (B, F, T)
                 z_a → Linear(d_a → F), bounded to ±3 → the crop's own log σ per band (``crop_sigma``)
    LyricsEncoder  TF-IDF (B, V) → Linear(V, h) + GELU → Linear(h, 2·d_l) → q(z_l | lyrics)
    LyricsDecoder  z_l → Linear(d_l, h) + GELU → Linear(h, V)

Track latent (``latent_dim`` = d_t, ``crop_latent_dim`` = d_c, ``crops_per_track`` = K): a training
batch holds K random crops of each of B/K tracks. Each crop's encoder output is an expert on
the TRACK block; the track's posterior is their product with the prior (``prec = 1 + Σ_k 1/var_k``),
drawn once and shared by the K crops, while each crop keeps its own crop block. Every crop is
decoded from [z_track, z_crop], so z_track must carry what the crops of a track share (timbre,
instrumentation, texture) and z_crop what changes along it; the track block's KL counts once per
track (1/K per crop). This is the factorised-hierarchical idea (a sequence-level and a
segment-level latent) applied to crops of a clip; on gtzan_mini it raised NMI against genre by
about 0.05 over one latent per crop (RESULTS.md). ``crop_latent_dim=0`` gives one latent per crop.

Temporal latent (``temporal_dim`` = c channels, ``temporal_hop`` = h frames; c = 4 and h = 4 by default): the static
latents above describe a crop without time, so their reconstructions held its average spectrum still (onset-
envelope correlation .003 with the original's on the demo). A sequence z_seq (B, c, T/h) is read off the
encoder's time axis before pooling (after log2(h) halvings, one more GroupNorm block and a 1x1 head to mean and
log-variance per element) and, centred over time (its level over the crop is the static latents' part), added
through a k3 convolution into the decoder's upsampling path where it runs at T/h. Its KL counts per element
(free bits per element, like every other dimension) and is reported summed over time per channel, so
``kl_per_dim`` has one entry per dimension of the track embedding. It is not a property of the track: the
embedding keeps one value per channel, the std over time of its posterior mean averaged over the clip's crops
(block ``temporal``: like ``crop``, left out of the parts of a model with lyrics that keep the track-level blocks,
while an audio-only model's one part, ``all``, holds every block), and a point of the embedding decodes with
the sequence held still. It is learnt in a REFINEMENT after the main stage (the training config's
``refine_epochs``, :meth:`ConvVAEModule.training_stage`): the main stage trains the network as if it had no
temporal latent, then only the temporal path and the audio decoder learn, with the encoders frozen, so the latents
that are clustered are those of the design without it (trained from the first step, the temporal latent changed
them). ``refine_epochs=0`` trains it from the first step (the first design, RESULTS.md); ``temporal_dim=0`` is the design
without it, and what a checkpoint written before the setting existed holds.

σ per crop (``crop_sigma``, on by default): with one σ per band for every crop, a static decoder can only
describe a crop by its average spectrum, so the latents have no reason to carry how much each band moves within
it, the texture that the variances of the 57 features' MFCCs, rms and spectral centroid summarise. The decoder
therefore also gives each crop its own log σ per band, from the static latents, added to the learned one. A
steady crop is then cheaper to describe as steady and a busy one as busy, and the latents keep the difference
(RESULTS.md, "σ per crop"). A checkpoint written before the setting existed holds ``crop_sigma=0``.

The cepstral score (``cepstral_also`` = N, 40 by default): the reconstruction is also scored on the first N
cepstral coefficients of each frame (:class:`CepstralView`: a DCT over the bands, each coefficient standardised by
running statistics of the training crops), with a σ per coefficient and the weight F / N. Per band, a reconstruction
that gets the shape of the spectrum a little wrong in every band at once costs little; per coefficient, that shape
is what is scored, and it is what the 57 features' MFCCs describe. On hybrid_en_de_dev it raised 5-NN agreement
against genre by 0.03, on gtzan_mini it lowered it by 0.025 (RESULTS.md, "The cepstral score"). A checkpoint
written before it holds 0.

The percussive shares (``percussive_also`` = G): a linear head of the static latents predicts, for each of G groups
of adjacent mel bands, how much of the crop's power lies in broadband, short structures rather than held, narrowband
ones (:class:`PercussiveView`, a harmonic/percussive split by box filters), scored as a Gaussian per group with a
learned σ and the weight T (the crop's frames: G shares weigh as G bands of the crop would). The static decoder
cannot place transients in time, so a busy drum part and a held chord with the same average spectrum cost it the
same; the head gives the latents a reason to tell them apart, as the 57 features' ``perceptr`` statistics do
(RESULTS.md, "How percussive"). A checkpoint written before it holds 0.

Fusion: CONCATENATED per-modality latents, z = [z_a, z_l], each block with its own KL. A track
without lyrics has the prior as its lyrics posterior (mu_l = 0, var_l = 1: no KL, no lyrics
loss). A product of experts (one z for both) was measured to lose the language: language NMI .003
fused vs .498 TF-IDF alone on the demo corpus, the audio expert's precision swamping the lyrics.
``modality="audio"`` or ``"lyrics"`` keeps one block (the same class).

Likelihood (nats per crop, summed over elements, averaged over the batch)::

    NLL_mel = Σ_{f,t} ½((x − mean)/σ_f)² + log σ_f + ½ log 2π          σ_f learned per mel band
              (``crop_sigma``: log σ_f + s_f(z_a), the crop's own offset from its static latents)
    NLL_cep = (F / N) · Σ_{n,t} the same Gaussian NLL of the standardised cepstra (``cepstral_also`` = N),
              one learned σ per coefficient
    NLL_perc = T · Σ_g Gaussian NLL of the crop's standardised percussive logit per band group, predicted from the
              static latents (``percussive_also`` = G), one learned σ per group
    NLL_lyr = lyrics_weight · (F·T / V) · Gaussian NLL with one learned σ   (tracks with lyrics)
    loss    = NLL_mel + NLL_cep + NLL_perc + NLL_lyr + β_t · Σ_j max(KL_j, free_bits)   (:class:`~core.models.losses.VAELoss`)

β_t warms up per optimisation step; β is also reported normalised, β·d/(F·T).
:class:`BetaVAE` (``"beta"``) is :class:`ConvVAE` with β = 4 (a loss setting).

Track embedding (:meth:`ConvVAE.encode`): the audio posteriors of crops every ``eval_hop`` (32)
frames over the whole clip are combined by a precision-weighted product with the prior,
``prec = 1 + Σ_i 1/var_i``, ``mu = Σ_i (mu_i / var_i) / prec`` (per dimension), i.e. the
posterior of a track whose crops are independent views of one z -- the same product training uses
for the track block, here over every crop of the clip and over both blocks; the lyrics block is the lyrics
posterior mean (0 without lyrics). Reconstruction (:meth:`ConvVAE.reconstruct`): the CENTRE
128 frames of the clip (:meth:`ConvVAE.excerpt`), decoded from their posterior mean, in dB re.
full scale, so original and reconstruction can be played at their true levels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.blocks import LatentBlock
from core.errors import BadInputError
from core.features.melstore import centre_start, crop_starts
from core.inputs import ModelInputs
from core.models.base import ENCODE_CHUNK, TorchModel
from core.models.configs import ConvVAEConfig, VAETrainConfig
from core.models.losses import gaussian_nll, normalised_beta
from core.models.preprocessing import ClipPrep

MODALITIES = ("both", "audio", "lyrics")
#: log-variance range of every posterior (exp(-12) .. exp(8)): keeps the KL and its gradient finite.
LOGVAR_RANGE = (-12.0, 8.0)
#: Crops per forward pass when encoding whole clips.
CROP_CHUNK = 256


def _block(c_in: int, c_out: int, *, k: int = 3, stride: int = 1, groups: int = 8) -> nn.Sequential:
    """Conv1d + GroupNorm + GELU; ``k=4, stride=2`` halves the time axis, ``k=3`` keeps it."""
    return nn.Sequential(nn.Conv1d(c_in, c_out, k, stride=stride, padding=1),
                         nn.GroupNorm(groups if c_out % groups == 0 else 1, c_out), nn.GELU())


class AudioEncoder(nn.Module):
    """(B, F, T) standardised crop -> (B, heads) posterior parameters; time-invariant (mean+std pooling).

    With ``temporal_dim`` = c > 0 it also returns the parameters of a temporal latent sequence,
    (B, 2c, T / ``temporal_hop``), read off the time axis before pooling (after log2(hop) halvings)."""

    def __init__(self, *, n_mels: int, width: int, out_dim: int, n_down: int = 3, temporal_dim: int = 0,
                 temporal_hop: int = 8):
        super().__init__()
        layers = [_block(n_mels, width)] + [_block(width, width, k=4, stride=2) for _ in range(n_down)]
        self.body = nn.Sequential(*layers, _block(width, width), _block(width, width))
        self.head = nn.Linear(2 * width, out_dim)
        #: layers of ``body`` run before the temporal head reads the time axis (all of them at the coarsest rate)
        self.tap = len(self.body) if temporal_hop >= 2 ** n_down else 1 + int(round(np.log2(temporal_hop)))
        if temporal_dim:
            self.temporal = nn.Sequential(_block(width, width), nn.Conv1d(width, 2 * temporal_dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self, "temporal"):
            h = self.body(x)                                              # (B, C, T/8)
            return self.head(torch.cat([h.mean(-1), h.std(-1, unbiased=False)], -1))
        h = self.body[:self.tap](x)
        seq = self.temporal(h)                                            # (B, 2c, T/hop)
        h = self.body[self.tap:](h)
        return self.head(torch.cat([h.mean(-1), h.std(-1, unbiased=False)], -1)), seq


class AudioDecoder(nn.Module):
    """z_a (B, d_a) -> (B, F, T): a static spectral envelope plus an upsampled time-varying part.

    With a temporal latent (``temporal_dim`` = c > 0), ``seq`` (B, c, T/hop) is centred over time (its
    level over the crop is the static latents' business) and added into the upsampling path at its rate,
    so that when things happen in the crop does not have to pass through the static latents."""

    def __init__(self, *, n_mels: int, n_frames: int, width: int, latent_dim: int, n_up: int = 3,
                 temporal_dim: int = 0, temporal_hop: int = 8, crop_sigma: bool = False):
        super().__init__()
        if n_frames % (2 ** n_up):
            raise BadInputError(None, f"crop_frames={n_frames} must be divisible by {2 ** n_up}")
        self.width, self.t0 = width, n_frames // (2 ** n_up)
        self.static = nn.Linear(latent_dim, n_mels)
        self.seed = nn.Linear(latent_dim, width * self.t0)
        self.up = nn.ModuleList([_block(width, width) for _ in range(n_up)])
        self.out = nn.Conv1d(width, n_mels, 1)
        #: upsamplings done before the temporal latent joins (0: at the coarsest rate)
        self.join = n_up - min(n_up, int(round(np.log2(temporal_hop))))
        if temporal_dim:
            self.temporal = nn.Conv1d(temporal_dim, width, 3, padding=1)
        if crop_sigma:
            self.sigma = nn.Linear(latent_dim, n_mels)

    def forward(self, z: torch.Tensor, seq: torch.Tensor | None = None) -> torch.Tensor:
        h = F.gelu(self.seed(z)).view(-1, self.width, self.t0)
        if hasattr(self, "temporal"):
            if seq is None:  # a sequence held still (a point of the track embedding)
                seq = z.new_zeros(len(z), self.temporal.in_channels, self.t0 * 2 ** self.join)
            seq = self.temporal(seq - seq.mean(-1, keepdim=True))
        else:
            seq = None
        for i, block in enumerate(self.up):
            if seq is not None and i == self.join:
                h = h + seq
            h = block(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        if seq is not None and self.join >= len(self.up):
            h = h + seq
        return self.static(z)[:, :, None] + self.out(h)

    def crop_log_sigma(self, z: torch.Tensor) -> torch.Tensor:
        """(B, F) the crop's own log σ per band, added to the learned one (``crop_sigma``), from z_a (B, d_a).
        Bounded softly to ±3 (a factor of 20 in σ either way), so that no crop can claim to be noiseless."""
        return 3.0 * torch.tanh(self.sigma(z) / 3.0)


class LogScale(nn.Module):
    """A learned log σ of ``shape``, starting at ``value`` (no random numbers drawn)."""

    deterministic_init = True

    def __init__(self, shape: tuple[int, ...], value: float):
        super().__init__()
        self.value = float(value)
        self.log_sigma = nn.Parameter(torch.full(shape, self.value))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        self.log_sigma.fill_(self.value)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, n_out))


class RunningStandardiser(nn.Module):
    """A view of the crops whose N values (per crop, or per frame of a crop) are standardised by a running mean and
    variance per value over the training crops: the first batch sets them, each later one moves them by
    ``momentum``. The statistics are saved with the checkpoint; what a view derives from its sizes or settings is
    filled by its ``fill_constants()``."""

    deterministic_init = True

    #: weight of a new batch in the running statistics (the first batch sets them)
    momentum = 0.01

    def _register_statistics(self, n: int) -> None:
        for name, shape in (("mean", (n,)), ("var", (n,)), ("seen", ())):
            self.register_buffer(name, torch.zeros(shape))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        self.mean.zero_()
        self.var.fill_(1.0)
        self.seen.zero_()

    @torch.no_grad()
    def _move_statistics(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        """Move the running statistics towards one batch's ``mean`` and ``var``, each (N,)."""
        a = 1.0 if self.seen == 0 else self.momentum
        self.mean.mul_(1 - a).add_(a * mean)
        self.var.mul_(1 - a).add_(a * var)
        self.seen.add_(1)

    def _standardise(self, values: torch.Tensor) -> torch.Tensor:
        """(B, N) or (B, N, T) -> the same, each of the N values standardised by the running statistics."""
        shape = (-1,) + (1,) * (values.dim() - 2)
        return (values - self.mean.view(shape)) / torch.sqrt(self.var.view(shape) + 1e-6)


class CepstralView(RunningStandardiser):
    """(B, F, T) standardised mel crops -> (B, N, T) their first N cepstral coefficients per frame (orthonormal
    DCT-II over the bands), each standardised by running statistics of the training crops.

    The likelihood's second view of a crop (``cepstral_also``): scored per band, a mel reconstruction may get the
    shape of the spectrum wrong by a little in every band at once, which costs little; scored per coefficient,
    that shape is what is measured, and it is what the MFCCs of the 57 features describe."""

    def __init__(self, n_mels: int, n: int):
        super().__init__()
        self.n_mels, self.n = n_mels, n
        # the basis follows from the sizes, so checkpoints keep only the statistics
        self.register_buffer("basis", torch.zeros(n, n_mels), persistent=False)
        self._register_statistics(n)
        self.fill_constants()
        self.reset_parameters()

    @torch.no_grad()
    def fill_constants(self) -> None:
        """The DCT basis (not saved; :func:`~core.training.init.empty_module` calls this after a load)."""
        f = torch.arange(self.n_mels, dtype=torch.float32)
        k = torch.arange(self.n, dtype=torch.float32)[:, None]
        basis = torch.cos(torch.pi * (f[None, :] + 0.5) * k / self.n_mels)
        basis[0] *= 1 / np.sqrt(2)
        self.basis.copy_(basis * np.sqrt(2 / self.n_mels))

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, T) -> (B, N, T) the first N cepstral coefficients of each frame, not standardised."""
        return torch.einsum("nf,bft->bnt", self.basis, x)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Move the running mean and variance per coefficient towards those of the crops ``x`` (B, F, T)."""
        c = self.coefficients(x)
        self._move_statistics(c.mean((0, 2)), c.var((0, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._standardise(self.coefficients(x))


class PercussiveView(RunningStandardiser):
    """(B, F, T) standardised mel crops -> (B, G) the share of each of G groups of adjacent mel bands' power that
    lies in percussive (broadband, short) rather than harmonic (narrowband, held) structures, as a logit
    standardised by running statistics of the training crops.

    The split follows the median-filter harmonic/percussive separation, with box filters in dB in place of the
    medians (a mean in dB is a geometric mean of power, and a running sum is cheap where a median sorts every
    window): a bin's harmonic level is its mean over
    ``kernel`` frames of its band, its percussive level the mean over ``kernel`` bands of its frame, and its
    percussive mask ``P_p² / (P_h² + P_p²)``. The crop's dB values come back from the standardised ones with the
    training corpus' band levels, which the view holds (not saved: they follow from the preprocessing).

    It is a target for a head of the static latents (``percussive_also``), not a view of the reconstruction: the
    static decoder cannot place transients in time, so without a target of its own how percussive a crop is never
    pays its way into the latents (RESULTS.md, "How percussive")."""

    #: frames and bands of each box filter (0.8 s and an eighth of the bands at the defaults)
    kernel = 17

    def __init__(self, band_mean: np.ndarray, band_std: np.ndarray, groups: int):
        super().__init__()
        self.groups = groups
        self.levels = np.asarray(band_mean, np.float32).copy(), np.asarray(band_std, np.float32).copy()
        n_mels = len(self.levels[0])
        for name, shape in (("band_mean", (n_mels,)), ("band_std", (n_mels,)), ("member", (n_mels, groups))):
            self.register_buffer(name, torch.zeros(shape), persistent=False)
        self._register_statistics(groups)
        self.fill_constants()
        self.reset_parameters()

    @torch.no_grad()
    def fill_constants(self) -> None:
        """The band levels and the band groups (not saved; :func:`~core.training.init.empty_module` calls this)."""
        self.band_mean.copy_(torch.from_numpy(self.levels[0]))
        self.band_std.copy_(torch.from_numpy(self.levels[1]))
        # one-hot (F, G): band f belongs to group floor(f·G / F), so the groups are contiguous and as equal as can be
        n_mels = len(self.levels[0])
        self.member.copy_(F.one_hot(torch.arange(n_mels) * self.groups // n_mels, self.groups).float())

    def _smooth(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """The mean over ``kernel`` neighbours along ``dim`` of (B, F, T) ``x``, edges repeated (a running sum)."""
        k = self.kernel
        first, last = x.narrow(dim, 0, 1), x.narrow(dim, x.shape[dim] - 1, 1)
        padded = torch.cat([first.expand_as(x.narrow(dim, 0, k // 2 + 1)), x,
                            last.expand_as(x.narrow(dim, 0, k // 2))], dim)
        total = padded.cumsum(dim)
        return (total.narrow(dim, k, x.shape[dim]) - total.narrow(dim, 0, x.shape[dim])) / k

    @torch.no_grad()
    def shares(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, T) standardised crops -> (B, G) percussive share of each band group's power, in (0, 1)."""
        db = x * self.band_std[:, None] + self.band_mean[:, None]
        harmonic, percussive = self._smooth(db, 2), self._smooth(db, 1)   # along time per band, along the bands
        mask = torch.sigmoid((2 * np.log(10) / 10) * (percussive - harmonic))       # P_p² / (P_h² + P_p²)
        power = torch.exp((np.log(10) / 10) * (db - db.amax((1, 2), keepdim=True)))  # relative power, no overflow
        total = torch.einsum("bft,fg->bg", power, self.member)
        return torch.einsum("bft,fg->bg", power * mask, self.member) / total.clamp_min(1e-30)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, *, update: bool = False) -> torch.Tensor:
        share = self.shares(x).clamp(1e-4, 1 - 1e-4)
        logit = torch.log(share) - torch.log1p(-share)
        if update:
            self._move_statistics(logit.mean(0), logit.var(0, unbiased=False))
        return self._standardise(logit)


class ConvVAEModule(nn.Module):
    """The torch network (module docstring). ``variational=False`` = plain autoencoder (the ``ae`` on mel).

    Batches: ``x`` (B, F, T) standardised crops, ``lyr`` (B, V) TF-IDF, ``lmask`` (B,) bool.
    Latent vector: ``[z_a (d_a) if audio, z_l (d_l) if lyrics]``.
    """

    def __init__(self, *, n_mels: int, crop_frames: int, width: int, latent_dim: int, lyrics_dim: int,
                 lyrics_latent_dim: int, lyrics_hidden: int = 128, modality: str = "both",
                 lyrics_weight: float = 1.0, variational: bool = True, crop_latent_dim: int = 0,
                 temporal_dim: int = 0, temporal_hop: int = 4, crop_sigma: bool = False, cepstral_also: int = 0,
                 percussive_also: int = 0, band_levels: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__()
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        self.variational = variational
        self.use_audio = modality in ("both", "audio") and n_mels > 0
        self.use_lyrics = modality in ("both", "lyrics") and lyrics_dim > 0
        heads = 2 if variational else 1
        #: the track block (shared by the crops of one track in a grouped batch) and the per-crop block
        self.d_track = latent_dim if self.use_audio and variational and (crop_latent_dim > 0 or temporal_dim > 0) else 0
        self.d_crop = crop_latent_dim if self.d_track else 0
        #: the temporal latent: d_temp channels at one step every ``temporal_hop`` frames (t_steps per crop)
        self.d_temp = temporal_dim if self.d_track else 0
        self.temporal_hop = int(temporal_hop)
        if self.d_temp and (temporal_hop < 1 or temporal_hop > 8 or temporal_hop & (temporal_hop - 1)
                            or crop_frames % temporal_hop):
            raise BadInputError(None, f"temporal_hop={temporal_hop} must be 1, 2, 4 or 8 and divide "
                                      f"crop_frames={crop_frames}")
        self.t_steps = crop_frames // self.temporal_hop if self.d_temp else 0
        #: the stage of a run with a refinement (:meth:`training_stage`); "done" outside such a run
        self.stage = "done"
        #: the static audio latents and the audio block of the TRACK EMBEDDING: [track, crop, temporal summary]
        self.d_static = latent_dim + self.d_crop if self.use_audio else 0
        self.d_a = self.d_static + self.d_temp
        #: the audio posterior of ONE CROP as training and the excerpt's decoding see it: the temporal latent
        #: is d_temp x t_steps values, channel-major
        self.d_a_seq = self.d_static + self.d_temp * self.t_steps
        self.d_l = lyrics_latent_dim if self.use_lyrics else 0
        self.latent_dim = self.d_a + self.d_l
        mel_elements = n_mels * crop_frames if n_mels > 0 else 128 * crop_frames
        #: data elements per sample: the loop optimises the loss per element (clip_norm means the same at
        #: any input size) and β is normalised by it
        self.loss_elements = mel_elements if self.use_audio else max(1, lyrics_dim)
        #: with it the static latents also give each crop its own log σ per band (module docstring): how much a
        #: band moves within a crop is then worth encoding, where one σ per band for every crop leaves the
        #: latents only the crop's average spectrum to describe
        self.crop_sigma = bool(crop_sigma) and self.use_audio
        #: the reconstruction also scored on its first N cepstral coefficients (:class:`CepstralView`), with a σ
        #: each and the weight F / N, so that the shape of the spectrum weighs as much as the bands do
        self.n_cepstral = min(int(cepstral_also), n_mels) if self.use_audio else 0
        #: a head of the static latents predicts how percussive each of N band groups of the crop is
        #: (:class:`PercussiveView`); it needs the training corpus' band levels to undo the standardisation
        self.n_percussive = int(percussive_also) if self.use_audio and band_levels is not None else 0
        #: the d of the normalised β, β·d/(F·T): the audio block (the lyrics block without audio)
        self.beta_dims = self.d_a or self.d_l
        if self.use_audio:
            self.audio_encoder = AudioEncoder(n_mels=n_mels, width=width, out_dim=heads * self.d_static,
                                              temporal_dim=self.d_temp, temporal_hop=self.temporal_hop)
            self.audio_decoder = AudioDecoder(n_mels=n_mels, n_frames=crop_frames, width=width,
                                              latent_dim=self.d_static, temporal_dim=self.d_temp,
                                              temporal_hop=self.temporal_hop, crop_sigma=self.crop_sigma)
            self.mel_scale = LogScale((n_mels,), 0.0)              # σ per mel band, standardised units
            if self.n_cepstral:
                self.cepstral = CepstralView(n_mels, self.n_cepstral)
                self.cepstral_scale = LogScale((self.n_cepstral,), 0.0)
                self.cepstral_weight = n_mels / self.n_cepstral
            if self.n_percussive:
                self.percussive = PercussiveView(*band_levels, self.n_percussive)
                self.percussive_head = nn.Linear(self.d_static, self.n_percussive)
                self.percussive_scale = LogScale((self.n_percussive,), 0.0)
                # a crop's N shares weigh as N bands of the crop would: one value per frame
                self.percussive_weight = float(crop_frames)
        if self.use_lyrics:
            self.lyrics_encoder = _mlp(lyrics_dim, lyrics_hidden, heads * lyrics_latent_dim)
            self.lyrics_decoder = _mlp(lyrics_latent_dim, lyrics_hidden, lyrics_dim)
            self.lyrics_sigma = LogScale((), -2.0)
            # the lyrics block weighs like the mel per element, whatever the modality
            self.lyrics_scale = float(lyrics_weight) * mel_elements / lyrics_dim

    def _split(self, h: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.variational:
            return h, None
        return h[:, :d], h[:, d:].clamp(*LOGVAR_RANGE)

    def audio_posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu_a, logvar_a), each (B, d_a_seq): the static latents, then the temporal sequence flattened
        (the prior, zeros, while the temporal latent is left out: :meth:`training_stage`)."""
        if not self.d_temp:
            return self._split(self.audio_encoder(x), self.d_a)
        static, seq = self.audio_encoder(x)
        mu, logvar = self._split(static, self.d_static)
        c = self.d_temp
        if not self.temporal_on:
            prior = mu.new_zeros(len(mu), c * self.t_steps)
            return torch.cat([mu, prior], 1), torch.cat([logvar, prior], 1)
        return (torch.cat([mu, seq[:, :c].flatten(1)], 1),
                torch.cat([logvar, seq[:, c:].flatten(1).clamp(*LOGVAR_RANGE)], 1))

    def embedding_means(self, mu: torch.Tensor) -> torch.Tensor:
        """Posterior means of crops, (B, d_a_seq [+ d_l]), laid out as the track embedding, (B, d_a [+ d_l]): the
        temporal sequence summarised per channel by how much it moves (its std over time). What the training
        monitor clusters, so that the sequence's 4 × 32 values do not outweigh the track's."""
        if not self.d_temp or mu.shape[1] not in (self.d_a_seq, self.d_a_seq + self.d_l):
            return mu
        seq = mu[:, self.d_static:self.d_a_seq].reshape(len(mu), self.d_temp, self.t_steps)
        return torch.cat([mu[:, :self.d_static], seq.std(-1, unbiased=False), mu[:, self.d_a_seq:]], 1)

    @property
    def temporal_on(self) -> bool:
        """Whether the temporal latent takes part (the main stage of a run with a refinement leaves it out)."""
        return self.stage != "main"

    @property
    def views_on(self) -> bool:
        """Whether the cepstral score and the percussive shares take part. They shape the latents, which the
        refinement leaves alone, so the refinement scores the bands alone: the decoder then learns to put time back
        as fast as without them."""
        return self.stage != "refine"

    @torch.no_grad()
    def training_stage(self, stage: str) -> None:
        """The stages of a run with a refinement (``refine_epochs``, :mod:`core.training.loop`).

        ``"main"``: the temporal latent is left out (its posterior is the prior, and its way into the decoder is
        held at zero), so the static latents and the lyrics block learn what the design without it learns.
        ``"refine"``: it is switched on and every encoder is frozen except its head, and the lyrics decoder too:
        only the temporal path, the audio decoder and the per-band σ learn, so the decoder learns to put time
        back while the latents that are clustered keep the values the main stage gave them (a temporal latent
        trained from the first step changed them: RESULTS.md, "A temporal latent"). ``"done"``: everything on.
        """
        if stage not in ("main", "refine", "done"):
            raise ValueError(f"training_stage must be 'main', 'refine' or 'done', got {stage!r}")
        if not self.d_temp:
            raise ValueError("a network without a temporal latent has no refinement stage")
        self.stage = stage
        learns = {"main": lambda name: ".temporal." not in f".{name}",
                  "refine": lambda name: name.startswith(("audio_encoder.temporal.", "audio_decoder.", "mel_scale.")),
                  "done": lambda name: True}[stage]
        for name, param in self.named_parameters():
            param.requires_grad_(learns(name))
        if stage == "main":
            # the refinement then starts from exactly the main stage's decoder
            self.audio_decoder.temporal.weight.zero_()
            self.audio_decoder.temporal.bias.zero_()

    def kl_groups(self) -> torch.Tensor:
        """(d_a_seq + d_l,) the dimension of the track embedding each posterior value's KL is reported under:
        itself, except the temporal sequence, whose KL sums over time into its channel."""
        static = torch.arange(self.d_static)
        seq = self.d_static + torch.arange(self.d_temp).repeat_interleave(self.t_steps)
        lyrics = self.d_a + torch.arange(self.d_l)
        return torch.cat([static, seq, lyrics])

    def lyrics_posterior(self, lyr: torch.Tensor, lmask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu_l, logvar_l), each (B, d_l); rows without lyrics get the prior (0, 0), their row never read."""
        present = lmask.bool()[:, None]
        mu, logvar = self._split(self.lyrics_encoder(torch.where(present, lyr, torch.zeros_like(lyr))), self.d_l)
        mu = torch.where(present, mu, torch.zeros_like(mu))
        if logvar is not None:
            logvar = torch.where(present, logvar, torch.zeros_like(logvar))
        return mu, logvar

    def posterior(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu, logvar) of the concatenated latent, each (B, latent_dim)."""
        parts = []
        if self.use_audio:
            parts.append(self.audio_posterior(batch["x"]))
        if self.use_lyrics:
            parts.append(self.lyrics_posterior(batch["lyr"], batch["lmask"]))
        mu = torch.cat([p[0] for p in parts], 1)
        logvar = None if not self.variational else torch.cat([p[1] for p in parts], 1)
        return mu, logvar

    def encode_mean(self, batch: dict) -> torch.Tensor:
        return self.posterior(batch)[0]

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Decode ``z``: a posterior of crops, (B, d_a_seq + d_l), or a point of the track embedding,
        (B, latent_dim), whose temporal block (a summary) decodes as a sequence held still."""
        out = {}
        width = self.d_a_seq if z.shape[1] == self.d_a_seq + self.d_l else self.d_a
        if self.use_audio:
            seq = None
            if self.d_temp and width == self.d_a_seq:
                seq = z[:, self.d_static:self.d_a_seq].reshape(-1, self.d_temp, self.t_steps)
            out["x_hat"] = self.audio_decoder(z[:, :self.d_static], seq) if self.d_temp else \
                self.audio_decoder(z[:, :self.d_a])
        if self.use_lyrics:
            out["lyr_hat"] = self.lyrics_decoder(z[:, width:])
        return out

    def forward(self, batch: dict, *, generator: torch.Generator | None = None) -> dict:
        """Posterior, one draw of z and the decoder's output. With a track block and ``batch["group"] = K``
        (K adjacent crops per track), the track block of each crop is the product of its track's K crop
        posteriors and ONE draw per track (:func:`product_of_groups`); its KL then counts 1/K per crop
        (``"kl_weight"``). Without ``"group"`` every crop is its own track (K = 1)."""
        views = {}
        if self.use_audio and self.views_on:
            if self.training and self.n_cepstral:
                self.cepstral.update(batch["x"])
            if self.n_percussive:
                views["percussive_target"] = self.percussive(batch["x"], update=self.training)
        mu, logvar = self.posterior(batch)
        if logvar is None:
            return {"mu": mu, "logvar": None, **views, **self._decode_for_loss(mu)}
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        out = {}
        if self.d_track:
            K, dt = int(batch.get("group", 1)), self.d_track
            mu_t, lv_t = product_of_groups(mu[:, :dt], logvar[:, :dt], K)
            mu = torch.cat([mu_t.repeat_interleave(K, 0), mu[:, dt:]], 1)
            logvar = torch.cat([lv_t.repeat_interleave(K, 0), logvar[:, dt:]], 1)
            eps[:, :dt] = eps[::K, :dt].repeat_interleave(K, 0)
            weight = torch.ones(mu.shape[1], device=mu.device, dtype=mu.dtype)
            weight[:dt] = 1.0 / K
            out["kl_weight"] = weight
            if self.d_temp:
                out["kl_groups"] = self.kl_groups().to(mu.device)
        z = mu + eps * torch.exp(0.5 * logvar) if (self.training or generator is not None) else mu
        return {"mu": mu, "logvar": logvar, **out, **views, **self._decode_for_loss(z)}

    def _decode_for_loss(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """:meth:`decode`, plus the crop's own log σ per band (``crop_sigma``), which only the likelihood reads:
        reconstructions, traversals and interpolations decode without it."""
        out = self.decode(z)
        if self.crop_sigma:
            out["x_log_sigma"] = self.audio_decoder.crop_log_sigma(z[:, :self.d_static])
        if self.n_percussive:
            out["percussive_hat"] = self.percussive_head(z[:, :self.d_static])
        return out

    def reconstruction_error(self, out: dict, batch: dict) -> torch.Tensor:
        """(B,) negative log-likelihood of the crop (learned σ per band, times the crop's own factor per band
        with ``crop_sigma``), plus that of its cepstral coefficients (``cepstral_also``), that of its percussive shares
        (``percussive_also``, from the static latents) and the weighted lyrics NLL."""
        err = None
        if self.use_audio:
            log_sigma = self.mel_scale.log_sigma[:, None]
            if "x_log_sigma" in out:
                log_sigma = log_sigma + out["x_log_sigma"][:, :, None]
            err = gaussian_nll(batch["x"], out["x_hat"], log_sigma)
            if self.n_cepstral and self.views_on:
                err = err + self.cepstral_weight * gaussian_nll(
                    self.cepstral(batch["x"]), self.cepstral(out["x_hat"]), self.cepstral_scale.log_sigma[:, None])
            if "percussive_target" in out:
                err = err + self.percussive_weight * gaussian_nll(
                    out["percussive_target"], out["percussive_hat"], self.percussive_scale.log_sigma)
        if self.use_lyrics:
            lyr = self.lyrics_scale * gaussian_nll(batch["lyr"], out["lyr_hat"], self.lyrics_sigma.log_sigma,
                                                   mask=batch["lmask"].bool())
            err = lyr if err is None else err + lyr
        return err


def clip_needs(modality: str) -> set[str]:
    """The inputs a spectrogram model with ``modality`` uses."""
    return {"both": {"clips", "lyrics"}, "audio": {"clips"}, "lyrics": {"lyrics"}}[modality]


def fit_clip_prep(config, inputs: ModelInputs, *, needs: set[str]) -> ClipPrep:
    """Band statistics of the whole clips and the lyrics TF-IDF of a model with ``config``."""
    lyrics = None
    if "lyrics" in needs:
        lyrics = {"max_features": config.lyrics_features, "min_df": getattr(config, "lyrics_min_df", 1)}
    return ClipPrep.fit(inputs, use_audio="clips" in needs, lyrics=lyrics, crop=config.crop_frames,
                        clip_params=config.clip_params)


def conv_network(config, prep: ClipPrep, *, variational: bool) -> ConvVAEModule:
    """The network of ``config`` on ``prep``'s bands and vocabulary."""
    return ConvVAEModule(n_mels=prep.n_mels, crop_frames=config.crop_frames, width=config.width,
                         latent_dim=config.latent_dim, crop_latent_dim=config.crop_latent_dim,
                         temporal_dim=config.temporal_dim, temporal_hop=config.temporal_hop,
                         lyrics_dim=prep.lyrics_dim,
                         lyrics_latent_dim=config.lyrics_latent_dim, lyrics_hidden=config.lyrics_hidden,
                         modality=config.modality, lyrics_weight=config.lyrics_weight, variational=variational,
                         crop_sigma=bool(config.crop_sigma), cepstral_also=config.cepstral_also,
                         percussive_also=config.percussive_also,
                         band_levels=(prep.band_mean, prep.band_std) if prep.band_mean is not None else None)


def product_of_groups(mu: torch.Tensor, logvar: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Product of each group of K adjacent crop posteriors with the prior N(0, I).

    mu, logvar : (G·K, d) -> (mu, logvar) of the G tracks, each (G, d):
    ``prec = 1 + Σ_k 1/var_k``, ``mu = Σ_k (mu_k / var_k) / prec`` (per dimension).
    """
    G = mu.shape[0] // K
    if G * K != mu.shape[0]:
        raise ValueError(f"a batch of {mu.shape[0]} crops does not split into groups of {K}")
    prec_k = torch.exp(-logvar).view(G, K, -1)
    prec = 1.0 + prec_k.sum(1)
    return (mu.view(G, K, -1) * prec_k).sum(1) / prec, -torch.log(prec)


# ------------------------------------------------------------------ whole-clip encoding / excerpts
def product_of_posteriors(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Precision-weighted product of n crop posteriors with the prior N(0, I): (n, d) -> (d,) mean
    (one group of all n crops, :func:`product_of_groups`)."""
    return product_of_groups(mu, logvar, mu.shape[0])[0][0]


@torch.no_grad()
def encode_clips(module: ConvVAEModule, prep: ClipPrep, inputs: ModelInputs, *, hop: int) -> np.ndarray:
    """Track embeddings (n, latent_dim) float32: audio block from crops every ``hop`` frames
    (product of posteriors; mean of the codes for an autoencoder), lyrics block from the lyrics."""
    module.eval()
    data = prep.training_data(inputs)
    n = len(inputs)
    blocks = []
    device = next(module.parameters()).device
    if module.use_audio:
        Z = np.zeros((n, module.d_a), np.float32)
        T = prep.crop
        for i in range(n):
            starts = crop_starts(int(inputs.clips.lengths[i]), T, hop)
            mus, lvs = [], []
            for s in range(0, len(starts), CROP_CHUNK):
                part = starts[s:s + CROP_CHUNK]
                x = torch.from_numpy(prep.standardise(inputs.clips.crops(np.full(len(part), i), part, T)))
                mu, lv = module.audio_posterior(x.to(device))
                mus.append(mu)
                lvs.append(lv)
            mu = torch.cat(mus)
            ds = module.d_static
            Z[i, :ds] = (mu[:, :ds].mean(0) if lvs[0] is None
                         else product_of_posteriors(mu[:, :ds], torch.cat(lvs)[:, :ds])).cpu().numpy()
            if module.d_temp:
                # the temporal latent is not a property of the track: its block says how much each channel
                # moves (std over time of the posterior mean, averaged over the crops)
                Z[i, ds:] = module.embedding_means(mu)[:, ds:].mean(0).cpu().numpy()
        blocks.append(Z)
    if module.use_lyrics:
        parts = []
        for s in range(0, n, ENCODE_CHUNK):
            lyr, lmask = data.lyrics(np.arange(s, min(n, s + ENCODE_CHUNK)))
            parts.append(module.lyrics_posterior(lyr.to(device), lmask.to(device))[0].cpu().numpy())
        blocks.append(np.concatenate(parts) if parts else np.zeros((0, module.d_l), np.float32))
    return np.concatenate(blocks, 1).astype(np.float32)


def excerpt(prep: ClipPrep, inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
    """The fixed excerpt of each track: ((n, F, T) dB re. full scale, (n,) first frames) of its centre crop."""
    T = prep.crop
    starts = np.array([centre_start(int(n), T) for n in inputs.clips.lengths], dtype=np.int64)
    return inputs.clips.crops(np.arange(len(inputs)), starts, T), starts


@torch.no_grad()
def reconstruct_excerpt(module: ConvVAEModule, prep: ClipPrep, inputs: ModelInputs) -> ModelInputs:
    """Decode the centre excerpt of each track from its posterior mean: ``mel`` (n, F, T) in dB."""
    if not module.use_audio:
        raise BadInputError(None, "a lyrics-only model has no spectrogram to reconstruct")
    module.eval()
    data = prep.training_data(inputs)
    outs = []
    device = next(module.parameters()).device
    for s in range(0, len(inputs), ENCODE_CHUNK):
        batch = data.batch(np.arange(s, min(len(inputs), s + ENCODE_CHUNK)), rng=None, device=device)
        outs.append(module.decode(module.posterior(batch)[0])["x_hat"].cpu())
    result = prep.outputs({"x_hat": torch.cat(outs)})
    result.track_ids = list(inputs.track_ids)
    return result


class ConvVAE(TorchModel):
    """The spectrogram VAE: whole-clip crops, learned per-band σ, concatenated lyrics block."""

    name = "conv"
    label = "ConvVAE"
    config_class = ConvVAEConfig
    training_class = VAETrainConfig
    #: The whole-clip recipe (ConvVAEConfig): 30 epochs × 100 steps = 3,000 steps of 64 random crops; AdamW (weight decay
    #: 1e-4), lr 1e-3 with a 200-step warm-up and a cosine; grad-norm clip 1.0 (loss per element);
    #: β warm-up over 1,000 steps; free bits 0.25 nats/dim. Every track trains (no validation split:
    #: the model is scored on the corpus it is fitted on); the "validation" record uses centre crops
    #: (of at most 4,096 tracks, ``core.training.loop.EVAL_ROWS``).
    #: Then, with the temporal latent, a refinement of 10 epochs (1,000 steps, the learning rate warmed up and
    #: decayed again) in which only the temporal path and the audio decoder learn (:meth:`ConvVAEModule.training_stage`).
    training_defaults = {"epochs": 30, "steps_per_epoch": 100, "batch_size": 64, "lr": 1e-3,
                         "weight_decay": 1e-4, "lr_warmup_steps": 200, "lr_schedule": "cosine", "clip_norm": 1.0,
                         "warmup_steps": 1000, "free_bits": 0.25, "val_fraction": 0.0, "patience": None,
                         "refine_epochs": 10}
    #: A run that fits a small machine's patience: 10 epochs x 30 steps of 32 crops at width 64, about a
    #: tenth of the recipe's steps at a quarter of their cost (the Train page's "Quick run"). It learns
    #: less than the recipe; the page says so and shows both estimates.
    quick_training = {"epochs": 10, "steps_per_epoch": 30, "batch_size": 32, "width": 64}
    variational = True
    spectrogram_vae = True
    cuda_pays_off = True  # CUDA is 5x (batch 32) to 17x (batch 256) faster (core.training.device)
    cuda_batch_size = 256

    @property
    def needs(self) -> set[str]:
        return clip_needs(self.modality)  # a model that found no usable lyrics reads audio alone

    @property
    def latent_dim(self) -> int:
        if self.is_fitted():
            return int(self.module_.latent_dim)
        c = self.config
        audio = c.latent_dim + (c.crop_latent_dim + c.temporal_dim if self.variational else 0)
        return (audio if c.modality != "lyrics" else 0) + (c.lyrics_latent_dim if c.modality != "audio" else 0)

    @property
    def optional_needs(self) -> frozenset[str]:
        """With audio, lyrics are optional: a track, or a whole collection, without them has the prior as its
        lyrics block. A lyrics-only model needs them."""
        return frozenset({"lyrics"}) if self.modality == "both" else frozenset()

    def latent_blocks(self) -> tuple[LatentBlock, ...]:
        """``audio`` (the track block), ``crop`` (audio of one excerpt: not track-level), ``temporal`` (how much
        each channel of the temporal latent moves: not track-level either) and ``lyrics``, as present."""
        if self.is_fitted():
            m = self.module_
            d_track, d_audio, d_lyrics, d_temp = m.d_track, m.d_a, m.d_l, m.d_temp
        else:
            c = self.config
            d_audio = self.latent_dim - (c.lyrics_latent_dim if c.modality != "audio" else 0)
            grouped = c.crop_latent_dim > 0 or c.temporal_dim > 0
            d_track = c.latent_dim if d_audio and self.variational and grouped else 0
            d_temp = c.temporal_dim if d_track else 0
            d_lyrics = self.latent_dim - d_audio
        blocks = []
        if d_track:
            blocks.append(LatentBlock("audio", "audio", 0, d_track))
            if d_audio - d_temp > d_track:
                blocks.append(LatentBlock("crop", "audio", d_track, d_audio - d_temp, False))
            if d_temp:
                blocks.append(LatentBlock("temporal", "audio", d_audio - d_temp, d_audio, False, decoded=False))
        elif d_audio:
            blocks.append(LatentBlock("audio", "audio", 0, d_audio))
        if d_lyrics:
            blocks.append(LatentBlock("lyrics", "lyrics", d_audio, d_audio + d_lyrics))
        return tuple(blocks)

    @property
    def modality(self) -> str:
        """The modality really used: "audio" when lyrics were asked for but none were usable."""
        return self.prep_.modality if self.is_fitted() else self.config.modality

    def beta_normalised(self) -> float | None:
        """β·d/(F·T) (Higgins et al.), with d the audio block; None without a spectrogram."""
        if self.training is None or self.config.modality == "lyrics":
            return None
        n_mels = self.prep_.n_mels if self.is_fitted() else 128
        return normalised_beta(self.training.beta, latent_dim=self.config.latent_dim + self.config.crop_latent_dim
                               + self.config.temporal_dim,
                               n_elements=n_mels * self.config.crop_frames)

    def refines(self) -> bool:
        """A temporal latent is refined after the main stage (``refine_epochs``; 0 trains it from the first step)."""
        return self.variational and self.config.temporal_dim > 0 and self.config.modality != "lyrics"

    def _fit_preprocessing(self, inputs: ModelInputs) -> ClipPrep:
        return fit_clip_prep(self.config, inputs, needs=self.needs)

    def _network(self) -> nn.Module:
        return conv_network(self.config, self.prep_, variational=self.variational)

    def validate(self) -> None:
        super().validate()
        c = self.config
        if c.crop_latent_dim < 0 or c.crops_per_track < 1 or c.temporal_dim < 0:
            raise ValueError(f"{type(self).__name__}: crop_latent_dim and temporal_dim must be >= 0 and "
                             f"crops_per_track >= 1, got {c.crop_latent_dim}, {c.temporal_dim} and {c.crops_per_track}")
        if c.temporal_dim and (c.temporal_hop not in (1, 2, 4, 8) or c.crop_frames % c.temporal_hop):
            raise ValueError(f"{type(self).__name__}: temporal_hop must be 1, 2, 4 or 8 and divide crop_frames "
                             f"({c.crop_frames}), got {c.temporal_hop}")
        if self.training is not None and self.training.batch_size % c.crops_per_track:
            raise ValueError(f"{type(self).__name__}: batch_size ({self.training.batch_size}) must be a multiple "
                             f"of crops_per_track ({c.crops_per_track})")

    def _training_data(self, inputs: ModelInputs):
        grouped = self.config.crop_latent_dim > 0 or self.config.temporal_dim > 0
        group = self.config.crops_per_track if self.variational and grouped else 1
        return self.prep_.training_data(inputs, group=group)

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        """Track embeddings (n, latent_dim): see the module docstring."""
        self._check_fitted()
        self._check_needs(inputs)
        with self.inference_threads():
            return encode_clips(self.module_, self.prep_, inputs, hop=self.config.eval_hop)

    def excerpt(self, inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        """((n, F, T) dB, (n,) first frames) of the centre excerpt that :meth:`reconstruct` rebuilds."""
        self._check_fitted()
        return excerpt(self.prep_, inputs)

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        """The centre excerpt decoded from its posterior mean (``mel`` in dB re. full scale)."""
        self._check_fitted()
        self._check_needs(inputs)
        with self.inference_threads():
            return reconstruct_excerpt(self.module_, self.prep_, inputs)

    def input_spec(self) -> dict:
        return {**super().input_spec(), "modality": self.modality}


class BetaVAE(ConvVAE):
    """The ConvVAE trained with β = 4 (a loss setting): ``create("beta")``."""

    name = "beta"
    label = "Beta-VAE"
    training_defaults = {**ConvVAE.training_defaults, "beta": 4.0}
