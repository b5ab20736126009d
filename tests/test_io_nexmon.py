"""nexmon_csi .pcap captures through read_capture, on a capture generated here byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from csipose.errors import ArgumentError, DatasetError
from csipose.io import detect_format, read_capture

csiread = pytest.importorskip("csiread")

NFFT = 64  # 20 MHz
GUARDS = [-32, -31, -30, -29, 0, 29, 30, 31]  # DC and guards: zero in every packet
MAC = bytes([0xB8, 0x27, 0xEB, 0x01, 0x02, 0x03])


def _tones(frame: int, core: int) -> np.ndarray:
    """Known int16 CSI of signed tones -32..31, zero at GUARDS."""
    k = np.arange(-NFFT // 2, NFFT // 2)
    csi = (100 * frame + 10 * core + k) + 1j * (-1000 * frame - 7 * core + 3 * k)
    csi[np.isin(k, GUARDS)] = 0
    return csi


def _udp_frame(payload: bytes) -> bytes:
    eth = b"\xff" * 6 + b"NEXMON" + b"\x08\x00"  # nexmon_csi sends from the Ethernet address 'NEXMON'
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0, 1, 17, 0, bytes([10, 10, 10, 10]), b"\xff" * 4)
    udp = struct.pack(">HHHH", 5500, 5500, 8 + len(payload), 0)
    return eth + ip + udp + payload


def _nexmon_payload(seq: int, core: int, spatial: int, signed_csi: np.ndarray, rssi: int) -> bytes:
    """nexmon_csi's header (magic 0x1111, RSSI, frame control, source MAC, seq, core | spatial << 3,
    chanspec, chip version), then the tones in the chip's FFT order 0..31, -32..-1 as int16 I, Q."""
    header = struct.pack("<HbB6sHHHH", 0x1111, rssi, 0x08, MAC, seq, core | (spatial << 3), 0x1006, 0x4345)
    fft_order = np.fft.ifftshift(signed_csi)
    iq = np.empty(2 * NFFT, "<i2")
    iq[0::2], iq[1::2] = fft_order.real, fft_order.imag
    return header + iq.tobytes()


def _write_pcap(path: Path, packets: list[tuple[int, int, int, np.ndarray, int, float]]) -> None:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for seq, core, spatial, csi, rssi, t in packets:
        frame = _udp_frame(_nexmon_payload(seq, core, spatial, csi, rssi))
        sec, usec = int(t), round((t - int(t)) * 1e6)
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


def _capture(tmp_path: Path, incomplete: bool = False) -> tuple[Path, list[float]]:
    """6 frames x 2 cores x 1 spatial stream (core c's packet at +0.1 ms x c); with ``incomplete``, a 7th frame (seq 1003, between
    the 3rd and 4th) that lost its core 1 packet."""
    packets, times = [], []
    for f in range(6):
        t = 1700000000 + 0.25 * f
        order = (1, 0) if f % 2 else (0, 1)  # cores in either order within a frame
        times.append(t + 1e-4 * order[0])  # a frame's time: its first packet's
        for core in order:
            packets.append((1000 + f + (f >= 3 and incomplete), core, 0, _tones(f, core), -40 - core, t + 1e-4 * core))
        if incomplete and f == 2:
            packets.append((1003, 0, 0, _tones(99, 0), -50, t + 0.1))
    path = tmp_path / "capture.pcap"
    _write_pcap(path, packets)
    return path, times


def test_nexmon_capture_reads_to_known_values(tmp_path: Path) -> None:
    path, times = _capture(tmp_path)
    assert detect_format(path) == "nexmon"
    rec = read_capture(path, format="nexmon", chip="43455c0", bandwidth=20)
    keep = np.setdiff1d(np.arange(-32, 32), GUARDS)
    assert rec.format == "nexmon" and rec.csi.shape == (6, 1, 2, 56) and rec.csi.dtype == np.complex64
    assert np.array_equal(rec.subcarriers, keep) and rec.plan == "HT20"
    expected = np.array([[[_tones(f, c)[keep + 32] for c in (0, 1)]] for f in range(6)])
    assert np.array_equal(rec.csi, expected.astype(np.complex64))
    assert np.allclose(rec.timestamps, times, rtol=0, atol=1e-6)
    md = rec.metadata
    assert md["chip"] == "43455c0" and md["bandwidth_mhz"] == 20 and md["dropped_packets"] == 0
    assert md["chan_spec"] == 0x1006 and md["channel"] == 6 and md["chip_version"] == 0x4345
    assert list(md["seq"]) == list(range(1000, 1006))
    assert list(md["src_addr"]) == ["b8:27:eb:01:02:03"] * 6
    assert md["rssi"].shape == (6, 1, 2) and np.all(md["rssi"] == [[-40, -41]])
    assert np.all(md["frame_control"] == 8)
    # format detected, options given: the same reading
    assert np.array_equal(read_capture(path, chip="43455c0", bandwidth=20).csi, rec.csi)


