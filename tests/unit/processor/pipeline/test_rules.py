"""The clustering rules: the code's revision and every setting that moves an item."""

from __future__ import annotations

from dataclasses import replace

from services.processor.pipeline import ClusterStage, PipelineConfig
from services.processor.pipeline.rules import REVISION, rules_of

CONFIG = PipelineConfig()


def test_a_setting_that_moves_items_changes_the_rules_and_an_operational_one_does_not() -> None:
    rules = rules_of(CONFIG)
    assert rules.startswith(f"{REVISION}-") and rules == rules_of(PipelineConfig())
    assert rules_of(replace(CONFIG, join_threshold=0.6)) != rules
    assert rules_of(replace(CONFIG, embed_batch_size=8, model_path="/a", onnx_path="/b")) == rules


def test_a_saved_state_carries_its_rules_back() -> None:
    saved = ClusterStage(replace(CONFIG, time_weight=0.3), 4).state()
    stage = ClusterStage(CONFIG, 4)
    stage.restore(saved)
    assert stage.restored_rules == saved["rules"] != stage.rules
    del saved["rules"]  # a state saved before the rules were
    stage.restore(saved)
    assert stage.restored_rules is None
