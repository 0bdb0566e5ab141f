# SPDX-License-Identifier: LGPL-3.0-or-later
"""CI ports of the cases of ARTIQ's coredevice test suite (``artiq/test/coredevice``) that the
simulator had to learn to pass it (README, "ARTIQ's test suite against the simulator"), written
against the experiment-free harness: DMA playback that keeps its slack, kernel builtins, the
exception chain as the host receives it, the exception-id syscall, overflow cleared by reset,
the CPLD configuration bits, the AD9910 register, RAM and alignment API, and the management port.
"""

from __future__ import annotations

import logging
import socket
import struct

import pytest
from artiq.coredevice.core import test_exception_id_sync as exception_id_sync
from artiq.language.core import delay, delay_mu, now_mu
from artiq.language.units import MHz, ms, ns, us

from sim.rtio.errors import RTIOOverflow, RTIOUnderflow

SPI_CH = 20


def test_dma_back_to_back_playback_keeps_slack(env):
    """A 40-event trace advancing the cursor 4 µs, played back to back from 20 µs of slack:
    no underflow (hardware sustains this), and the counter pays < 4.5 µs per playback."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")
    n = 1000

    def k():
        core.reset()
        with dma.record("t"):
            for _ in range(20):
                delay(100 * ns)
                ttl.on()
                delay(100 * ns)
                ttl.off()
        handle = dma.get_handle("t")
        core.break_realtime()
        delay_mu(20_000 - 125_000)  # 20 µs of slack only
        t0 = core.get_rtio_counter_mu()
        for _ in range(n):
            dma.playback_handle(handle)
        return core.get_rtio_counter_mu() - t0

    dt = env.run(k)
    assert dt / n < 4500


def test_kernel_builtins_int32_int64(env):
    """``int32``/``int64`` need no import in a kernel; an int32 wraps like the compiled value."""
    core = env.core

    def k():
        return int32(0x87654321), int64(1) << 40, int32(-2.7)  # noqa: F821 - kernel builtins

    a, b, c = env.run(k)
    assert a == 0x87654321 - (1 << 32) and b == 1 << 40 and c == -2
    assert core.target_cls.__name__ == "RV32GTarget"


class _Custom(Exception):
    pass


def test_exception_chain_reaches_the_host_as_artiq_raises_it(env, caplog):
    """Nested handling: the host gets the *first* exception of the chain, its traceback lists
    the chain in order as ``Name(id): message``; an unformattable message is logged and kept."""
    core = env.core

    def k():
        core.reset()
        try:
            raise _Custom("{foo}")
        except _Custom:
            try:
                raise RTIOUnderflow("{bar}")
            except RTIOUnderflow:
                raise RTIOOverflow("late {0}")

    with caplog.at_level(logging.ERROR), pytest.raises(_Custom) as info:
        env.run(k)
    assert str(info.value) == "{foo}"
    text = str(info.value.artiq_core_exception)
    assert text.startswith("Core Device Traceback:") and "End of Core Device Traceback" in text
    first = text.index("_Custom(")
    second = text.index("artiq.coredevice.exceptions.RTIOUnderflow(0): {bar}")
    third = text.index("artiq.coredevice.exceptions.RTIOOverflow(0): late 0")
    assert first < second < third
    assert "Couldn't format exception message" in caplog.text
    assert env.session.async_errors == []  # raised by the kernel's code, not the RTIO core


@pytest.mark.parametrize(
    "exception_id, name", [(0, "RTIOUnderflow"), (5, "CacheError"), (12, "KeyError")]
)
def test_exception_id_sync_syscall(env, exception_id, name):
    """The firmware's exception numbers: the syscall raises the named class with its name (a
    real ARTIQ's stub is bound in the kernel's module, as for ARTIQ's own test)."""
    with pytest.raises(Exception) as info:
        env.run(lambda: exception_id_sync(exception_id))
    assert type(info.value).__name__ == name and str(info.value).strip("'") == name


def test_reset_clears_input_overflow(env):
    """An input FIFO overflow is reported by the next read, and core.reset() clears the flag
    with the FIFO (the collector is in the reset domain): a later read sees the new level."""
    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")

    def overflow():
        core.reset()
        for _ in range(200):
            loop_in.sample_input()
            delay(1 * us)
        loop_in.sample_get()

    def after_reset():
        core.reset()
        loop_in.input()
        loop_out.output()
        delay(5 * us)
        loop_out.off()
        delay(5 * us)
        return loop_in.watch_stay_off()

    with pytest.raises(RTIOOverflow):
        env.run(overflow)
    core.run(lambda: delay(1 * ms), (), {})  # the remaining samples overflow the FIFO again
    assert env.run(after_reset) is True


def test_cpld_configuration_bits(env):
    """cfg_*_all write a four-bit field, each one cfg_write (896 mu) on proto_rev 9."""
    core, cpld = env.core, env.get("urukul0_cpld")

    def k():
        core.reset()
        cpld.init()
        core.break_realtime()
        t0 = now_mu()
        cpld.cfg_drctl_all(0b1010)
        cpld.cfg_drhold(2, True)
        cpld.cfg_osk_all(0b0101)
        cpld.cfg_att_en_all(0b1111)
        cpld.cfg_mask_nu_all(0b0011)
        return now_mu() - t0, cpld.cfg_reg

    dt, cfg = env.run(k)
    assert dt == 5 * 896
    assert (cfg >> 32) & 0xF == 0b1010 and (cfg >> 36) & 0xF == 0b0100
    assert (cfg >> 28) & 0xF == 0b0101 and (cfg >> 24) & 0xF == 0b1111
    assert (cfg >> 13) & 0xF == 0b0011


