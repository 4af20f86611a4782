"""The OPC UA adapter against the project's asyncua simulator: mapping, no loss, restarts."""

import asyncio
import time

import pytest

from firmware_adapters.opcua import OpcUaConfig, OpcUaSource
from firmware_adapters.registry import build_source
from simulators.opcua_server import NAMESPACE_URI, SimulatorServer
from simulators.rotating_machine import RotatingMachine
from tests.servers import collect_samples, free_port
from tests.waiting import async_wait_until


def test_browsing_finds_channels_rates_and_units():
    async def main():
        async with SimulatorServer([RotatingMachine("pump-1", fs=25600.0)], port=0) as sim:
            src = OpcUaSource(OpcUaConfig(url=sim.endpoint, asset="pump-1", namespace=NAMESPACE_URI,
                                          browse_path="Assets/pump-1"))
            samples = await collect_samples(src, lambda got: sum(s.channel == "vibration_de" for s in got) >= 5,
                                            what="5 vibration blocks")
            return src, samples

    src, samples = asyncio.run(main())
    assert set(src.channels) == {"vibration_de", "temperature", "shaft_speed", "load", "block_sequence"}
    vib = src.channels["vibration_de"]
    assert (vib.rate, vib.units) == (25600.0, "g")
    assert src.channels["temperature"].units == "degC"
    blocks = [s for s in samples if s.channel == "vibration_de"]
    assert blocks and all(b.values.size == 2560 and b.rate == 25600.0 for b in blocks)


def test_subscription_loses_no_block():
    """Every block the server wrote arrives once, back to back in time."""
    async def main():
        async with SimulatorServer([RotatingMachine("m1")], port=0, block_s=0.02) as sim:
            src = build_source("opcua", {**sim.source_config("m1"), "publishing_ms": 200})
            samples = await collect_samples(src, lambda got: len(got) > 100, channel="vibration_de",
                                            what="more than 100 blocks")
            return samples

    blocks = asyncio.run(main())
    assert len(blocks) > 100  # 50 blocks/s, several per publishing interval
    for prev, nxt in zip(blocks, blocks[1:]):
        assert nxt.start_ns == prev.end_ns, "a block is missing or repeated"


@pytest.mark.slow
def test_data_flows_again_within_5_s_of_server_restart():
    port = free_port()

    async def main():
        sim = SimulatorServer([RotatingMachine("m1", seed=1)], port=port)
        await sim.start()
        src = OpcUaSource(OpcUaConfig(**sim.source_config("m1")))
        got: list[tuple[float, object]] = []

        async def consume():
            async for s in src.samples():
                got.append((time.monotonic(), s))

        task = asyncio.create_task(consume())
        await async_wait_until(lambda: len(got) > 5, 30, what="samples before the restart", show=src.stats)
        before = len(got)
        await sim.stop()
        # the server stays down until the adapter noticed and failed three reconnects: its back-off
        # (0.2, 0.4, 0.8 s, ...) has grown, so the restart tests the back-off, not the first retry
        await async_wait_until(lambda: src.stats()["reconnects"] >= 4, 30, what="three failed reconnects",
                               show=src.stats)
        down = len(got)
        sim = SimulatorServer([RotatingMachine("m1", seed=2)], port=port)
        await sim.start()
        restarted = time.monotonic()
        await async_wait_until(lambda: len(got) > down, 30, what="data after the restart", show=src.stats)
        await sim.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return src, got, before, down, restarted

    src, got, before, down, restarted = asyncio.run(main())
    assert before > 5
    after = [t for t, _ in got[down:]]
    assert after, "no data after the server came back"
    # the back-off is capped at reconnect_max_s (2 s); the other 3 s allow connect, browse and
    # subscribe on a loaded 2-core machine
    assert after[0] - restarted < src.config.reconnect_max_s + 3.0
    assert src.stats()["connects"] == 2 and src.stats()["reconnects"] >= 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"url": "http://x", "asset": "a", "browse_path": "A"}, "must start with opc.tcp://"),
        ({"url": "opc.tcp://x", "asset": "a"}, "needs nodes in 'waveforms'/'scalars' or a 'browse_path'"),
        ({"url": "opc.tcp://x", "asset": "a", "waveforms": {"v": "n"}}, "needs 'rate' or 'rate_node'"),
        ({"url": "opc.tcp://x", "asset": "a", "browse_path": "A", "security_policy": "Basic128"},
         "security_policy 'Basic128' unknown"),
        ({"url": "opc.tcp://x", "asset": "a", "browse_path": "A", "security_policy": "Basic256Sha256"},
         "needs 'certificate' and 'private_key'"),
        ({"url": "opc.tcp://x", "asset": "a", "browse_path": "A", "username": "u"}, "both 'username' and 'password'"),
    ],
)
def test_config_errors_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OpcUaConfig(**kwargs)


def _self_signed(tmp_path, name: str):
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key, cert = tmp_path / f"{name}-key.pem", tmp_path / f"{name}-cert.der"
    use = ExtendedKeyUsageOID.SERVER_AUTH if name == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    asyncio.run(setup_self_signed_certificate(key, cert, f"urn:teachfab:{name}", "localhost", [use],
                                              {"commonName": f"teachfab-{name}"}))
    return str(cert), str(key)


def test_sign_and_encrypt_with_user_token(tmp_path):
    """Basic256Sha256 SignAndEncrypt plus username/password; wrong password never gets data."""
    server_cert, server_key = _self_signed(tmp_path, "server")
    client_cert, client_key = _self_signed(tmp_path, "client")

    async def main():
        async with SimulatorServer([RotatingMachine("m1")], port=0, certificate=server_cert,
                                   private_key=server_key, users={"edge-1": "s3cret"}) as sim:
            base = {**sim.source_config("m1"), "security_policy": "Basic256Sha256",
                    "security_mode": "SignAndEncrypt", "certificate": client_cert, "private_key": client_key}
            good = OpcUaSource(OpcUaConfig(**base, username="edge-1", password="s3cret"))
            bad = OpcUaSource(OpcUaConfig(**base, username="edge-1", password="wrong"))
            plain = OpcUaSource(OpcUaConfig(**sim.source_config("m1")))
            def refused(src):  # refused on connecting and again on a retry (or, wrongly, data or a connect)
                return lambda got: got or src.stats()["connects"] or src.stats()["reconnects"] >= 2

            return (await collect_samples(good, lambda got: any(s.channel == "vibration_de" for s in got),
                                          what="vibration over SignAndEncrypt"),
                    await collect_samples(bad, refused(bad), what="the wrong password refused twice"),
                    await collect_samples(plain, refused(plain), what="security mode None refused twice"),
                    bad.stats(), plain.stats())

    good, bad, plain, bad_stats, plain_stats = asyncio.run(main())
    assert any(s.channel == "vibration_de" for s in good)
    assert bad == [] and bad_stats["connects"] == 0 and bad_stats["reconnects"] >= 1
    assert plain == [] and plain_stats["connects"] == 0, "security mode None must be refused"
