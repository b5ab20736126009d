"""Real CSI captures from WiFi cards, read by csiread into one :class:`CsiRecording`.

    >>> from csipose.io import read_capture
    >>> rec = read_capture("intel5300_sample_0x5_64_3000.dat")         # doctest: +SKIP
    >>> rec.csi.shape, rec.plan                                          # doctest: +SKIP
    ((2998, 1, 3, 30), 'IWL5300_30')

The parsing is csiread's (``pip install 'csipose[hardware]'``, MIT, github: citysu/csiread);
csipose only puts every card's reading into one layout: complex CSI ``[T, tx, rx, S]``, the
signed subcarrier index of each of the ``S`` tones, timestamps in seconds, and the source's
metadata. Formats, by ``format=``:

- ``"intel5300"``: the Linux 802.11n CSI Tool's ``.dat`` (beamforming feedback records,
  code 0xbb): 30 grouped tones (:data:`~csipose.PLANS` ``IWL5300_30``, or ``IWL5300_40_30`` for
  a 40 MHz rate); ``timestamp_low`` is the NIC's 1 MHz clock, unwrapped across its 2^32 wrap.
  Packets whose antenna counts differ from the capture's most common ones are dropped (counted
  in ``metadata["dropped_packets"]``). The CSI is csiread's ``csi``: unscaled, antennas in the
  order the card reports them (its permutation is ``metadata["perm"]``).
- ``"atheros"``: the Atheros CSI Tool's ``.dat``: 56 (HT20) or 114 (HT40) tones; timestamps in µs.
- ``"esp32"``: ESP32-CSI-Tool's ``.csv`` (``CSI_DATA`` lines): the 64 LLTF tones reordered to
  signed indices -32..31, of which the tones that are zero in every packet (DC and guards) are
  dropped; ``local_timestamp`` in µs.

- ``"nexmon"``: nexmon_csi's ``.pcap`` (UDP frames from the Ethernet source ``NEXMON``), read with
  ``read_capture(path, format="nexmon", chip=..., bandwidth=...)``: csiread needs the Broadcom
  chip (:data:`NEXMON_CHIPS`) and the bandwidth in MHz (:data:`NEXMON_BANDWIDTHS`), which the file
  does not state. Each packet is one (receive core, spatial stream) of one 802.11 frame; consecutive
  packets of one sequence number make one frame, placed at ``[spatial, core]`` (tx = spatial stream,
  rx = core). Frames that do not hold the capture's most common set of (core, spatial) pairs are
  dropped (their packets counted in ``metadata["dropped_packets"]``); a frame's timestamp is its first
  packet's pcap time. The chip reports its N = 3.2 x bandwidth tones in FFT order 0..N/2-1, -N/2..-1,
  as csiread returns them; they are reordered to signed indices -N/2..N/2-1, of which the tones that
  are zero in every packet are dropped: DC and the guard tones (at 20 MHz -32..-29 and +29..+31,
  leaving -28..-1, +1..+28 = ``HT20``), and the pilots on a chip that blanks them. The CSI is
  csiread's ``csi``: unscaled (int16 I/Q on 4339 and 43455c0, csiread's float unpacking on 4358 and
  4366c0). ``metadata``: ``chip``, ``bandwidth_mhz``, ``chan_spec`` and ``channel`` (its low byte),
  ``chip_version``, per frame ``seq`` and ``src_addr`` (the transmitter's MAC, ``"aa:bb:..."``), and
  ``rssi`` (``int [T, tx, rx]`` dBm) and ``frame_control`` when the capture has nexmon_csi's current
  header (2-byte magic 0x1111, then RSSI and frame-control bytes: the fields csiread.NexmonPull46
  reports as ``rssi``/``fc``; the old 4-byte magic 0x11111111 header has neither).

``"picoscenes"`` (``.csi``) is recognised but not read yet: csiread parses it only with the payload
layout given, and no capture is at hand to test a reading against; it raises a clear error.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from csipose.errors import ArgumentError, DatasetError

__all__ = ["FORMATS", "NEXMON_BANDWIDTHS", "NEXMON_CHIPS", "CsiRecording", "detect_format", "read_capture"]

#: Capture formats and the files they come in.
FORMATS = {
    "intel5300": "Linux 802.11n CSI Tool (Intel 5300) .dat",
    "atheros": "Atheros CSI Tool .dat",
    "esp32": "ESP32-CSI-Tool .csv",
    "nexmon": "nexmon_csi .pcap",
    "picoscenes": "PicoScenes .csi",
}
#: The Broadcom chips csiread.Nexmon unpacks (4339 and 43455c0: int16 I/Q; 4358 and 4366c0: packed float).
NEXMON_CHIPS = ("4339", "43455c0", "4358", "4366c0")
#: nexmon_csi bandwidths in MHz; the chip reports 3.2 x bandwidth tones (64, 128, 256).
NEXMON_BANDWIDTHS = (20, 40, 80)
_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}


@dataclass
class CsiRecording:
    """One capture in one layout.

    Attributes:
        path: the capture file.
        format: one of :data:`FORMATS`.
        timestamps: ``float64[T]`` seconds on the capture's own clock.
        csi: ``complex64[T, tx, rx, S]``.
        subcarriers: ``int64[S]`` signed subcarrier index of each tone.
        plan: the :data:`csipose.PLANS` entry whose tones these are, or None.
        metadata: what else the source reports: scalars (``channel_mhz``, ``bandwidth_mhz``,
            ``dropped_packets``, ...) and per-packet arrays (``rssi``, ...).
    """

    path: Path
    format: str
    timestamps: np.ndarray
    csi: np.ndarray
    subcarriers: np.ndarray
    plan: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def packets(self) -> int:
        """T."""
        return int(self.csi.shape[0])

    @property
    def tx(self) -> int:
        """Transmit antennas (spatial streams)."""
        return int(self.csi.shape[1])

    @property
    def rx(self) -> int:
        """Receive antennas."""
        return int(self.csi.shape[2])

    def __repr__(self) -> str:
        plan = self.plan or f"{len(self.subcarriers)} tones"
        return (f"CsiRecording({os.fspath(self.path)!r}, {self.format}, {self.packets} packets, "
                f"tx={self.tx}, rx={self.rx}, {plan})")


def detect_format(path: str | os.PathLike[str]) -> str:
    """The capture format of ``path``, read from its first bytes.

    Raises:
        DatasetError: a missing file, or content that is none of :data:`FORMATS`
            recognisably (then pass ``format=`` to :func:`read_capture`).
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as err:
        raise DatasetError(f"{p}: cannot read the capture ({err.strerror})") from None
    if not head:
        raise DatasetError(f"{p}: empty file; expected a CSI capture ({', '.join(FORMATS)})")
    if head[:4] in _PCAP_MAGIC:
        return "nexmon"
    if head.lstrip().startswith(b"CSI_DATA") or b"\nCSI_DATA" in head[:2048]:
        return "esp32"
    if _looks_intel(head):
        return "intel5300"
    if _looks_atheros(head):
        return "atheros"
    raise DatasetError(
        f"{p}: the capture format cannot be told from its content; pass format= one of {', '.join(FORMATS)} "
        "(--format on the command line)"
    )


