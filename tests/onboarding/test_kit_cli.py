"""``teachfab kit create`` / ``revoke`` on the hub's own database: adapters check the mapping first."""

from __future__ import annotations

import pytest
import yaml

from cloud.database import make_engine, make_sessionmaker, upgrade_database
from cloud.settings import HubSettings
from cloud.sites import service as reg
from contract.kit import read_archive
from teachfab import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def hub_db(tmp_path, monkeypatch):
    db_path = tmp_path / "hub.sqlite"
    monkeypatch.setenv("TEACHFAB_HUB_DB_PATH", str(db_path))
    engine = make_engine(HubSettings(db_path=str(db_path)).resolved_domain_url())
    upgrade_database(engine)
    with make_sessionmaker(engine)() as db:
        reg.create_site(db, "plant-a", "Plant A", "sme")
        reg.create_asset(db, "plant-a", "fan-1")
    engine.dispose()
    return tmp_path


def test_kit_create_checks_sources_with_their_adapters_then_writes_the_archive(hub_db, capsys):
    spec = hub_db / "mapping.yaml"
    spec.write_text(yaml.safe_dump({"sources": [{"adapter": "serial_frame", "asset": "fan-1",
                                                 "options": {"port": "/dev/ttyUSB0"}}]}))
    assert cli.main(["kit", "create", "--site", "plant-a", "--edge", "gw-1", "--spec", str(spec)]) == 2
    assert "channels" in capsys.readouterr().err  # the serial_frame adapter's own complaint, before any kit exists
    spec.write_text(yaml.safe_dump({
        "sources": [{"adapter": "serial_frame", "asset": "fan-1", "options": {
            "port": "/dev/ttyUSB0", "channels": [{"name": "vibration_de", "index": 0, "units": "g"}]}}],
        "pipelines": {"fan-1": {"rpm": 1797, "bearing": "6205"}}}))
    out = hub_db / "kit.tar.gz"
    assert cli.main(["kit", "create", "--site", "plant-a", "--edge", "gw-1", "--spec", str(spec),
                     "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "broker user plant-a/gw-1/k1" in said and oct(out.stat().st_mode & 0o777) == "0o600"
    manifest, files = read_archive(out)
    cfg = yaml.safe_load(files["edge.yaml"])
    assert manifest["kit"] == 1 and cfg["sources"][0]["channels"][0]["name"] == "vibration_de"
    assert cfg["broker_username"] == "plant-a/gw-1/k1" and len(cfg["broker_password"]) >= 24
    assert cli.main(["kit", "revoke", "1"]) == 0 and "revoked" in capsys.readouterr().out
    assert cli.main(["kit", "revoke", "9"]) == 2 and "no kit 9" in capsys.readouterr().err


def test_altered_kit_is_refused(hub_db, tmp_path):
    spec = hub_db / "mapping.yaml"
    spec.write_text(yaml.safe_dump({"sources": [{"adapter": "opcua", "asset": "fan-1",
                                                 "options": {"url": "opc.tcp://127.0.0.1:4840/", "browse_path": "Assets/fan-1"}}]}))
    out = hub_db / "kit.tar.gz"
    assert cli.main(["kit", "create", "--site", "plant-a", "--edge", "gw-2", "--spec", str(spec),
                     "--out", str(out)]) == 0
    import io
    import tarfile
    with tarfile.open(out) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["kit/edge.yaml"] = members["kit/edge.yaml"].replace(b"gw-2", b"gw-X")
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match="edge.yaml does not match its SHA-256"):
        read_archive(forged)
    with pytest.raises(ValueError, match="not a readable kit archive"):
        read_archive(spec)
