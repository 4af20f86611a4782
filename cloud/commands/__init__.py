"""Commands to edges: signed with the hub's Ed25519 key and published on the edge's command topic."""