def _looks_intel(head: bytes) -> bool:
    """Records of a 2-byte big-endian length then a code byte, chaining to the end of ``head``,
    with at least one beamforming record (0xbb) of a plausible size."""
    pos, records, bfee = 0, 0, False
    while pos + 3 <= len(head) and records < 64:
        (length,) = struct.unpack(">H", head[pos : pos + 2])
        if length == 0:
            return False
        if head[pos + 2] == 0xBB:
            if length < 20:
                return False
            bfee = True
        pos += 2 + length
        records += 1
    return bfee and records >= 1


def _looks_atheros(head: bytes) -> bool:
    """The first record's header: a channel in MHz, 56 or 114 tones, 1-3 antennas each way."""
    if len(head) < 27:
        return False
    for order in "<>":
        channel = struct.unpack(order + "H", head[12:14])[0]
        tones, nr, nc = head[18], head[19], head[20]
        if (2300 <= channel <= 2500 or 4900 <= channel <= 5900) and tones in (56, 114) and 1 <= nr <= 3 and 1 <= nc <= 3:
            return True
    return False


def read_capture(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    chip: str | None = None,
    bandwidth: int | None = None,
) -> CsiRecording:
    """Reads a capture (see the module docstring); ``format`` is detected when None.

    Args:
        path: the capture file.
        format: one of :data:`FORMATS`, or None to tell it from the content.
        chip: nexmon only, and required there: one of :data:`NEXMON_CHIPS`.
        bandwidth: nexmon only, and required there: MHz, one of :data:`NEXMON_BANDWIDTHS`.

    Raises:
        DatasetError: a missing, empty, truncated or unreadable capture, or one of unknown format.
        ArgumentError: an unknown ``format``, csiread not installed, a nexmon capture without
            ``chip``/``bandwidth`` or with values csiread does not know (this one is also a
            DatasetError, as the nexmon refusal was before), or ``chip``/``bandwidth`` for
            another format.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: " + ("not a file; expected a capture file" if p.exists() else "capture file not found"))
    if format is None:
        format = detect_format(p)
    if format not in FORMATS:
        raise ArgumentError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    nexmon = _nexmon_options(p, chip, bandwidth) if format == "nexmon" else None
    if nexmon is None and (chip is not None or bandwidth is not None):
        given = " and ".join(n for n, v in (("chip", chip), ("bandwidth", bandwidth)) if v is not None)
        raise ArgumentError(f"{given}: apply to format='nexmon' only, not {format!r}")
    if format == "picoscenes":
        raise DatasetError(
            f"{p}: {FORMATS[format]} captures are not read by csipose yet (csiread needs the payload "
            "layout); convert them to a .npz of complex csi [F, A, S, P]"
        )
    try:
        import csiread
    except ImportError:
        raise ArgumentError(f"{p}: reading captures needs csiread: pip install 'csipose[hardware]'") from None
    if nexmon is not None:
        _check_pcap(p, *nexmon)  # before csiread: it reads each packet into a fixed 4 KiB buffer
    readers = {"intel5300": _intel, "atheros": _atheros, "esp32": _esp32}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # csiread's parsers use deprecated numpy text parsing
            recording = _nexmon(p, csiread, *nexmon) if nexmon is not None else readers[format](p, csiread)
    except DatasetError:
        raise
    except Exception as err:  # csiread raises many kinds on corrupt input
        raise DatasetError(f"{p}: not a readable {FORMATS[format]} capture ({type(err).__name__}: {err})") from None
    if recording.packets == 0:
        raise DatasetError(f"{p}: no CSI packets in this {FORMATS[format]} capture")
    from csipose.subcarrier import PLANS

    matching = [name for name, plan in PLANS.items() if np.array_equal(plan.indices, recording.subcarriers)]
    card = {"intel5300": "IWL5300", "atheros": "ATHEROS", "esp32": "ESP32", "nexmon": "NEXMON"}[format]
    recording.plan = next((n for n in matching if n.startswith(card)), matching[0] if matching else None)
    return recording


def _nexmon_options(path: Path, chip: Any, bandwidth: Any) -> tuple[str, int]:
    """Checks nexmon's ``chip`` and ``bandwidth``; the error names each one missing or unknown."""
    chips, bandwidths = ", ".join(repr(c) for c in NEXMON_CHIPS), ", ".join(map(str, NEXMON_BANDWIDTHS))
    ask = (f'pass format="nexmon", chip=... (one of {chips}), bandwidth=... (MHz, one of {bandwidths}) '
           "(--chip and --bandwidth on the command line)")
    missing = [name for name, value in (("chip", chip), ("bandwidth", bandwidth)) if value is None]
    if missing:
        raise ArgumentError(
            f"{path}: a {FORMATS['nexmon']} capture needs its {' and '.join(missing)}: csiread needs the chip "
            f"and bandwidth, which the file does not state; {ask}"
        )
    if not isinstance(chip, str) or chip not in NEXMON_CHIPS:
        raise ArgumentError(f"chip: expected one of {chips}, got {chip!r}")
    integral = isinstance(bandwidth, (int, np.integer)) and not isinstance(bandwidth, bool)
    if not integral or int(bandwidth) not in NEXMON_BANDWIDTHS:
        raise ArgumentError(
            f"bandwidth: expected one of {bandwidths} (MHz), got {bandwidth!r}"
        )
    return chip, int(bandwidth)


