"""The image page's reading of image configs: Dockerfile instructions from the history, layers
paired with the history entries that made them, and the run config, whatever shape the JSON has."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.hub.imageconfig import MAX_INSTRUCTION, instruction, layers, platform, run_config
from dockyard.registry.records import Descriptor


@pytest.mark.parametrize(
    ("created_by", "shown"),
    [
        ('/bin/sh -c #(nop)  CMD ["sh"]', 'CMD ["sh"]'),
        ("/bin/sh -c #(nop) ADD file:9a1b in / ", "ADD file:9a1b in /"),
        ("/bin/sh -c apk add --no-cache curl", "RUN apk add --no-cache curl"),
        ("|2 VERSION=1.2 TARGET=x /bin/sh -c make install", "RUN make install"),
        ("RUN /bin/sh -c make # buildkit", "RUN /bin/sh -c make"),
        ("COPY app /srv/app # buildkit", "COPY app /srv/app"),
        ("ENV A=b", "ENV A=b"),
    ],
)
def test_instructions_read_as_the_dockerfile_wrote_them(created_by: str, shown: str) -> None:
    assert instruction(created_by) == shown


def test_a_long_instruction_is_cut() -> None:
    shown = instruction("/bin/sh -c " + "x" * 10_000)
    assert len(shown) == MAX_INSTRUCTION and shown.endswith("…")


def _layer(n: int) -> Descriptor:
    return Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", f"sha256:{n:064x}", n * 100)


def test_layers_pair_with_the_entries_that_made_them() -> None:
    config = {
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:a in /"},
            {"created_by": "/bin/sh -c #(nop)  ENV X=1", "empty_layer": True},
            {"created_by": "/bin/sh -c make"},
        ]
    }
    found = layers(config, [_layer(1), _layer(2)])
    assert [(item.instruction, item.size) for item in found] == [
        ("ADD file:a in /", 100),
        ("ENV X=1", None),
        ("RUN make", 200),
    ]


def test_layers_without_history_are_listed_alone_and_extra_ones_follow() -> None:
    assert [item.size for item in layers(None, [_layer(1), _layer(2)])] == [100, 200]
    found = layers({"history": [{"created_by": "/bin/sh -c a"}]}, [_layer(1), _layer(2)])
    assert [(item.instruction, item.size) for item in found] == [("RUN a", 100), ("", 200)]


@pytest.mark.parametrize(
    "config",
    [
        {"history": "not a list"},
        {"history": [1, None, "x", {"created_by": 5}, {"empty_layer": "yes"}]},
        {"config": "nope"},
        {"config": {"Env": "A=b", "Cmd": 3, "ExposedPorts": ["80"], "Labels": {"a": 1, 2: "b"}}},
        {"config": {"Env": [1, "A=b"], "Entrypoint": "sh", "Labels": None}},
    ],
)
def test_configs_of_any_shape_are_read_without_error(config: dict[str, Any]) -> None:
    layers(config, [_layer(1)])
    settings = run_config(config)
    assert all(isinstance(e, str) for e in settings.env)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in settings.labels)


def test_the_run_config() -> None:
    settings = run_config(
        {
            "created": "2026-01-01T00:00:00Z",
            "config": {
                "Env": ["PATH=/bin"],
                "Entrypoint": ["/entry"],
                "Cmd": "serve",
                "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
                "Labels": {"b": "2", "a": "1"},
                "WorkingDir": "/srv",
                "User": "app",
            },
        }
    )
    assert (
        settings.env == ("PATH=/bin",) and settings.entrypoint == ("/entry",) and settings.cmd == ("serve",)
    )
    assert settings.exposed_ports == ("53/udp", "80/tcp")
    assert settings.labels == (("a", "1"), ("b", "2"))
    assert (settings.working_dir, settings.user, settings.created) == ("/srv", "app", "2026-01-01T00:00:00Z")
    assert platform({"os": "linux", "architecture": "arm64", "variant": "v8"}) == "linux/arm64/v8"
    assert platform({"architecture": "arm64"}) == ""
