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

``"nexmon"`` (``.pcap``) and ``"picoscenes"`` (``.csi``) are recognised but not read yet: csiread
parses them only with the chip and bandwidth (nexmon) or the payload layout (PicoScenes) given,
and no capture of either is at hand to test a reading against; they raise a clear error.
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

__all__ = ["FORMATS", "CsiRecording", "detect_format", "read_capture"]

#: Capture formats and the files they come in.
FORMATS = {
    "intel5300": "Linux 802.11n CSI Tool (Intel 5300) .dat",
    "atheros": "Atheros CSI Tool .dat",
    "esp32": "ESP32-CSI-Tool .csv",
    "nexmon": "nexmon_csi .pcap",
    "picoscenes": "PicoScenes .csi",
}
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
        f"{p}: the capture format cannot be told from its content; pass format= one of {', '.join(FORMATS)}"
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


def read_capture(path: str | os.PathLike[str], format: str | None = None) -> CsiRecording:
    """Reads a capture (see the module docstring); ``format`` is detected when None.

    Raises:
        DatasetError: a missing, empty, truncated or unreadable capture, or one of unknown format.
        ArgumentError: an unknown ``format``, or csiread not installed.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: capture file not found")
    if format is None:
        format = detect_format(p)
    if format not in FORMATS:
        raise ArgumentError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    if format in ("nexmon", "picoscenes"):
        raise DatasetError(
            f"{p}: {FORMATS[format]} captures are not read by csipose yet (csiread needs the "
            f"{'chip and bandwidth' if format == 'nexmon' else 'payload layout'}); convert them to a .npz of "
            "complex csi [F, A, S, P]"
        )
    try:
        import csiread
    except ImportError:
        raise ArgumentError(f"{p}: reading captures needs csiread: pip install 'csipose[hardware]'") from None
    reader = {"intel5300": _intel, "atheros": _atheros, "esp32": _esp32}[format]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # csiread's parsers use deprecated numpy text parsing
            recording = reader(p, csiread)
    except DatasetError:
        raise
    except Exception as err:  # csiread raises many kinds on corrupt input
        raise DatasetError(f"{p}: not a readable {FORMATS[format]} capture ({type(err).__name__}: {err})") from None
    if recording.packets == 0:
        raise DatasetError(f"{p}: no CSI packets in this {FORMATS[format]} capture")
    from csipose.subcarrier import PLANS

    matching = [name for name, plan in PLANS.items() if np.array_equal(plan.indices, recording.subcarriers)]
    card = {"intel5300": "IWL5300", "atheros": "ATHEROS", "esp32": "ESP32"}[format]
    recording.plan = next((n for n in matching if n.startswith(card)), matching[0] if matching else None)
    return recording


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
    ``orders``) does not end exactly at the end of the file: a truncated capture."""
    data = path.read_bytes()
    ends = {}
    for order in orders:
        pos = 0
        while pos + 2 <= len(data):
            (length,) = struct.unpack(order + "H", data[pos : pos + 2])
            if length == 0:
                break
            pos += 2 + length
        if pos == len(data):
            return
        ends[order] = pos
    last = min(ends.values())
    raise DatasetError(
        f"{path}: truncated: its last record runs {last - len(data)} byte(s) past the end of the file "
        f"({len(data)} bytes); expected whole length-prefixed records"
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