# ------------------------------------------------------------------------------ readers
def _majority(*columns: np.ndarray) -> np.ndarray:
    """``bool[T]``: packets whose values in every column equal the most common combination."""
    combos = np.stack(columns, axis=1)
    values, counts = np.unique(combos, axis=0, return_counts=True)
    return np.all(combos == values[np.argmax(counts)], axis=1)


def _unwrap_clock(ticks: np.ndarray, bits: int) -> np.ndarray:
    """A counter that wraps at ``2**bits`` made monotonic (one wrap per backward step)."""
    t = np.asarray(ticks, dtype=np.int64)
    wraps = np.concatenate([[0], np.cumsum(np.diff(t) < 0)])
    return t + wraps * (1 << bits)


def _check_records(path: Path, orders: str) -> None:
    """Refuses a file whose chain of length-prefixed records (2-byte length in one of the byte
    ``orders``) does not end exactly at the end of the file: a truncated capture. Only the
    2-byte record headers are read (csiread reads the records themselves)."""
    size = path.stat().st_size
    ends, zero = {}, {}
    with open(path, "rb") as fh:
        for order in orders:
            pos = 0
            while pos + 2 <= size:
                fh.seek(pos)
                (length,) = struct.unpack(order + "H", fh.read(2))
                if length == 0:
                    zero[order] = pos
                    break
                pos += 2 + length
            if pos == size:
                return
            ends[order] = pos
    past = [end for end in ends.values() if end > size]
    if not past:  # every chain stopped short: at a record of length 0, or before a stray last byte
        where = f"a record of length 0 at byte {max(zero.values())}" if zero else f"a stray byte at {size - 1}"
        raise DatasetError(f"{path}: {where} ({size} bytes); expected whole length-prefixed records")
    raise DatasetError(
        f"{path}: truncated: its last record runs {min(past) - size} byte(s) past the end of the file "
        f"({size} bytes); expected whole length-prefixed records"
    )