def _dds_ready(core, cpld, dds):
    core.reset()
    cpld.init()
    dds.init()
    core.break_realtime()


def test_ad9910_registers_and_read_write64(env):
    """FTW/POW/ASF registers read back after IO_UPDATE; write64/read64 round-trip a profile."""
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        _dds_ready(core, cpld, dds)
        dds.set_frequency(81.2345 * MHz)
        dds.set_phase(0.33)
        dds.set_amplitude(0.89)
        dds.io_update.pulse_mu(8)
        got = []
        for read in (dds.get_ftw, dds.get_pow, dds.get_asf):
            core.break_realtime()  # a read returns when the counter has reached its transfer
            got.append(read())
        core.break_realtime()
        dds.write64(0x0E + 7, 0x09ABCDEF, 0x12345678)
        dds.io_update.pulse_mu(8)
        want = (dds.frequency_to_ftw(81.2345 * MHz), dds.turns_to_pow(0.33))
        return got, want + (dds.amplitude_to_asf(0.89),), dds.read64(0x0E + 7)

    got, want, word = env.run(k)
    assert tuple(got) == want
    assert word == 0x09ABCDEF12345678


def test_ad9910_ram_access_and_playback(env):
    """RAM access goes through the active profile's range from its end address; a ramp-up to
    the frequency plays one word per 4 ns × step into the DDS state timeline (the physics'
    view of the beam) and the FTW register reads the word being played."""
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")
    words = list(range(50))
    freqs = [10 * MHz, 20 * MHz, 30 * MHz]

    def k():
        _dds_ready(core, cpld, dds)
        dds.set_cfr1(ram_enable=0)
        dds.io_update.pulse_mu(8)
        dds.set_profile_ram(start=0, end=len(words) - 1, profile=0)
        dds.set_profile_ram(start=10, end=19, profile=1)
        dds.set_profile_ram(start=100, end=102, step=25, profile=2)  # 100 ns per word
        cpld.set_profile(0, 0)
        dds.io_update.pulse_mu(8)
        dds.write_ram(words)
        cpld.set_profile(0, 1)
        dds.io_update.pulse_mu(8)
        part = [0] * 10
        dds.read_ram(part)
        core.break_realtime()
        ram = [0] * 3
        dds.frequency_to_ram(freqs, ram)
        cpld.set_profile(0, 2)
        dds.io_update.pulse_mu(8)
        dds.write_ram(ram)
        dds.set_cfr1(ram_enable=1, ram_destination=0)
        t = now_mu()
        dds.io_update.pulse_mu(8)
        delay(10 * us)
        return part, ram, t, dds.get_ftw()

    part, ram, t, ftw_now = env.run(k)
    # words[k] went to address 49 - k; profile 1 reads addresses 19 down to 10
    assert part == [words[49 - a] for a in range(19, 9, -1)]
    states = env.engine.dds_states(SPI_CH, 4, t, t + 1000)
    assert [s.t_mu - t for s in states] == [0, 100, 200]
    # ram[2 - k] went to address 100 + k: played from address 100 up
    assert [round(s.frequency_hz / 1e6, 3) for s in states] == [30.0, 20.0, 10.0]
    assert ftw_now == ram[0]  # the end address, held after the ramp


def test_io_update_alignment_calibration(make_env):
    """tune_io_update_delay finds the device database's IO_UPDATE delay again; no SYNC_CLK edge
    one mu after it, one within the next two mu after that, as ARTIQ's test checks."""
    env = make_env()
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        _dds_ready(core, cpld, dds)
        dly = dds.tune_io_update_delay()
        edges = [dds.measure_io_update_alignment(j, j + 2) for j in range(4)]
        return dly, edges

    dly, edges = env.run(k)
    assert dly == dds.io_update_delay == 0
    assert edges[(dly + 1) & 3] == 0 and edges[(dly + 3) & 3] == 1


def test_management_port_serves_the_core_log(env):
    """ARTIQ's management protocol on loopback: the log holds the kernel's collision, and
    ClearLog empties it."""
    from sim import mgmt

    port = mgmt.serve("127.0.0.1", 0)
    core, ttl = env.core, env.get("ttl_out")

    def collide():
        core.reset()
        delay(5 * us)
        for _ in range(16):
            ttl.pulse_mu(1)
            delay_mu(1)

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:

        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                data += sock.recv(n - len(data))
            return data

        def get_log() -> str:
            sock.sendall(b"\x01")
            assert read(1) == b"\x02"
            (length,) = struct.unpack("<l", read(4))
            return read(length).decode()

        sock.sendall(b"ARTIQ management\n\x00")
        assert read(1) == b"e"
        sock.sendall(b"\x02")  # ClearLog
        assert read(1) == b"\x01"
        env.run(collide)
        assert "ERROR(runtime::rtio_mgt): RTIO collision involving channel 0x0000" in get_log()
        sock.sendall(b"\x02")
        assert read(1) == b"\x01"
        assert get_log() == ""
        sock.sendall(b"\x0c")  # ConfigRead: not simulated
        assert read(1) == b"\x04"