def test_csiread_agrees_packet_by_packet(tmp_path: Path) -> None:
    path, _ = _capture(tmp_path)
    data = csiread.Nexmon(str(path), "43455c0", 20, if_report=False)
    data.read()
    assert data.count == 12 and data.csi.shape == (12, 64)
    rec = read_capture(path, format="nexmon", chip="43455c0", bandwidth=20)
    for p in range(12):
        f, core = divmod(p, 2)
        core = 1 - core if f % 2 else core
        assert data.seq[p] == 1000 + f and data.core[p] == core and data.spatial[p] == 0
        signed = np.fft.fftshift(data.csi[p])  # csiread keeps the chip's FFT order
        assert np.array_equal(signed[rec.subcarriers + 32], rec.csi[f, 0, core])


def test_an_incomplete_frame_is_dropped_and_counted(tmp_path: Path) -> None:
    path, times = _capture(tmp_path, incomplete=True)
    rec = read_capture(path, format="nexmon", chip="43455c0", bandwidth=20)
    assert rec.csi.shape[:3] == (6, 1, 2) and rec.metadata["dropped_packets"] == 1
    assert list(rec.metadata["seq"]) == [1000, 1001, 1002, 1004, 1005, 1006]
    assert np.allclose(rec.timestamps, times, rtol=0, atol=1e-6)
    assert np.array_equal(rec.csi[3, 0, 1], _tones(3, 1)[rec.subcarriers + 32].astype(np.complex64))


def test_missing_or_unknown_options_give_one_clear_error(tmp_path: Path) -> None:
    path, _ = _capture(tmp_path)
    ask = r'pass format="nexmon", chip=\.\.\. \(one of \'4339\', \'43455c0\', \'4358\', \'4366c0\'\), bandwidth=\.\.\. \(MHz, one of 20, 40, 80\)'
    for kwargs, missing in (({}, "chip and bandwidth"), ({"chip": "43455c0"}, "bandwidth"), ({"bandwidth": 20}, "chip")):
        with pytest.raises(ArgumentError, match=f"needs its {missing}: .*{ask}"):
            read_capture(path, **kwargs)
    with pytest.raises(ArgumentError, match="needs its chip and bandwidth"):
        read_capture(path, format="nexmon")
    with pytest.raises(ArgumentError, match=r"chip: expected one of '4339', '43455c0', '4358', '4366c0', got '4355'"):
        read_capture(path, format="nexmon", chip="4355", bandwidth=20)
    with pytest.raises(ArgumentError, match=r"bandwidth: expected one of 20, 40, 80 \(MHz\), got 160"):
        read_capture(path, format="nexmon", chip="43455c0", bandwidth=160)
    with pytest.raises(ArgumentError, match=r"carry 64 tones, not the 256 of bandwidth=80 .*pass bandwidth=20"):
        read_capture(path, format="nexmon", chip="43455c0", bandwidth=80)
    with pytest.raises(ArgumentError, match="apply to format='nexmon' only"):
        read_capture(path, format="esp32", chip="43455c0")


def test_truncated_and_empty_nexmon_captures(tmp_path: Path) -> None:
    path, _ = _capture(tmp_path)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="cut.pcap: truncated: its last pcap record runs 100 byte"):
        read_capture(cut, chip="43455c0", bandwidth=20)
    header_only = tmp_path / "none.pcap"
    header_only.write_bytes(path.read_bytes()[:24])
    with pytest.raises(DatasetError, match="no CSI packets"):
        read_capture(header_only, chip="43455c0", bandwidth=20)