def _truncated(path: Path, parsed: int, minimum: int) -> None:
    if parsed < minimum:
        raise DatasetError(f"{path}: holds no complete CSI record (truncated or not this format)")


def _intel(path: Path, csiread: Any) -> CsiRecording:
    from csiread.utils import scidx

    _check_records(path, ">")
    data = csiread.Intel(os.fspath(path), nrxnum=3, ntxnum=3, pl_size=0, if_report=False)
    data.read()
    _truncated(path, int(data.count), 1)
    keep = _majority(np.asarray(data.Nrx), np.asarray(data.Ntx))
    nrx, ntx = int(data.Nrx[keep][0]), int(data.Ntx[keep][0])
    csi = np.asarray(data.csi)[keep][:, :, :nrx, :ntx]  # [T, 30, rx, tx]
    wide = bool(np.asarray(data.rate)[keep][0] & 0x800)  # the rate's HT40 flag
    return CsiRecording(
        path=path, format="intel5300",
        timestamps=_unwrap_clock(np.asarray(data.timestamp_low)[keep], 32) / 1e6,
        csi=np.ascontiguousarray(csi.transpose(0, 3, 2, 1)).astype(np.complex64),
        subcarriers=np.asarray(scidx(40, 4) if wide else scidx(20, 2), dtype=np.int64),
        metadata=_arrays(data, keep, {
            "rssi_a": "rssi_a", "rssi_b": "rssi_b", "rssi_c": "rssi_c", "noise": "noise", "agc": "agc",
            "rate": "rate", "bfee_count": "bfee_count", "perm": "perm",
        }) | {"bandwidth_mhz": 40 if wide else 20, "dropped_packets": int((~keep).sum())},
    )  # fmt: skip


def _atheros(path: Path, csiread: Any) -> CsiRecording:
    def read(tones: int) -> Any:
        data = csiread.Atheros(os.fspath(path), nrxnum=3, ntxnum=3, pl_size=0, tones=tones, if_report=False)
        data.read()
        return data

    _check_records(path, "<>")
    data = read(56)
    _truncated(path, int(data.count), 1)
    tones = np.asarray(data.num_tones)
    if np.count_nonzero(tones == 114) > np.count_nonzero(tones == 56):
        data = read(114)
        tones = np.asarray(data.num_tones)
    keep = _majority(tones, np.asarray(data.nr), np.asarray(data.nc))
    s, nr, nc = int(tones[keep][0]), int(data.nr[keep][0]), int(data.nc[keep][0])
    csi = np.asarray(data.csi)[keep][:, :s, :nr, :nc]  # [T, S, rx, tx]
    indices = np.r_[-28:0, 1:29] if s == 56 else np.r_[-58:-1, 2:59]
    channel = np.asarray(data.tx_channel)[keep]
    return CsiRecording(
        path=path, format="atheros", timestamps=np.asarray(data.timestamp, dtype=np.float64)[keep] / 1e6,
        csi=np.ascontiguousarray(csi.transpose(0, 3, 2, 1)).astype(np.complex64),
        subcarriers=indices.astype(np.int64),
        metadata=_arrays(data, keep, {"rssi": "rssi", "noise_floor": "noise_floor", "rate": "Rate"})
        | {"channel_mhz": int(np.bincount(channel).argmax()), "bandwidth_mhz": 20 if s == 56 else 40,
           "dropped_packets": int((~keep).sum())},
    )  # fmt: skip


