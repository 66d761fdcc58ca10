"""What ``tiffin runner NAME`` serves: the runner spec built from the YAML or ``--model``."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.config.schema import load_config
from app.process.launch import runner_spec


def runner_args(name: str, *, model: str | None = None) -> argparse.Namespace:
    """What ``tiffin runner NAME [--model TAG]`` parses to."""
    return argparse.Namespace(name=name, model=model, runnable=None, init_params=None)


def test_a_yaml_runners_threads_and_device_reach_its_spec(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text("runners:\n  m: {model: 'm:v1', threads: 3, device: cpu, batching: {max_batch_size: 8}}\n")
    config = load_config(yaml, env={})
    spec = runner_spec(config, runner_args("m"))
    assert (spec.model, spec.threads, spec.device, spec.batching.max_batch_size) == ("m:v1", 3, "cpu", 8)
    overridden = runner_spec(config, runner_args("m", model="other:v2"))  # --model: another tag, the same options
    assert (overridden.model, overridden.threads, overridden.device) == ("other:v2", 3, "cpu")
