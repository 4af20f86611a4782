"""MQTT contract v1 between edges and hubs: the one owner of the wire format.

- :mod:`contract.bounds` — timestamp bounds, name and segment patterns;
- :mod:`contract.topics` — topic names, builders and the parser;
- :mod:`contract.payloads` — payload models, the envelope, :func:`~contract.payloads.parse_message`;
- :mod:`contract.commands` — command models and the command result;
- :mod:`contract.signing` — Ed25519-signed bundles over canonical JSON;
- :mod:`contract.mqtt` — broker URLs and the paho client set-up.

The edge, the hub, the simulators and the MQTT-sensor adapter import these
rather than repeating a bound or a pattern; this package imports nothing
else of TeachFab.
"""