def _esp32(path: Path, csiread: Any) -> CsiRecording:
    data = csiread.ESP32(os.fspath(path), if_report=False)
    data.read()
    csi = np.asarray(data.csi)  # [T, 64]: LLTF tones 0..31, then -32..-1
    if csi.ndim != 2 or csi.shape[1] != 64:
        raise DatasetError(f"{path}: expected 64 LLTF tones per ESP32 CSI_DATA line, got shape {list(csi.shape)}")
    order = np.r_[32:64, 0:32]  # to signed indices -32..31
    signed = np.r_[-32:32]
    csi = csi[:, order]
    used = np.any(csi != 0, axis=0)
    return CsiRecording(
        path=path, format="esp32",
        timestamps=_unwrap_clock(np.asarray(data.local_timestamp), 32) / 1e6,
        csi=csi[:, used][:, None, None, :].astype(np.complex64),
        subcarriers=signed[used].astype(np.int64),
        metadata={"rssi": np.asarray(data.rssi), "noise_floor": np.asarray(data.noise_floor),
                  "channel": int(np.bincount(np.asarray(data.channel)).argmax()),
                  "bandwidth_mhz": 20, "dropped_packets": 0},
    )  # fmt: skip


def _arrays(data: Any, keep: np.ndarray, names: Mapping[str, str]) -> dict[str, Any]:
    return {key: np.asarray(getattr(data, attr))[keep] for key, attr in names.items()}


_NEXMON_HEADERS = 14 + 20 + 8 + 18  # Ethernet, IPv4, UDP, nexmon_csi header; then 4 bytes a tone


def _check_pcap(path: Path, chip: str, bandwidth: int) -> None:
    """Walks the pcap records: refuses a truncated file, and nexmon packets (Ethernet source
    ``NEXMON``, where csiread looks) whose CSI is not the 3.2 x ``bandwidth`` tones asked for."""
    data = path.read_bytes()
    if len(data) < 24:
        raise DatasetError(f"{path}: truncated pcap: {len(data)} bytes, shorter than its 24-byte global header")
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nfft = int(bandwidth * 3.2)
    pos, sizes = 24, dict[int, int]()
    while pos < len(data):
        caplen = struct.unpack_from(order + "I", data, pos + 8)[0] if pos + 16 <= len(data) else 0
        end = pos + 16 + caplen
        if end > len(data):
            raise DatasetError(
                f"{path}: truncated: its last pcap record runs {end - len(data)} byte(s) past the end of the "
                f"file ({len(data)} bytes)"
            )
        if caplen >= 12 and data[pos + 16 + 6 : pos + 16 + 12] == b"NEXMON":
            sizes[caplen] = sizes.get(caplen, 0) + 1
        pos = end
    wrong = {c: n for c, n in sizes.items() if c != _NEXMON_HEADERS + 4 * nfft}
    if wrong:
        caplen = max(wrong, key=lambda c: wrong[c])
        tones = (caplen - _NEXMON_HEADERS) / 4
        fits = [b for b in NEXMON_BANDWIDTHS if int(b * 3.2) == tones]
        hint = f"; pass bandwidth={fits[0]}" if fits else ""
        raise ArgumentError(
            f"{path}: {sum(wrong.values())} nexmon packet(s) of {caplen} bytes carry {tones:g} tones, not the "
            f"{nfft} of bandwidth={bandwidth} (chip {chip}){hint}"
        )


def _nexmon(path: Path, csiread: Any, chip: str, bandwidth: int) -> CsiRecording:
    data = csiread.Nexmon(os.fspath(path), chip, bandwidth, if_report=False)
    data.read()
    count = int(data.count)
    if count == 0:
        empty = np.zeros((0, 1, 1, 0), np.complex64)
        return CsiRecording(path, "nexmon", np.zeros(0), empty, np.zeros(0, np.int64))  # read_capture refuses it
    nfft = int(bandwidth * 3.2)
    csi = np.asarray(data.csi)[:count]  # [P, nfft]: tones in FFT order 0..N/2-1, -N/2..-1
    seq, core, spatial = (np.asarray(getattr(data, a))[:count].astype(np.int64) for a in ("seq", "core", "spatial"))
    scale = 1e-9 if data.nano else 1e-6
    seconds = np.asarray(data.sec)[:count].astype(np.float64) + np.asarray(data.usec)[:count] * scale

    # frames: runs of consecutive packets with one sequence number
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    ends = np.r_[starts[1:], count]
    pairs = [tuple(sorted(zip(core[a:b].tolist(), spatial[a:b].tolist()))) for a, b in zip(starts, ends)]
    whole = [len(set(ps)) == len(ps) for ps in pairs]  # a pair twice: two frames under one seq, or a repeat
    tally: dict[tuple, int] = {}
    for ps, ok in zip(pairs, whole):
        if ok:
            tally[ps] = tally.get(ps, 0) + 1
    if not tally:
        raise DatasetError(f"{path}: no nexmon frame holds each (core, spatial) pair once")
    common = max(tally, key=lambda ps: tally[ps])
    cores = sorted({c for c, _ in common})
    streams = sorted({s for _, s in common})
    if len(common) != len(cores) * len(streams):
        raise DatasetError(
            f"{path}: the capture's frames hold the (core, spatial) pairs {list(common)}, not a full grid of "
            f"cores {cores} x spatial streams {streams}"
        )
    keep = [i for i, ps in enumerate(pairs) if ps == common and whole[i]]
    rows = np.concatenate([np.arange(starts[i], ends[i]) for i in keep])
    frame = np.repeat(np.arange(len(keep)), len(common))
    tx = np.searchsorted(streams, spatial[rows])
    rx = np.searchsorted(cores, core[rows])
    out = np.zeros((len(keep), len(streams), len(cores), nfft), dtype=np.complex64)
    out[frame, tx, rx] = np.fft.fftshift(csi[rows], axes=-1)  # to signed tones -N/2..N/2-1
    signed = np.arange(-nfft // 2, nfft // 2)
    used = np.any(out != 0, axis=(0, 1, 2))
    first = starts[keep]

    magic = np.asarray(data.magic)[:count].astype(np.int64)
    src = np.asarray(data.src_addr)[:count][first]
    chan_spec = np.asarray(data.chan_spec)[:count].astype(np.int64)
    metadata: dict[str, Any] = {
        "chip": chip, "bandwidth_mhz": bandwidth,
        "chan_spec": int(np.bincount(chan_spec).argmax()),
        "chip_version": int(np.bincount(np.asarray(data.chip_version)[:count].astype(np.int64)).argmax()),
        "seq": seq[first], "src_addr": np.array([":".join(f"{int(b):02x}" for b in mac) for mac in src]),
        "dropped_packets": int(count - len(rows)),
    }  # fmt: skip
    metadata["channel"] = metadata["chan_spec"] & 0xFF
    if np.all(magic & 0xFFFF == 0x1111) and not np.all(magic == 0x11111111):
        # nexmon_csi's current header: magic 0x1111 (2 bytes), RSSI (int8), frame control (1 byte);
        # csiread.Nexmon reads these 4 bytes as one magic number, NexmonPull46 as magic, rssi, fc
        rssi = ((magic[rows] >> 16) & 0xFF).astype(np.int8).astype(np.int64)
        grid = np.zeros((len(keep), len(streams), len(cores)), dtype=np.int64)
        grid[frame, tx, rx] = rssi
        metadata["rssi"] = grid
        metadata["frame_control"] = ((magic[first] >> 24) & 0xFF).astype(np.int64)
    return CsiRecording(
        path=path, format="nexmon", timestamps=seconds[first],
        csi=np.ascontiguousarray(out[..., used]), subcarriers=signed[used].astype(np.int64), metadata=metadata,
    )  # fmt: skip
